"""cnnviz.arithmetic.geometry and cnnviz.arithmetic.steps against PyTorch itself, over thousands of random settings."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnviz.arithmetic import geometry as ar
from cnnviz.arithmetic.steps import (
    direct_grid,
    direct_step,
    make_scene,
    random_values,
    scatter_partial,
    scatter_step,
    scatter_steps,
    step,
)
from tests.reference import input_cells

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def my_shape(*setting) -> tuple[int, int] | None:
    try:
        return ar.geometry(*setting).output_size
    except ValueError:
        return None


def torch_shape(op, i, k, s, p, d, a, ceil) -> tuple[int, int] | None:
    """The output (height, width) PyTorch gives, or None where it raises."""
    x = torch.zeros(1, 1, *i)
    try:
        if op == "conv":
            out = F.conv2d(x, torch.zeros(1, 1, *k), stride=s, padding=p, dilation=d)
        elif op == "transposed":
            out = F.conv_transpose2d(x, torch.zeros(1, 1, *k), stride=s, padding=p, output_padding=a, dilation=d)
        elif op == "maxpool":
            out = F.max_pool2d(x, k, s, p, d, ceil_mode=ceil)
        else:
            out = F.avg_pool2d(x, k, s, p, ceil_mode=ceil)
    except (RuntimeError, ValueError):
        return None
    return tuple(out.shape[-2:])


def random_setting(rng: random.Random, max_size: int = 32, strings: bool = True):
    op = rng.choice(ar.OPS)
    i = (rng.randint(1, max_size), rng.randint(1, max_size))
    k = (rng.randint(1, 7), rng.randint(1, 7))
    s = (rng.randint(1, 4), rng.randint(1, 4))
    d = (1, 1) if op == "avgpool" else (rng.randint(1, 4), rng.randint(1, 4))
    p: tuple[int, int] | str = (rng.randint(0, 8), rng.randint(0, 8))
    if strings and op == "conv" and rng.random() < 0.25:
        p = rng.choice(["valid", "same"])
    a = (rng.randint(0, 4), rng.randint(0, 4)) if op == "transposed" else (0, 0)
    ceil = op.endswith("pool") and rng.random() < 0.5
    return op, i, k, s, p, d, a, ceil


def test_output_size_and_validity_match_pytorch_over_random_settings():
    rng = random.Random(2024)
    valid = invalid = 0
    for _ in range(4000):
        setting = random_setting(rng)
        expected = torch_shape(*setting)
        mine = my_shape(*setting)
        if expected is not None and 0 in expected:
            # PyTorch's CPU kernels disagree on a 0-cell transposed output (some raise, some return an
            # empty tensor); cnnviz always rejects it.
            assert setting[0] == "transposed" and mine is None
            continue
        assert mine == expected, setting
        valid += expected is not None
        invalid += expected is None
    assert valid > 1000 and invalid > 500  # both sides of every rule were exercised


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_same_and_valid_padding_follow_pytorch(k, d):
    for preset in ("same", "valid"):
        expected = torch_shape("conv", (9, 8), (k, k), (1, 1), preset, (d, d), (0, 0), False)
        assert my_shape("conv", (9, 8), k, 1, preset, d) == expected
    with pytest.raises(ValueError, match="strided"):
        ar.geometry("conv", 9, k, 2, "same", d)
    assert torch_shape("conv", (9, 9), (k, k), (2, 2), "same", (d, d), (0, 0), False) is None


def test_full_padding_is_d_times_k_minus_1():
    geo = ar.geometry("conv", 5, 3, padding="full", dilation=2)
    assert (geo.rows.pad_before, geo.rows.pad_after) == (4, 4)
    assert geo.output_size == torch_shape("conv", (5, 5), (3, 3), (1, 1), 4, (2, 2), (0, 0), False)
    with pytest.raises(ValueError, match="pooling"):
        ar.geometry("maxpool", 5, 3, padding="full")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"op": "conv", "input_size": 2, "kernel_size": 3}, "larger than the padded input"),
        (
            {"op": "transposed", "input_size": 3, "kernel_size": 3, "stride": 2, "output_padding": 2},
            "smaller than the stride",
        ),
        ({"op": "maxpool", "input_size": 8, "kernel_size": 3, "padding": 2}, "half the kernel"),
        ({"op": "avgpool", "input_size": 8, "kernel_size": 3, "dilation": 2}, "no dilation"),
        ({"op": "conv", "input_size": 8, "kernel_size": 3, "stride": 0}, "at least 1"),
        ({"op": "conv", "input_size": 8, "kernel_size": 3, "padding": -1}, "negative"),
        ({"op": "transposed", "input_size": 1, "kernel_size": 1, "padding": 1}, "Use less padding"),
        ({"op": "conv", "input_size": 8, "kernel_size": 3, "ceil_mode": True}, "only for pooling"),
        ({"op": "nope", "input_size": 8, "kernel_size": 3}, "Unknown operation"),
    ],
)
def test_rejections_explain_themselves(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ar.geometry(**kwargs)


def test_presets_reproduce_the_papers_sizes():
    assert len(ar.PRESETS) == 15 and len({p.key for p in ar.PRESETS}) == 15
    assert sum(p.op == "transposed" for p in ar.PRESETS) == 7
    for preset in ar.PRESETS:
        geo = preset.geometry()
        assert geo.output_size == (preset.expected_output, preset.expected_output), preset.key
        i, k, s, p, d, a = (
            preset.input_size,
            preset.kernel_size,
            preset.stride,
            preset.padding,
            preset.dilation,
            preset.output_padding,
        )
        assert torch_shape(preset.op, (i, i), (k, k), (s, s), p, (d, d), (a, a), False) == geo.output_size


def _dependency_from_pytorch(op, i, k, s, p, d, a, ceil, cell) -> set[tuple[int, int]]:
    """Input cells an output cell depends on, read off PyTorch: gradients, or for max pooling, probing."""
    if op == "maxpool":
        found = set()
        for r in range(i[0]):
            for c in range(i[1]):
                x = torch.zeros(1, 1, *i)
                x[0, 0, r, c] = 1.0  # a cell in the window is the window's max; one outside cannot reach it
                if F.max_pool2d(x, k, s, p, d, ceil_mode=ceil)[0, 0][cell] == 1.0:
                    found.add((r, c))
        return found
    x = torch.zeros(1, 1, *i, dtype=torch.float64, requires_grad=True)
    w = torch.rand(1, 1, *k, dtype=torch.float64) + 0.5  # no zero weights: every dependency shows
    if op == "conv":
        out = F.conv2d(x, w, stride=s, padding=p, dilation=d)
    elif op == "transposed":
        out = F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=a, dilation=d)
    else:
        out = F.avg_pool2d(x, k, s, p, ceil_mode=ceil)
    (grad,) = torch.autograd.grad(out[0, 0][cell], x)
    return {(int(r), int(c)) for r, c in torch.nonzero(grad[0, 0])}


def test_index_maps_give_the_dependency_read_off_pytorch():
    rng = random.Random(7)
    checked = 0
    while checked < 600:
        op, i, k, s, p, d, a, ceil = random_setting(rng, max_size=10, strings=False)
        try:
            geo = ar.geometry(op, i, k, s, p, d, a, ceil)
        except ValueError:
            continue
        cell = (rng.randrange(geo.rows.output), rng.randrange(geo.cols.output))
        expected = _dependency_from_pytorch(op, i, k, s, p, d, a, ceil, cell)
        assert input_cells(geo, cell) == expected, (op, i, k, s, p, d, a, ceil, cell)
        checked += 1


def test_output_cells_invert_the_index_maps():
    geo = ar.geometry("transposed", (4, 3), (3, 2), (2, 3), (1, 0), (1, 2), (1, 2))
    for r in range(geo.rows.size):
        for c in range(geo.cols.size):
            fed = ar.output_cells(geo, (r, c))
            expected = {
                (y, x)
                for y in range(geo.rows.output)
                for x in range(geo.cols.output)
                if (r, c) in input_cells(geo, (y, x))
            }
            assert fed == expected


@pytest.mark.slow
def test_every_step_equals_pytorch_over_random_settings():
    rng = random.Random(11)
    settings = steps_checked = 0
    while settings < 400:
        op, i, k, s, p, d, a, ceil = random_setting(rng, max_size=9)
        try:
            geo = ar.geometry(op, i, k, s, p, d, a, ceil)
        except ValueError:
            continue
        cin = rng.randint(1, 3)
        cout = cin if geo.pooling else rng.randint(1, 2)
        scene = make_scene(geo, *random_values(geo, cin, cout, seed=settings, bias=rng.random() < 0.8))
        for index in range(scene.num_steps):
            st = step(scene, index)
            reference = scene.output[st.out_channel, st.row, st.col]
            assert st.value == pytest.approx(reference, abs=1e-9) or st.value == reference, (op, i, k, s, p, d, a)
            if op == "transposed":
                assert direct_step(scene, index).value == pytest.approx(reference, abs=1e-9)
            steps_checked += 1
        settings += 1
    assert steps_checked > 5000


def test_hand_worked_convolution():
    geo = ar.geometry("conv", 4, 3)
    scene = make_scene(geo, np.arange(16.0).reshape(1, 4, 4), np.ones((1, 1, 3, 3)), np.array([0.0]))
    assert [step(scene, n).value for n in range(4)] == [45, 54, 81, 90]
    first = step(scene, 0)
    assert [(t.row, t.col) for t in first.taps] == [(r, c) for r in range(3) for c in range(3)]


def test_hand_worked_pools_and_padding():
    x = np.array([[[1.0, 5.0, 2.0], [0.0, 3.0, 4.0], [7.0, 1.0, 1.0]]])
    maxpool = make_scene(ar.geometry("maxpool", 3, 2, 2, 1), x)
    assert maxpool.output[0].tolist() == [[1, 5], [7, 4]]  # windows start at -1: padding never wins
    avg = make_scene(ar.geometry("avgpool", 3, 2, 2, 1), x)
    first = step(avg, 0)
    assert first.divisor == 4 and first.value == 0.25  # count_include_pad: 1 / 4
    assert step(avg, 3).value == (3 + 4 + 1 + 1) / 4


def test_scatter_view_accumulates_to_pytorchs_output():
    geo = ar.geometry("transposed", 3, 3, 2, 1, 1, 1)
    scene = make_scene(geo, *random_values(geo, 2, 2, seed=3))
    per_channel = scene.x.size
    for oc in range(2):
        running = np.full(geo.output_size, scene.bias[oc])
        for n in range(oc * per_channel, (oc + 1) * per_channel):
            for y, x, ty, tx, amount in scatter_step(scene, n).targets:
                s = scatter_step(scene, n)
                assert amount == s.value * scene.weight[s.channel, oc, ty, tx]
                running[y, x] += amount
            np.testing.assert_allclose(scatter_partial(scene, n), running)
        np.testing.assert_allclose(running, scene.output[oc])
    assert scatter_steps(scene) == 2 * 2 * 9


def test_direct_grid_inserts_zeros_and_pads():
    geo = ar.geometry("transposed", 2, 3, 2)  # paper: 2x2 input, stride 2 -> zero-inserted 3x3, padded by 2
    scene = make_scene(geo, *random_values(geo, 1, 1, seed=1))
    grid = direct_grid(scene)
    assert grid.values.shape == (1, 7, 7) and grid.pad == (2, 2)
    assert grid.values[0, 2, 2] == scene.x[0, 0, 0] and grid.values[0, 2, 4] == scene.x[0, 0, 1]
    assert grid.values[0, 3].sum() == 0  # an inserted row of zeros


def test_max_padding_is_the_limit():
    for size, kernel, stride, dilation, a in [(5, 3, 2, 1, 1), (1, 1, 1, 1, 0), (4, 7, 3, 4, 2)]:
        top = ar.max_padding("transposed", size, kernel, stride, dilation, a)
        ar.geometry("transposed", size, kernel, stride, top, dilation, a)
        with pytest.raises(ValueError):
            ar.geometry("transposed", size, kernel, stride, top + 1, dilation, a)
    for kernel in range(1, 8):
        ar.geometry("maxpool", 32, kernel, 1, ar.max_padding("maxpool", 32, kernel))
        with pytest.raises(ValueError):
            ar.geometry("maxpool", 32, kernel, 1, ar.max_padding("maxpool", 32, kernel) + 1)
    assert ar.max_output_padding(2, 3) == 2
