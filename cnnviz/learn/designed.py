"""Designed kernels beside learned ones: a bank of classic filters (Sobel, derivatives of Gaussian, Gabor,
Gaussian, Laplacian of Gaussian, box) at a learned filter's size, and which of them each learned filter
resembles most (Pearson correlation, so a filter's scale and offset do not matter; the sign says whether it
is the kernel or its negative)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cnnviz.arithmetic.geometry import geometry
from cnnviz.arithmetic.kernels import KERNELS, apply_kernel

ORIENTATIONS = (0, 45, 90, 135)
"""Degrees, counter-clockwise from "responds to a change along the columns" (a vertical edge)."""


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    half = (size - 1) / 2
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) - half
    return y, x


def designed_kernels(size: int) -> dict[str, np.ndarray]:
    """Classic ``size``×``size`` kernels by name (odd ``size`` from 3)."""
    if size < 3 or size % 2 == 0:
        raise ValueError("designed kernels need an odd size of at least 3.")
    y, x = _grid(size)
    sigma = size / 4
    gauss = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    bank: dict[str, np.ndarray] = {"box": np.ones((size, size)), "Gaussian": gauss}
    bank["Laplacian of Gaussian"] = (x * x + y * y - 2 * sigma * sigma) * gauss
    if size == 3:
        bank["Sobel ∂x"], bank["Sobel ∂y"] = KERNELS["sobel x"].copy(), KERNELS["sobel y"].copy()
    for angle in ORIENTATIONS:
        theta = math.radians(angle)
        along = x * math.cos(theta) - y * math.sin(theta)  # rows grow downwards, hence −y
        across = x * math.sin(theta) + y * math.cos(theta)
        bank[f"derivative of Gaussian {angle}°"] = along * gauss
        envelope = np.exp(-(along * along + across * across) / (2 * sigma * sigma))
        wavelength = size / 1.5
        bank[f"Gabor {angle}° even"] = envelope * np.cos(2 * math.pi * along / wavelength)
        bank[f"Gabor {angle}° odd"] = envelope * np.sin(2 * math.pi * along / wavelength)
    return bank


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two grids' values (0 when either is flat)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    a, b = a - a.mean(), b - b.mean()
    norm = math.sqrt(float(a @ a) * float(b @ b))
    return 0.0 if norm == 0 else float(a @ b) / norm


@dataclass(frozen=True)
class Match:
    """The designed kernel a learned filter resembles most, and their correlation (−1 … 1)."""

    filter_index: int
    name: str
    correlation: float
    kernel: np.ndarray


def closest_designed(weight: np.ndarray) -> list[Match]:
    """For each filter of a first conv layer's ``weight`` (out, in, k, k), averaged over its input channels, the
    designed kernel with the largest |correlation| (ties: the first in the bank's order)."""
    weight = np.asarray(weight, np.float64)
    if weight.ndim != 4 or weight.shape[-1] != weight.shape[-2]:
        raise ValueError("expected a conv weight of shape (out, in, k, k) with square kernels.")
    bank = designed_kernels(weight.shape[-1])
    matches = []
    for index, filt in enumerate(weight.mean(axis=1)):
        scores = {name: correlation(filt, kernel) for name, kernel in bank.items()}
        name = max(scores, key=lambda n: abs(scores[n]))
        matches.append(Match(index, name, scores[name], bank[name]))
    return matches


def designed_map(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``kernel`` slid over a 2-D ``image`` as a conv layer with zero padding k // 2 does (same size)."""
    size = kernel.shape[-1]
    return apply_kernel(image, kernel, geometry("conv", image.shape, size, padding=size // 2))
