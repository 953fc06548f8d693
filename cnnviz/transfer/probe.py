"""A linear probe: a logistic-regression head trained on frozen backbone features (computed once), with its
learning curves, and how it does on the held-out images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.progress import Progress
from cnnviz.training.loop import Optimisation, fit, share_correct
from cnnviz.training.seeding import seeded


@dataclass
class Probe:
    """The trained head (for raw features) and one history entry per evaluation, as the training charts take
    them: step, loss, batch_accuracy (the training images) and held_out_accuracy."""

    head: nn.Linear
    history: list[dict[str, float]]


def train_probe(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    num_classes: int,
    steps: int = 150,
    learning_rate: float = 0.05,
    weight_decay: float = 1e-2,
    seed: int = 0,
    every: int = 5,
    progress: Progress | None = None,
) -> Probe:
    """Full-batch AdamW (one-cycle) on cross-entropy over standardised features; the standardisation is folded
    into the returned head, which therefore takes the backbone's features as they are."""
    mean, std = train_x.mean(0), train_x.std(0)
    # A feature that (nearly) never varies among the training images teaches nothing; standardised, a held-out
    # image's value of it would be blown up to noise (EfficientNet-Lite0's ReLU6 leaves many features at 0 on a few
    # images). It is left out: an infinite scale makes its standardised value, and its folded weight, zero.
    std = torch.where(std > 1e-3 * std.max().clamp_min(1e-12), std, torch.full_like(std, torch.inf))
    z_train, z_test = (train_x - mean) / std, (test_x - mean) / std
    head = seeded(lambda: nn.Linear(train_x.shape[1], num_classes), torch.Generator().manual_seed(seed))
    optimisation = Optimisation(head, learning_rate, weight_decay, steps)

    def step_loss(_step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits = head(z_train)  # every training image at each step
        return F.cross_entropy(logits, train_y), logits, train_y

    def held_out() -> float:
        with torch.no_grad():
            return share_correct(test_y, head(z_test).argmax(1))

    history = fit(
        head,
        optimisation,
        step_loss,
        steps,
        held_out=held_out,
        evaluate_every=every,
        record_every=every,
        on_step=progress and (lambda entry: progress(int(entry["step"]), steps)),
    ).history
    folded = nn.Linear(train_x.shape[1], num_classes)
    with torch.no_grad():
        folded.weight.copy_(head.weight / std)
        folded.bias.copy_(head.bias - folded.weight @ mean)
    return Probe(folded.requires_grad_(False), history)


def pca_2d(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """The first two principal components of each row (centred; signs fixed so the largest loading is positive)."""
    x = np.asarray(values, dtype=np.float64)
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    components = vt[:2]
    largest = components[np.arange(len(components)), np.argmax(np.abs(components), axis=1)]
    return x @ (components * np.sign(largest)[:, None]).T


FEW_HELD_OUT = 10
"""Under this many held-out images, an accuracy says almost nothing: the page says so."""


def wilson_interval(correct: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval (95 % by default) of a proportion of ``correct`` out of ``total``: where the true
    accuracy plausibly lies given so few checks (unlike the plain ±, it stays inside [0, 1] and works at 0 and n)."""
    if total <= 0:
        return 0.0, 1.0
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def accuracy_note(correct: int, total: int) -> str:
    """The held-out accuracy with its 95 % interval, and a plain warning when there are few images (plain text)."""
    low, high = wilson_interval(correct, total)
    note = f"{correct} of {total} correct; 95 % interval {low:.0%} to {high:.0%}."
    if total < FEW_HELD_OUT:
        note += (
            f" {total} held-out images measure almost nothing: one image more or less right moves the accuracy by "
            f"{1 / max(total, 1):.0%}. Add images to every class for a figure that means something."
        )
    return note
