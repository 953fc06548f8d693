"""Images as normalised tensors: per-channel statistics and the conversion."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def channel_stats(images: np.ndarray, chunk: int = 1000) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of uint8 images ``(N, H, W, 3)`` in [0, 1], to 4 decimals."""
    total, squares, count = np.zeros(3), np.zeros(3), 0
    for i in range(0, len(images), chunk):
        part = images[i : i + chunk].reshape(-1, 3).astype(np.float64) / 255
        total += part.sum(axis=0)
        squares += (part * part).sum(axis=0)
        count += len(part)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean * mean, 1e-12))
    return [round(float(m), 4) for m in mean], [round(float(s), 4) for s in std]


def to_tensor(images: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 images ``(N, H, W, 3)`` to a normalised float batch ``(N, 3, H, W)``."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255)
    return x.sub_(torch.tensor(mean).view(1, 3, 1, 1)).div_(torch.tensor(std).view(1, 3, 1, 1))
