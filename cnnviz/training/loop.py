"""The one training step and the one evaluation every cnnviz network uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from cnnviz.models.sharing import in_use


def predicted_labels(model: nn.Module, x: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    """The class ``model`` gives each image of the normalised batch ``x`` (in eval mode, the model left as found)."""
    with in_use(model):
        return torch.cat([model(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])


def share_correct(truth: torch.Tensor | np.ndarray, predicted: torch.Tensor | np.ndarray) -> float:
    """The accuracy of ``predicted`` labels against ``truth``: how every cnnviz accuracy is computed (0 when empty)."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    return float((truth == predicted).sum()) / max(len(truth), 1)


def confusion(truth: torch.Tensor | np.ndarray, predicted: torch.Tensor | np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of true (rows) against predicted (columns) labels."""
    cells = np.asarray(truth, dtype=np.int64) * num_classes + np.asarray(predicted, dtype=np.int64)
    return np.bincount(cells, minlength=num_classes**2).reshape(num_classes, num_classes)


@dataclass(frozen=True)
class Evaluation:
    """Held-out results: the accuracy, the confusion matrix (true × predicted) and the labels themselves."""

    accuracy: float
    confusion: np.ndarray
    truth: np.ndarray
    predicted: np.ndarray

    @property
    def misclassified(self) -> list[tuple[int, int, int]]:
        """(index, true, predicted) of each image given the wrong class, in order."""
        wrong = np.flatnonzero(self.truth != self.predicted)
        return [(int(i), int(self.truth[i]), int(self.predicted[i])) for i in wrong]


def evaluation(truth: torch.Tensor | np.ndarray, predicted: torch.Tensor | np.ndarray, num_classes: int) -> Evaluation:
    """The :class:`Evaluation` of ``predicted`` labels against ``truth``."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    return Evaluation(share_correct(truth, predicted), confusion(truth, predicted, num_classes), truth, predicted)


def evaluate(model: nn.Module, x: torch.Tensor, labels: torch.Tensor | np.ndarray, num_classes: int) -> Evaluation:
    """How ``model`` classifies the normalised batch ``x`` against ``labels`` (in eval mode, left as found)."""
    return evaluation(labels, predicted_labels(model, x).numpy(), num_classes)


def accuracy(model: nn.Module, x: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``x`` (a normalised batch) that ``model`` classifies as ``labels``."""
    return share_correct(labels, predicted_labels(model, x))


class Optimisation:
    """How every cnnviz network is trained: AdamW with a one-cycle learning-rate schedule over ``total_steps``."""

    def __init__(self, model: nn.Module, learning_rate: float, weight_decay: float, total_steps: int) -> None:
        self.model = model
        self.optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
        self.schedule = torch.optim.lr_scheduler.OneCycleLR(
            self.optimiser, max_lr=learning_rate, total_steps=total_steps
        )

    def step(self, loss: torch.Tensor) -> None:
        """One update from ``loss`` (computed with the model in train mode): its gradients, the optimiser's step
        and the schedule's."""
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        self.schedule.step()


StepLoss = Callable[[int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
"""``step_loss(step)``: one step's training loss, its logits and their labels, computed with the trained modules in
train mode (``step`` counts from 1)."""


@dataclass
class Fit:
    """What :func:`fit` did: the steps run (counted from the start of training), the history it kept (one entry per
    ``record_every`` steps and at evaluations: step, loss, batch_accuracy, and held_out_accuracy where evaluated, as
    the training charts take them), and whether it stopped before its last step."""

    step: int
    history: list[dict[str, float]] = field(default_factory=list)
    stopped: bool = False


def fit(
    model: nn.Module,
    optimisation: Optimisation,
    step_loss: StepLoss,
    steps: int,
    *,
    start: int = 0,
    trained: Iterable[nn.Module] | None = None,
    held_out: Callable[[], float] | None = None,
    evaluate_every: int = 1,
    record_every: int = 1,
    on_step: Callable[[dict[str, float]], None] | None = None,
    keep_going: Callable[[], bool] = lambda: True,
    guard: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> Fit:
    """The one training loop of cnnviz (the embedded model's trainer, the playground, the linear probe and
    fine-tuning): steps ``start + 1`` to ``steps``, each asking ``keep_going()`` first, then ``step_loss(step)``
    with ``trained`` (default: the whole model) in train mode, the optimiser's step, and the model back in eval mode,
    all inside ``guard()`` (a lock others read the model under). Every ``evaluate_every`` steps and at the last one,
    ``held_out()`` (outside the guard) is the held-out accuracy. ``on_step(entry)`` sees every step's entry."""
    modules = [model] if trained is None else list(trained)
    done = Fit(start)
    for step in range(start + 1, steps + 1):
        if not keep_going():
            done.stopped = True
            break
        with guard():
            for module in modules:
                module.train()
            loss, logits, labels = step_loss(step)
            optimisation.step(loss)
            model.eval()
        entry = {
            "step": step,
            "loss": float(loss.detach()),
            "batch_accuracy": share_correct(labels, logits.detach().argmax(1)),
        }
        if held_out is not None and (step % evaluate_every == 0 or step == steps):
            entry["held_out_accuracy"] = held_out()
        if "held_out_accuracy" in entry or step % record_every == 0 or step == steps:
            done.history.append(entry)
        done.step = step
        if on_step is not None:
            on_step(entry)
    return done
