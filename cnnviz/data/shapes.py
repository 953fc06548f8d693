"""Procedural dataset of shapes and textures, each sample with its object mask.

Every sample is a pure function of ``(seed, index)``: the same pair always gives the same image, mask
and label, on any machine, so training and evaluation sets are reproducible without any download.
Classes cycle with the index, so any contiguous run of ``len(CLASSES)`` samples is balanced.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CLASSES: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "star",
    "cross",
    "ring",
    "crescent",
    "stripes",
    "checkerboard",
    "dots",
)
"""Class names, in label order. The last three are textures filling a disc, ellipse or square."""

IMAGE_SIZE = 64
_SUPERSAMPLE = 2  # membership is computed on a finer grid and averaged: anti-aliased edges


@dataclass(frozen=True)
class Sample:
    """One synthetic image with its label and the object's mask."""

    image: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) bool, True on the object
    label: int


@dataclass(frozen=True)
class Batch:
    """Many samples stacked: images (N, H, W, 3) uint8, masks (N, H, W) bool, labels (N,) int64."""

    images: np.ndarray
    masks: np.ndarray
    labels: np.ndarray


def _polygon(u: np.ndarray, v: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test of the points (u, v) against a closed polygon."""
    inside = np.zeros(u.shape, dtype=bool)
    x0, y0 = vertices[-1]
    for x1, y1 in vertices:
        crosses = (y1 > v) != (y0 > v)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x0 + (v - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (u < x_at)
        x0, y0 = x1, y1
    return inside


def _regular(n: int, radius: float, phase: float) -> np.ndarray:
    angles = phase + 2 * math.pi * np.arange(n) / n
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


_STAR = np.concatenate(
    [_regular(5, 1.0, -math.pi / 2)[:, None], _regular(5, 0.45, -math.pi / 2 + math.pi / 5)[:, None]],
    axis=1,
).reshape(-1, 2)
_CROSS = np.array(
    [
        (0.3, 0.95),
        (0.3, 0.3),
        (0.95, 0.3),
        (0.95, -0.3),
        (0.3, -0.3),
        (0.3, -0.95),
        (-0.3, -0.95),
        (-0.3, -0.3),
        (-0.95, -0.3),
        (-0.95, 0.3),
        (-0.3, 0.3),
        (-0.3, 0.95),
    ]
)
_TRIANGLE = _regular(3, 1.0, -math.pi / 2)
_SQUARE = np.array([(0.72, 0.72), (0.72, -0.72), (-0.72, -0.72), (-0.72, 0.72)])


def _shape_region(name: str, u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Where a solid shape lies, in object coordinates (its bounding circle has radius about 1)."""
    r2 = u * u + v * v
    if name == "circle":
        return r2 <= 0.9**2
    if name == "square":
        return _polygon(u, v, _SQUARE)
    if name == "triangle":
        return _polygon(u, v, _TRIANGLE)
    if name == "star":
        return _polygon(u, v, _STAR)
    if name == "cross":
        return _polygon(u, v, _CROSS)
    if name == "ring":
        inner = rng.uniform(0.45, 0.6)
        return (r2 <= 0.95**2) & (r2 >= inner**2)
    if name == "crescent":
        shift = rng.uniform(0.4, 0.55)
        return (r2 <= 0.95**2) & ((u - shift) ** 2 + v * v > 0.8**2)
    raise ValueError(f"unknown shape {name!r}")


def _texture_region(u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The outline a texture fills: a disc, an ellipse or a square, chosen at random."""
    kind = rng.integers(3)
    if kind == 0:
        return u * u + v * v <= 0.9**2
    if kind == 1:
        a, b = rng.uniform(0.8, 0.95), rng.uniform(0.55, 0.75)
        return (u / a) ** 2 + (v / b) ** 2 <= 1
    return np.maximum(np.abs(u), np.abs(v)) <= 0.75


def _texture_pattern(name: str, u: np.ndarray, v: np.ndarray, radius_px: float, rng: np.random.Generator) -> np.ndarray:
    """Which points of the region take the second colour, for the texture classes."""
    # Cycles per object radius, keeping each period at least about 4.5 px so it never aliases.
    top = max(2.2, min(4.0, radius_px / 4.5))
    freq = rng.uniform(2.0, top)
    if name == "stripes":
        return np.sin(2 * math.pi * freq * u) > 0
    if name == "checkerboard":
        freq = freq * 0.75
        return (np.floor(u * freq) + np.floor(v * freq)) % 2 == 0
    if name == "dots":
        fu, fv = (u * freq) % 1 - 0.5, (v * freq) % 1 - 0.5
        return fu * fu + fv * fv < 0.3**2
    raise ValueError(f"unknown texture {name!r}")


def _luminance(rgb: np.ndarray) -> float:
    return float(rgb @ np.array([0.299, 0.587, 0.114]))


def _contrasting(rng: np.random.Generator, against: list[np.ndarray], min_distance: float) -> np.ndarray:
    """A random RGB colour (floats in [0, 1]) that differs clearly from each of ``against``."""
    while True:
        colour = rng.uniform(0, 1, 3)
        if all(
            np.linalg.norm(colour - other) >= min_distance and abs(_luminance(colour) - _luminance(other)) >= 0.12
            for other in against
        ):
            return colour


def _coverage(inside: Callable[[np.ndarray, np.ndarray], np.ndarray], xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Average a membership test over the supersampled grid: the share of each pixel covered."""
    s = _SUPERSAMPLE
    h, w = ys.shape[0] // s, xs.shape[1] // s
    return inside(xs, ys).reshape(h, s, w, s).mean(axis=(1, 3))


def make_sample(seed: int, index: int, size: int = IMAGE_SIZE) -> Sample:
    """Generate sample ``index`` of the dataset with ``seed``: label ``index % len(CLASSES)``."""
    rng = np.random.default_rng([seed, index])
    label = index % len(CLASSES)
    name = CLASSES[label]

    # Pixel-centre coordinates on the supersampled grid.
    step = 1 / _SUPERSAMPLE
    axis = (np.arange(size * _SUPERSAMPLE) + 0.5) * step
    xs, ys = np.meshgrid(axis, axis)

    # Background: a linear gradient between two colours.
    bg_a = rng.uniform(0, 1, 3)
    bg_b = np.clip(bg_a + rng.normal(0, 0.15, 3), 0, 1)
    angle = rng.uniform(0, 2 * math.pi)
    t = ((xs - size / 2) * math.cos(angle) + (ys - size / 2) * math.sin(angle)) / size + 0.5
    t = t[::_SUPERSAMPLE, ::_SUPERSAMPLE][..., None]
    image = bg_a * (1 - t) + bg_b * t

    # Clutter under the object: thin line segments and small specks.
    for _ in range(rng.integers(2, 6)):
        colour = rng.uniform(0, 1, 3)
        if rng.random() < 0.5:
            p0, p1 = rng.uniform(0, size, 2), rng.uniform(0, size, 2)
            d = p1 - p0
            length2 = float(d @ d) or 1.0

            def segment(
                x: np.ndarray, y: np.ndarray, p0: np.ndarray = p0, d: np.ndarray = d, length2: float = length2
            ) -> np.ndarray:
                k = np.clip(((x - p0[0]) * d[0] + (y - p0[1]) * d[1]) / length2, 0, 1)
                return (x - p0[0] - k * d[0]) ** 2 + (y - p0[1] - k * d[1]) ** 2 <= 0.6**2

            alpha = _coverage(segment, xs, ys)
        else:
            c, r = rng.uniform(0, size, 2), rng.uniform(1.2, 2.8)

            def disc(x: np.ndarray, y: np.ndarray, c: np.ndarray = c, r: float = r) -> np.ndarray:
                return (x - c[0]) ** 2 + (y - c[1]) ** 2 <= r * r

            alpha = _coverage(disc, xs, ys)
        image = image * (1 - alpha[..., None]) + colour * alpha[..., None]

    # The object: position, scale and rotation at random; colours that stand out from the background.
    radius = rng.uniform(0.16, 0.4) * size
    cx, cy = rng.uniform(radius * 0.85, size - radius * 0.85, 2)
    theta = rng.uniform(0, 2 * math.pi)
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    u = ((xs - cx) * cos_t + (ys - cy) * sin_t) / radius
    v = (-(xs - cx) * sin_t + (ys - cy) * cos_t) / radius
    background_mean = image.reshape(-1, 3).mean(axis=0)
    fg = _contrasting(rng, [background_mean, bg_a, bg_b], 0.35)

    if name in CLASSES[7:]:
        region = _texture_region(u, v, rng)
        second = _contrasting(rng, [fg], 0.45)
        pattern = _texture_pattern(name, u, v, radius, rng)
        s = _SUPERSAMPLE
        shape_hw = (size, s, size, s)
        alpha = region.reshape(shape_hw).mean(axis=(1, 3))
        share = (region & pattern).reshape(shape_hw).mean(axis=(1, 3))
        with np.errstate(invalid="ignore", divide="ignore"):
            mix = np.where(alpha > 0, share / alpha, 0.0)[..., None]
        colour = fg * (1 - mix) + second * mix
    else:
        region = _shape_region(name, u, v, rng)
        alpha = region.reshape(size, _SUPERSAMPLE, size, _SUPERSAMPLE).mean(axis=(1, 3))
        shade = 1 + 0.15 * u[::_SUPERSAMPLE, ::_SUPERSAMPLE, None]  # gentle lighting across the object
        colour = np.clip(fg * shade, 0, 1)
    image = image * (1 - alpha[..., None]) + colour * alpha[..., None]

    image = image + rng.normal(0, rng.uniform(0, 0.04), image.shape)
    pixels = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
    return Sample(image=pixels, mask=alpha >= 0.5, label=label)


def generate(count: int, seed: int, start: int = 0, size: int = IMAGE_SIZE) -> Batch:
    """Samples ``start`` .. ``start + count - 1`` of the dataset with ``seed``, stacked."""
    samples = [make_sample(seed, i, size) for i in range(start, start + count)]
    return Batch(
        images=np.stack([s.image for s in samples]) if samples else np.zeros((0, size, size, 3), np.uint8),
        masks=np.stack([s.mask for s in samples]) if samples else np.zeros((0, size, size), bool),
        labels=np.array([s.label for s in samples], dtype=np.int64),
    )
