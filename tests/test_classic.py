"""cnnviz.learn.classic against scikit-image and SciPy: blur, Sobel derivatives, gradients, Harris, corner peaks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.feature import corner_harris, structure_tensor
from skimage.feature import corner_peaks as skimage_corner_peaks
from skimage.metrics import peak_signal_noise_ratio

from cnnviz.arithmetic.kernels import grayscale
from cnnviz.data.samples import load_sample
from cnnviz.learn import classic


def images() -> list[np.ndarray]:
    square = np.zeros((10, 10))
    square[2:8, 2:8] = 1  # scikit-image's own example: four corners
    rng = np.random.default_rng(3)
    shapes = np.zeros((40, 56))
    shapes[5:20, 8:30] = 1.0
    shapes[24:36, 30:50] = 0.6
    shapes[28:32, 10:14] = 0.3
    photo = grayscale(load_sample("photo: cat"))[::4, ::4].astype(np.float64)
    photo = (photo - photo.min()) / (photo.max() - photo.min())
    return [square, shapes, shapes + rng.normal(0, 0.05, shapes.shape), photo]


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0, 3.3])
def test_blur_and_derivatives_equal_scipy(sigma):
    for image in images():
        blurred = ndi.gaussian_filter(image, sigma, mode="constant", cval=0.0, truncate=4.0)
        np.testing.assert_allclose(classic.gaussian_blur(image, sigma), blurred, atol=1e-12)
        for axis in (0, 1):
            np.testing.assert_allclose(
                classic.sobel(image, axis), ndi.sobel(image, axis=axis, mode="constant"), atol=1e-12
            )
    magnitude, orientation = classic.gradient(images()[0])
    assert magnitude[2, 5] > 0 and orientation[2, 5] == pytest.approx(np.pi / 2)  # the top edge: brighter below


@pytest.mark.parametrize(("sigma", "k"), [(1.0, 0.05), (2.0, 0.04), (0.7, 0.15)])
def test_harris_equals_scikit_image_within_1e_6(sigma, k):
    for image in images():
        for mine, theirs in zip(
            classic.structure_tensor(image, sigma), structure_tensor(image, sigma, order="rc"), strict=True
        ):
            np.testing.assert_allclose(mine, theirs, atol=1e-6, rtol=0)
        np.testing.assert_allclose(
            classic.harris_response(image, sigma, k), corner_harris(image, "k", k, sigma=sigma), atol=1e-6, rtol=0
        )


@pytest.mark.parametrize(("min_distance", "threshold_rel"), [(1, None), (1, 0.1), (2, 0.05), (3, 0.2), (5, None)])
def test_corner_peaks_equal_scikit_image(min_distance, threshold_rel):
    for image in images():
        response = corner_harris(image)
        expected = skimage_corner_peaks(response, min_distance=min_distance, threshold_rel=threshold_rel)
        found = classic.corner_peaks(response, min_distance, threshold_rel)
        np.testing.assert_array_equal(found, expected)
    square = classic.corner_peaks(classic.harris_response(images()[0]), 1)
    assert sorted(map(tuple, square.tolist())) == [(2, 2), (2, 7), (7, 2), (7, 7)]  # the square's four corners


def test_psnr_equals_scikit_image_and_blur_removes_noise():
    clean = images()[1]
    noisy = clean + np.random.default_rng(0).normal(0, 0.1, clean.shape)
    assert classic.psnr(clean, noisy) == pytest.approx(peak_signal_noise_ratio(clean, noisy, data_range=1.0))
    assert classic.psnr(clean, classic.gaussian_blur(noisy, 1.0)) > classic.psnr(clean, noisy)
    assert classic.psnr(clean, clean) == np.inf


def test_impossible_settings_are_refused():
    with pytest.raises(ValueError, match="σ"):
        classic.gaussian_blur(np.zeros((4, 4)), 0)
    with pytest.raises(ValueError, match="at least 1"):
        classic.corner_peaks(np.zeros((4, 4)), 0)
    assert classic.corner_peaks(np.zeros((6, 6))).shape == (0, 2)  # a flat image has no corner
