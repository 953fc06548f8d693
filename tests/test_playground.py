"""cnnviz.training.playground: the configurable network, background training with stop and resume, evaluation."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.data.shapes import CLASSES, generate
from cnnviz.server.jobs import ServerBusy, WorkQueue
from cnnviz.training.playground import QUICK, NetConfig, RunConfig, Trainer, build_model
from cnnviz.training.tensors import channel_stats, to_tensor
from tests.reference import hook_count

SMALL = RunConfig(NetConfig(blocks=2, channels=8), steps=30, train_size=400, held_out_size=100)


@pytest.mark.parametrize(
    "net",
    [
        NetConfig(),
        NetConfig(blocks=1, channels=4, kernel_size=5, pooling="avg", dropout=0.3, batch_norm=False),
        NetConfig(blocks=4, channels=32),
    ],
)
def test_build_model_follows_the_config(net):
    model = build_model(net)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 2 * net.blocks and convs[0].out_channels == net.channels
    assert all(c.kernel_size == (net.kernel_size,) * 2 for c in convs)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == net.batch_norm
    assert any(isinstance(m, nn.Dropout) for m in model.modules()) == bool(net.dropout)
    pool = nn.MaxPool2d if net.pooling == "max" else nn.AvgPool2d
    assert sum(isinstance(m, pool) for m in model.modules()) == net.blocks
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, len(CLASSES))
    assert "features.conv_1_1" in dict(model.named_modules())


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (RunConfig(NetConfig(blocks=5)), "blocks"),
        (RunConfig(NetConfig(kernel_size=4)), "kernel"),
        (RunConfig(learning_rate=5.0), "learning rate"),
        (RunConfig(batch_size=2), "batch size"),
        (RunConfig(steps=0), "steps"),
    ],
)
def test_impossible_settings_are_refused(config, message):
    with pytest.raises(ValueError, match=message):
        Trainer(config)


@pytest.mark.slow
def test_training_runs_in_the_background_and_learns_something():
    trainer = Trainer(SMALL)
    before = trainer.snapshot().first_filters
    trainer.start()
    assert trainer.wait(timeout=120) == "done"
    snap = trainer.snapshot()
    assert snap.step == 30 and len(snap.history) == 30 and "held_out_accuracy" in snap.history[-1]
    assert not np.array_equal(before, snap.first_filters)  # the filters changed as it learned
    evaluation = trainer.evaluate()
    assert evaluation.confusion.sum() == 100 and np.trace(evaluation.confusion) == round(evaluation.accuracy * 100)
    assert len(evaluation.misclassified) == 100 - np.trace(evaluation.confusion)
    assert all(t != p for _, t, p in evaluation.misclassified)
    trainer.start()  # done: starting again does nothing
    assert trainer.wait() == "done" and trainer.snapshot().step == 30


@pytest.mark.slow
def test_stop_and_resume_continue_the_same_run():
    trainer = Trainer(RunConfig(NetConfig(blocks=2, channels=8), steps=400, train_size=400, held_out_size=50))
    trainer.start()
    deadline = time.monotonic() + 120
    while trainer.snapshot().step < 5:
        assert time.monotonic() < deadline, "no 5 steps in two minutes"
        time.sleep(0.01)
    trainer.stop()
    assert trainer.wait(timeout=60) == "stopped"
    paused_at = trainer.snapshot().step
    assert 5 <= paused_at < 400
    trainer.start()
    assert trainer.wait(timeout=300) == "done"
    snap = trainer.snapshot()
    assert snap.step == 400 and [h["step"] for h in snap.history] == list(range(1, 401))
    assert hook_count(trainer.model) == 0


@pytest.mark.parametrize(("when", "train_size", "grace_s"), [("training", 400, 1.0), ("making its data", 6000, 0.1)])
@pytest.mark.slow
def test_a_training_whose_session_left_stops_within_seconds(when, train_size, grace_s):
    """The issue's three abandoned trainings kept two cores busy with nobody connected. Making 6000 images takes
    15–30 s here: the data is made in chunks, so a training abandoned meanwhile need not finish making it."""
    here = threading.Event()
    here.set()
    config = RunConfig(NetConfig(blocks=2, channels=8), steps=5000, train_size=train_size, held_out_size=50)
    trainer = Trainer(config, alive=here.is_set, grace_s=grace_s)
    trainer.start()
    first_steps = 3 if when == "training" else 0
    deadline = time.monotonic() + 60
    while trainer.snapshot().step < first_steps and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    here.clear()  # the browser tab is closed
    left = time.monotonic()
    assert trainer.wait(timeout=30) == "stopped"
    assert time.monotonic() - left < grace_s + 5.0  # the grace period and one step or one chunk of data
    snap = trainer.snapshot()
    assert snap.abandoned and (3 <= snap.step < 5000 if when == "training" else snap.step == 0)


@pytest.mark.slow
def test_data_made_in_chunks_is_the_dataset():
    trainer = Trainer(RunConfig(NetConfig(blocks=1, channels=4), steps=1, train_size=1100, held_out_size=10))
    trainer._prepare()
    whole = generate(1100, 0)
    x, y = trainer._data
    assert torch.equal(y, torch.from_numpy(whole.labels))
    mean, std = channel_stats(whole.images)
    torch.testing.assert_close(x, to_tensor(whole.images, mean, std), rtol=0, atol=0)


def test_a_queued_training_whose_session_left_leaves_the_line():
    queue = WorkQueue("trainings", workers=1, max_waiting=1, poll_s=0.05)
    busy = queue.join()  # another session's training holds the only worker
    here = threading.Event()
    here.set()
    trainer = Trainer(SMALL, alive=here.is_set, grace_s=0.2, queue=queue)
    trainer.start()
    assert trainer.state == "queued" and queue.counts() == (1, 1)
    with pytest.raises(ServerBusy, match="1 trainings running and 1 waiting"):
        Trainer(SMALL, queue=queue).start()
    here.clear()
    assert trainer.wait(timeout=10) == "stopped"
    snap = trainer.snapshot()
    assert snap.abandoned and snap.step == 0 and queue.counts() == (1, 0)
    waiting = Trainer(SMALL, queue=queue)  # stopped by its own session while in line: not abandoned
    waiting.start()
    waiting.stop()
    assert waiting.wait(timeout=10) == "stopped" and not waiting.snapshot().abandoned
    assert queue.counts() == (1, 0)
    queue.leave(busy)


@pytest.mark.slow
def test_default_settings_reach_90_percent_within_the_default_budget():
    trainer = Trainer(RunConfig())
    trainer.start()
    assert trainer.wait(timeout=900) == "done"
    assert trainer.evaluate().accuracy >= 0.90  # on 1000 held-out images of an unseen seed


@pytest.mark.slow
def test_making_the_data_reports_its_progress():
    trainer = Trainer(RunConfig(NetConfig(blocks=1, channels=4), steps=1, train_size=1100, held_out_size=10))
    seen = []
    trainer._prepare(lambda: seen.append(trainer.snapshot().images_made) or True)
    assert seen == [0, 250, 500, 750, 1000]  # before each chunk of 250 (playground._DATA_CHUNK)
    snap = trainer.snapshot()
    assert (snap.images_made, snap.images_total, snap.step) == (1110, 1110, 0)


@pytest.mark.slow
def test_the_quick_preset_learns_within_its_budget():
    trainer = Trainer(QUICK)
    trainer.start()
    assert trainer.wait(timeout=600) == "done"
    assert trainer.evaluate().accuracy >= 0.7  # 14 classes: chance is 7%


def test_a_trainer_leaves_the_process_random_state_alone():
    """Every session makes trainers; none may reseed the RNG that other sessions' code draws from."""
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = Trainer(SMALL)
    assert torch.equal(torch.rand(3), expected)  # as if no trainer had been made
    second = Trainer(SMALL)  # the seed still decides the initial weights
    for a, b in zip(first.model.parameters(), second.model.parameters(), strict=True):
        assert torch.equal(a, b)
