"""cnnviz.arithmetic.kernels against hand-computed and numpy references."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnviz.arithmetic import geometry as ar
from cnnviz.arithmetic.kernels import KERNELS, apply_kernel, grayscale, grayscale_crop


def correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Plain 'valid' cross-correlation, written out."""
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = (image[r : r + kh, c : c + kw] * kernel).sum()
    return out


def test_the_named_kernels():
    assert set(KERNELS) >= {"identity", "box blur", "gaussian", "sharpen", "sobel x", "sobel y", "laplacian", "emboss"}
    assert KERNELS["gaussian"].sum() == pytest.approx(1) and KERNELS["box blur"].sum() == pytest.approx(1)


@pytest.mark.parametrize("name", list(KERNELS))
def test_apply_kernel_is_cross_correlation(name, rng):
    image = rng.random((12, 10))
    kernel = KERNELS[name]
    geo = ar.geometry("conv", image.shape, kernel.shape)
    np.testing.assert_allclose(apply_kernel(image, kernel, geo), correlate(image, kernel), atol=1e-12)


def test_stride_padding_and_dilation(rng):
    image = rng.random((9, 9))
    geo = ar.geometry("conv", 9, 3, stride=2, padding=1, dilation=2)
    out = apply_kernel(image, KERNELS["sobel x"], geo)
    assert out.shape == geo.output_size
    padded = np.pad(image, 1)
    dilated = np.zeros((5, 5))
    dilated[::2, ::2] = KERNELS["sobel x"]
    np.testing.assert_allclose(out, correlate(padded, dilated)[::2, ::2], atol=1e-12)


def test_sobel_finds_a_vertical_edge():
    image = np.zeros((5, 6))
    image[:, 3:] = 1.0
    out = apply_kernel(image, KERNELS["sobel x"], ar.geometry("conv", (5, 6), 3))
    assert out[:, 1].tolist() == [4.0, 4.0, 4.0] and out[:, 0].tolist() == [0.0, 0.0, 0.0]


def test_grayscale_and_crop():
    image = Image.new("RGB", (300, 100), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 150, 100))  # left half black
    gray = grayscale(image, max_side=150)
    assert gray.shape == (50, 150) and gray.max() == 1.0 and gray.min() == 0.0
    crop = grayscale_crop(image, (4, 4))  # a centre square crop: left half black, right half white
    assert crop.shape == (4, 4) and crop[:, 0].tolist() == [0] * 4 and crop[:, -1].tolist() == [9] * 4
