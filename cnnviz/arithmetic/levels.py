"""Colour levels of a grid of numbers and the palettes they index: the one colouring of the browser player,
the Plotly figure and the GIF."""

from __future__ import annotations

import numpy as np
from plotly.colors import sample_colorscale, unlabel_rgb

LEVELS = 32
"""Colour levels per palette."""
PALETTES: dict[str, list[str]] = {
    name: sample_colorscale(scale, [start + 0.8 * i / (LEVELS - 1) for i in range(LEVELS)], colortype="rgb")
    for name, scale, start in (("input", "Blues", 0.08), ("output", "Greens", 0.08), ("signed", "RdBu", 0.1))
}
"""Each palette's colours, ``rgb(r, g, b)`` strings, level 0 first."""
DARK_LEVELS = {"input": (LEVELS * 0.55, LEVELS), "output": (LEVELS * 0.6, LEVELS), "signed": (0, 0)}
"""The levels on which text is written in white: (from, to), or, for the signed palette, far from its middle."""


def is_dark(palette: str, level: int) -> bool:
    """Whether a cell of ``level`` in ``palette`` needs light text (as the browser player decides)."""
    if palette == "signed":
        return abs(level - (LEVELS - 1) / 2) > LEVELS * 0.3
    low, high = DARK_LEVELS[palette]
    return low <= level < high


def rgb(palette: str, level: int) -> tuple[int, int, int]:
    """Level ``level`` of ``palette`` as integer RGB."""
    r, g, b = unlabel_rgb(PALETTES[palette][level])
    return round(r), round(g), round(b)


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
    lo, span = _scale(v, lo, hi, signed)
    scaled = (np.nan_to_num(v, nan=lo, neginf=lo, posinf=lo + span) - lo) / span
    levels = np.clip(np.floor(scaled * (count - 1) + 0.5), 0, count - 1).astype(int)  # halves round up
    return np.where(np.isnan(v), -1, levels)


def _scale(v: np.ndarray, lo: float | None, hi: float | None, signed: bool) -> tuple[float, float]:
    if lo is None or hi is None:
        lo, hi = value_range(v)
    if signed:
        top = max(abs(lo), abs(hi)) or 1.0
        lo, hi = -top, top
    return lo, (hi - lo if hi > lo else 1.0)


def band_range(count: int, lo: float, hi: float, signed: bool = False) -> tuple[float, float]:
    """``zmin`` and ``zmax`` for which a colour scale of ``count`` equal flat bands colours each value with the
    band of its :func:`colour_levels` level (a value half-way between two levels goes up, as there)."""
    lo, span = _scale(np.zeros(0), lo, hi, signed)
    unit = span / (count - 1)
    zmin = lo - (0.5 + 1e-6) * unit
    return zmin, zmin + count * unit
