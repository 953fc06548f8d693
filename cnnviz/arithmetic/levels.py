"""Colour levels of a grid of numbers: the one scale the browser player and the GIF both colour cells by."""

from __future__ import annotations

import numpy as np


def value_range(values: np.ndarray) -> tuple[float, float]:
    """The smallest and largest finite value, or (0, 1) when there is none."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


def colour_levels(
    values: np.ndarray, count: int, lo: float | None = None, hi: float | None = None, signed: bool = False
) -> np.ndarray:
    """Level 0 … ``count`` − 1 of each value on a scale from ``lo`` to ``hi`` (the values' own range when not
    given; symmetric about 0 when ``signed``, so zero is the middle level); −1 where a value is NaN (blank)."""
    v = np.asarray(values, dtype=np.float64)
    if lo is None or hi is None:
        lo, hi = value_range(v)
    if signed:
        top = max(abs(lo), abs(hi)) or 1.0
        lo, hi = -top, top
    span = hi - lo if hi > lo else 1.0
    scaled = (np.nan_to_num(v, nan=lo, neginf=lo, posinf=hi) - lo) / span
    levels = np.clip(np.rint(scaled * (count - 1)), 0, count - 1).astype(int)
    return np.where(np.isnan(v), -1, levels)
