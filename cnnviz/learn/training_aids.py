"""Batch normalisation and dropout, shown on real activations.

Batch norm in training mode standardises each channel with the batch's own mean and variance; dropout in
training mode zeroes a random fraction p of values and scales the rest by 1/(1−p), and does nothing in
evaluation mode. Both are computed with PyTorch's own functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from cnnviz.training.seeding import dropout_noise


def batch_normalised(acts: Tensor, eps: float = 1e-5) -> Tensor:
    """``acts`` (N, C, H, W) normalised per channel over the batch as ``nn.BatchNorm2d`` does in training
    mode, before its learned scale (1) and shift (0)."""
    if acts.dim() != 4 or len(acts) < 2:
        raise ValueError("batch norm needs a batch of at least 2, shaped (N, C, H, W).")
    return F.batch_norm(acts, None, None, training=True, eps=eps)


@dataclass(frozen=True)
class Dropped:
    """Dropout applied to one tensor: training mode's output, the mask of kept values, and evaluation's."""

    train: Tensor
    kept: Tensor
    eval: Tensor

    @property
    def kept_fraction(self) -> float:
        return float(self.kept.float().mean())


def dropout(values: Tensor, p: float, seed: int = 0) -> Dropped:
    """Dropout of ``values`` with probability ``p`` in training and in evaluation mode: the mask drawn from a
    generator of ``seed`` (the draws ``F.dropout`` makes after ``torch.manual_seed(seed)``), never the process's."""
    if not 0.0 <= p < 1.0:
        raise ValueError("the dropout probability must be in [0, 1).")
    noise = dropout_noise(values, p, torch.Generator().manual_seed(seed))
    return Dropped(values * noise, noise != 0, F.dropout(values, p, training=False))
