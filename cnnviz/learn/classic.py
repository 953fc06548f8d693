"""Hand-designed image filters: Gaussian blur, Sobel derivatives, gradient magnitude and orientation, and the
Harris corner detector built from them (structure tensor, response, non-maximum suppression).

Everything works on 2-D float64 grayscale arrays with zeros outside the image, in NumPy only; the tests check
each function against scikit-image / SciPy, which cnnviz itself does not need.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import overload

import numpy as np


def correlate1d(image: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """Cross-correlation of ``image`` with ``weights`` (odd length, centred) along ``axis``, zeros outside."""
    image = np.asarray(image, dtype=np.float64)
    radius = len(weights) // 2
    pad = [(0, 0)] * image.ndim
    pad[axis] = (radius, radius)
    padded = np.pad(image, pad)
    out = np.zeros_like(image)
    size = image.shape[axis]
    for j, w in enumerate(weights):
        out += w * np.take(padded, range(j, j + size), axis=axis)
    return out


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The normalised 1-D Gaussian of standard deviation ``sigma``, cut at ``truncate`` σ (as SciPy cuts it)."""
    if sigma <= 0:
        raise ValueError("σ must be positive.")
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (sigma * sigma) * x * x)
    return phi / phi.sum()


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (separable: rows, then columns)."""
    kernel = gaussian_kernel(sigma)
    return correlate1d(correlate1d(image, kernel, 0), kernel, 1)


def box_blur(image: np.ndarray, size: int) -> np.ndarray:
    """The mean over a ``size``×``size`` window (odd ``size``), zeros outside."""
    if size < 1 or size % 2 == 0:
        raise ValueError("a box kernel needs an odd size.")
    kernel = np.full(size, 1.0 / size)
    return correlate1d(correlate1d(image, kernel, 0), kernel, 1)


def add_noise(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """``image`` plus Gaussian noise of standard deviation ``sigma``, clipped to [0, 1] (seeded)."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, np.shape(image))
    return np.clip(np.asarray(image, np.float64) + noise, 0.0, 1.0)


def sobel(image: np.ndarray, axis: int) -> np.ndarray:
    """The Sobel derivative along ``axis`` (0: down the rows, 1: along the columns): [−1, 0, 1] along the axis,
    smoothed by [1, 2, 1] across it."""
    derivative = correlate1d(image, np.array([-1.0, 0.0, 1.0]), axis)
    return correlate1d(derivative, np.array([1.0, 2.0, 1.0]), 1 - axis)


def gradient(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient magnitude and orientation (:func:`gradient_of`) from Sobel derivatives."""
    return gradient_of(sobel(image, 0), sobel(image, 1))


def gradient_of(d_row: np.ndarray, d_col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient magnitude √(∂r² + ∂c²) and orientation atan2(∂r, ∂c) in radians, from the two derivatives."""
    return np.hypot(d_row, d_col), np.arctan2(d_row, d_col)


def structure_tensor(image: np.ndarray, sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The structure tensor's entries (Arr, Arc, Acc): products of the Sobel derivatives, Gaussian-weighted
    over a window of ``sigma``."""
    d_row, d_col = sobel(image, 0), sobel(image, 1)
    return gaussian_blur(d_row * d_row, sigma), gaussian_blur(d_row * d_col, sigma), gaussian_blur(d_col * d_col, sigma)


def harris_response(image: np.ndarray, sigma: float = 1.0, k: float = 0.05) -> np.ndarray:
    """Harris's corner measure det(A) − k·trace(A)²: large where the image changes in every direction."""
    return harris_of(*structure_tensor(image, sigma), k)


def harris_of(arr: np.ndarray, arc: np.ndarray, acc: np.ndarray, k: float = 0.05) -> np.ndarray:
    """det(A) − k·trace(A)² from the structure tensor's entries."""
    return arr * acc - arc * arc - k * (arr + acc) ** 2


def _maximum_filter(values: np.ndarray, radius: int) -> np.ndarray:
    """The largest value within ``radius`` (a square window), the border value repeated outside."""
    padded = np.pad(values, radius, mode="edge")
    h, w = values.shape
    out = np.full_like(values, -np.inf)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out = np.maximum(out, padded[dy : dy + h, dx : dx + w])
    return out


def _keep_spaced(coords: np.ndarray, spacing: float, strict: bool) -> np.ndarray:
    """Greedy: keep each point (strongest first) unless a kept one lies within ``spacing`` (Chebyshev)."""
    kept = np.empty((len(coords), 2), dtype=int)
    count = 0
    for point in coords:
        if count:
            distance = np.abs(kept[:count] - point).max(axis=1)
            if (distance < spacing).any() if strict else (distance <= spacing).any():
                continue
        kept[count] = point
        count += 1
    return kept[:count]


def corner_peaks(
    response: np.ndarray,
    min_distance: int = 1,
    threshold_rel: float | None = None,
    threshold_abs: float | None = None,
) -> np.ndarray:
    """Corners: local maxima of ``response`` over a (2·min_distance+1)² window, above the threshold (the
    larger of ``threshold_abs`` and ``threshold_rel`` × the maximum), not within ``min_distance`` of the border,
    and at least ``min_distance`` apart (the stronger kept). (row, column) pairs, strongest first."""
    if min_distance < 1:
        raise ValueError("the minimum distance between corners must be at least 1 pixel.")
    threshold = float(response.min()) if threshold_abs is None else threshold_abs
    if threshold_rel is not None:
        threshold = max(threshold, threshold_rel * float(response.max()))
    peaks = response == _maximum_filter(response, min_distance)
    if peaks.all():  # a flat response has no corner
        return np.empty((0, 2), dtype=int)
    peaks &= response > threshold
    border = min_distance
    peaks[:border], peaks[-border:], peaks[:, :border], peaks[:, -border:] = False, False, False, False
    rows, cols = np.nonzero(peaks)
    order = np.argsort(-response[rows, cols], kind="stable")
    coords = np.stack([rows[order], cols[order]], axis=1)
    if min_distance > 1:
        coords = _keep_spaced(coords, min_distance, strict=True)
    return _keep_spaced(coords, min_distance, strict=False)


Maps = np.ndarray | tuple[np.ndarray, ...]


@overload
def mirrored(filter_: Callable[[np.ndarray], np.ndarray], image: np.ndarray, margin: int) -> np.ndarray: ...


@overload
def mirrored(
    filter_: Callable[[np.ndarray], tuple[np.ndarray, ...]], image: np.ndarray, margin: int
) -> tuple[np.ndarray, ...]: ...


def mirrored(filter_: Callable[[np.ndarray], Maps], image: np.ndarray, margin: int) -> Maps:
    """``filter_`` applied to ``image`` mirrored ``margin`` pixels beyond its border, then cropped back: the
    zeros outside no longer read as an edge along the frame. ``margin`` should cover the filter's reach. A filter
    may return several maps (a tuple); each is cropped."""
    margin = min(margin, *(side - 1 for side in np.shape(image)))
    out = filter_(np.pad(np.asarray(image, np.float64), margin, mode="reflect"))

    def crop(values: np.ndarray) -> np.ndarray:
        return values[margin : values.shape[0] - margin, margin : values.shape[1] - margin] if margin else values

    return tuple(crop(values) for values in out) if isinstance(out, tuple) else crop(out)


def psnr(reference: np.ndarray, image: np.ndarray, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB of ``image`` against ``reference`` (values in [0, ``peak``])."""
    mse = float(np.mean((np.asarray(reference, np.float64) - np.asarray(image, np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)
