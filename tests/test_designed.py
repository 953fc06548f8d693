"""cnnviz.learn.designed: the kernel bank, correlations against NumPy, and matches on the embedded model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from cnnviz.learn.designed import closest_designed, correlation, designed_kernels
from cnnviz.models.embedded import load_embedded


def test_sobel_and_derivatives_point_the_right_way():
    bank = designed_kernels(3)
    ramp = np.tile(np.arange(7.0), (7, 1))  # brighter to the right: a change along the columns
    assert ndi.correlate(ramp, bank["Sobel ∂x"])[3, 3] == 8 and ndi.correlate(ramp, bank["Sobel ∂y"])[3, 3] == 0
    assert correlation(bank["derivative of Gaussian 0°"], bank["Sobel ∂x"]) > 0.9
    assert correlation(bank["derivative of Gaussian 90°"], bank["Sobel ∂y"]) < -0.9  # 90° points up, rows grow down
    for size in (3, 5, 7):
        assert all(k.shape == (size, size) for k in designed_kernels(size).values())


def test_correlation_equals_numpy_and_ignores_scale_and_offset():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    assert correlation(a, b) == pytest.approx(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    assert correlation(a, 3 * a + 2) == pytest.approx(1.0) and correlation(a, -a) == pytest.approx(-1.0)
    assert correlation(a, np.ones((5, 5))) == 0.0


def test_a_designed_filter_finds_itself_and_its_negative():
    bank = designed_kernels(5)
    names = ["Gabor 45° odd", "Laplacian of Gaussian", "derivative of Gaussian 135°"]
    weight = np.stack([np.stack([bank[n]] * 3) for n in names] + [np.stack([-2 * bank[names[0]] + 1] * 3)])
    matches = closest_designed(weight)
    assert [m.name for m in matches] == [*names, names[0]]
    assert [round(m.correlation, 6) for m in matches] == [1.0, 1.0, 1.0, -1.0]


def test_every_first_layer_filter_of_the_embedded_model_gets_a_match():
    model, _ = load_embedded()
    weight = model.features.conv_1_1.weight.detach().numpy()
    matches = closest_designed(weight)
    assert len(matches) == weight.shape[0]
    bank = designed_kernels(3)
    for m in matches:
        best = max(abs(correlation(weight[m.filter_index].mean(0), k)) for k in bank.values())
        assert abs(m.correlation) == pytest.approx(best) and 0 < abs(m.correlation) <= 1


def test_impossible_shapes_are_refused():
    with pytest.raises(ValueError, match="odd size"):
        designed_kernels(4)
    with pytest.raises(ValueError, match="shape"):
        closest_designed(np.zeros((3, 3, 3)))
