"""cnnviz.training.loop.fit, the one training loop: against a plain PyTorch loop written out here, with its stop,
its resumption, its held-out evaluations and the modes it leaves the model in."""

from __future__ import annotations

import contextlib
import copy

import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.training.loop import Optimisation, fit


def _problem():
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 5, generator=generator), torch.randint(0, 3, (64,), generator=generator)
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    return x, y, model


def _step_loss(model, x, y):
    def step_loss(step: int):
        batch = slice((step * 16) % 64, (step * 16) % 64 + 16)
        logits = model(x[batch])
        return F.cross_entropy(logits, y[batch]), logits, y[batch]

    return step_loss


def test_fit_is_the_plain_loop_and_resumes_where_it_stopped():
    x, y, reference = _problem()
    model = copy.deepcopy(reference)
    optimiser = torch.optim.AdamW(reference.parameters(), lr=0.05, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=0.05, total_steps=10)
    losses = []
    for step in range(1, 11):  # written out as PyTorch's documentation does
        reference.train()
        batch = slice((step * 16) % 64, (step * 16) % 64 + 16)
        loss = F.cross_entropy(reference(x[batch]), y[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())

    optimisation = Optimisation(model, 0.05, 1e-4, 10)
    asked: list[int] = []
    first = fit(model, optimisation, _step_loss(model, x, y), 10, keep_going=lambda: asked.append(0) or len(asked) <= 3)
    assert (first.step, first.stopped) == (3, True) and [e["step"] for e in first.history] == [1, 2, 3]
    seen_in_guard, entries = [], []

    @contextlib.contextmanager
    def guard():
        seen_in_guard.append(True)
        yield

    rest = fit(
        model,
        optimisation,
        _step_loss(model, x, y),
        10,
        start=first.step,
        held_out=lambda: float(model.training is False),  # evaluated with the model in eval mode
        evaluate_every=3,
        record_every=5,
        on_step=entries.append,
        guard=guard,
    )
    assert (rest.step, rest.stopped) == (10, False) and len(seen_in_guard) == 7
    assert [e["step"] for e in entries] == list(range(4, 11))
    assert [e["step"] for e in rest.history] == [5, 6, 9, 10]  # every 5th, every evaluation, and the last
    assert [e["step"] for e in entries if "held_out_accuracy" in e] == [6, 9, 10]
    assert all(e["held_out_accuracy"] == 1.0 for e in rest.history if "held_out_accuracy" in e)
    got = [e["loss"] for e in first.history] + [e["loss"] for e in entries]
    torch.testing.assert_close(torch.tensor(got), torch.tensor(losses))
    for ours, theirs in zip(model.state_dict().values(), reference.state_dict().values(), strict=True):
        torch.testing.assert_close(ours, theirs)
    assert not model.training  # left in eval mode


def test_fit_trains_only_the_modules_it_is_given():
    x, y, model = _problem()
    modes = []

    def step_loss(step: int):
        modes.append((model[0].training, model[1].training, model[3].training))
        return _step_loss(model, x, y)(step)

    fit(model.eval(), Optimisation(model, 0.01, 0.0, 2), step_loss, 2, trained=[model[3]])
    assert modes == [(False, False, True)] * 2 and not model[3].training
