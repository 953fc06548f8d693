"""A linear probe: a logistic-regression head trained on frozen backbone features (computed once), with its
learning curves, and how it does on the held-out images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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


CrossCheck = Literal["leave-one-out", "5-fold", "off"]
"""How the linear probe is also checked on every image, not only the held-out few."""
CROSS_CHECKS: dict[CrossCheck, str] = {
    "leave-one-out": "Leave-one-out (every image, by a probe trained on all the others)",
    "5-fold": "5-fold cross-validation",
    "off": "Held-out images only",
}
LEAVE_ONE_OUT_UP_TO = 60
"""Up to this many images, leave-one-out is the default cross-check (one probe per image: cheap on cached
features, about a second per 20 images); above it, 5-fold."""


def default_cross_check(images: int) -> CrossCheck:
    """Leave-one-out for a small set of images, 5-fold for a larger one."""
    return "leave-one-out" if images <= LEAVE_ONE_OUT_UP_TO else "5-fold"


def stratified_folds(labels: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """The fold (0 … ``folds`` − 1) of each image: every class dealt out in turn over the folds after a shuffle
    with ``seed``, so each fold holds about the same share of every class."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    start = 0
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        fold[members] = (start + np.arange(len(members))) % folds
        start += len(members)  # the next class starts where this one stopped: folds stay balanced in size
    return fold


@dataclass(frozen=True)
class CrossValidation:
    """Each image's label as predicted by a probe that never saw it (trained on the other folds)."""

    method: CrossCheck
    folds: int
    truth: np.ndarray
    predicted: np.ndarray

    @property
    def correct(self) -> int:
        return int((self.truth == self.predicted).sum())

    @property
    def total(self) -> int:
        return len(self.truth)

    @property
    def accuracy(self) -> float:
        return self.correct / max(self.total, 1)

    def summary(self) -> str:
        """One plain sentence: what was done and how it came out (then :func:`accuracy_note` for its interval)."""
        how = (
            f"each of the {self.total} images checked by a probe trained on the other {self.total - 1}"
            if self.method == "leave-one-out"
            else f"the {self.total} images in {self.folds} folds, each checked by a probe trained on the other folds"
        )
        return f"Cross-validated ({self.method}): {self.accuracy:.0%}, {how}."


def cross_validate(
    table: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    method: CrossCheck = "leave-one-out",
    seed: int = 0,
    steps: int = 150,
    progress: Progress | None = None,
) -> CrossValidation:
    """Leave-one-out or stratified 5-fold cross-validation of :func:`train_probe` on features already computed
    (``table``, one row per image): one probe per fold, each trained exactly as the page's probe is, on the
    images outside the fold, predicting those inside. ``progress(done, folds)`` after each fold (it may raise to
    stop)."""
    if method == "off":
        raise ValueError("cross-validation is off")
    truth = labels.numpy()
    fold = np.arange(len(truth)) if method == "leave-one-out" else stratified_folds(truth, 5, seed)
    count = int(fold.max()) + 1
    predicted = np.empty_like(truth)
    for f in range(count):
        inside = torch.from_numpy(fold == f)
        probe = train_probe(
            table[~inside], labels[~inside], table[inside], labels[inside], num_classes, steps, seed=seed, every=steps
        )
        with torch.no_grad():
            predicted[inside.numpy()] = probe.head(table[inside]).argmax(1).numpy()
        if progress:
            progress(f + 1, count)
    return CrossValidation(method, count, truth, predicted)
