"""Grouped and depthwise convolution, and true convolution, on the arithmetic page's library: each step against
F.conv2d(groups=...), the wiring against a real nn.Conv2d, the flipped kernel against SciPy's convolve2d, and
the depthwise-separable saving against hand-worked MobileNet numbers and real modules' parameter counts."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.signal import convolve2d, correlate2d
from torch import nn

from cnnviz.arithmetic import geometry as ar
from cnnviz.arithmetic.board import board, change, feeds, step_caption
from cnnviz.arithmetic.groups import connections, conv_cost, grouping_figure, separable
from cnnviz.arithmetic.player import payload
from cnnviz.arithmetic.steps import make_scene, random_values, step

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.")


def divisors(n: int) -> list[int]:
    return [g for g in range(1, n + 1) if n % g == 0]


def test_every_grouped_step_equals_pytorch_and_reads_only_its_group():
    rng = random.Random(5)
    checked = 0
    for n in range(120):
        padding = rng.choice([0, 1, (1, 0), "same"]) if n % 3 else "valid"
        stride = 1 if padding == "same" else rng.randint(1, 2)
        geo = ar.geometry("conv", rng.randint(5, 8), rng.randint(1, 3), stride, padding, rng.randint(1, 2))
        cin = rng.randint(1, 4)
        groups = rng.choice(divisors(cin))
        cout = groups * rng.randint(1, 4 // groups)
        x, w, b = random_values(geo, cin, cout, seed=n, bias=n % 2 == 0, groups=groups)
        flip = n % 4 == 0
        scene = make_scene(geo, x, w, b, groups=groups, flip=flip)
        reference = F.conv2d(
            torch.tensor(x)[None],
            torch.tensor(w).flip(-1, -2) if flip else torch.tensor(w),
            None if b is None else torch.tensor(b),
            stride=geo.rows.stride,
            padding="same" if geo.padding_preset == "same" else (geo.rows.pad_before, geo.cols.pad_before),
            dilation=geo.rows.dilation,
            groups=groups,
        )[0].numpy()
        for index in range(scene.num_steps):
            st = step(scene, index)
            assert st.value == pytest.approx(reference[st.out_channel, st.row, st.col], abs=1e-9)
            per_out = cout // groups
            group = st.out_channel // per_out
            assert {t.channel for t in st.taps} == set(range(group * cin // groups, (group + 1) * cin // groups))
            checked += 1
        b_ = board(scene)
        assert all(len(rows) == cin // groups for rows in b_.layouts)  # one row per input channel of the group
        for index in range(0, scene.num_steps, 7):
            assert change(b_, index).writes[-1][2] == pytest.approx(float(scene.output.reshape(-1)[index]))
    assert checked > 2000


def test_wiring_is_what_a_real_grouped_conv_reads():
    for cin, cout, groups in [(4, 4, 4), (4, 2, 2), (4, 4, 1), (3, 3, 3), (4, 8, 2), (6, 3, 3)]:
        conv = nn.Conv2d(cin, cout, 1, groups=groups, bias=False)
        nn.init.ones_(conv.weight)
        read = set()
        for i in range(cin):
            x = torch.zeros(1, cin, 1, 1)
            x[0, i] = 1
            read |= {(i, int(o)) for o in torch.nonzero(conv(x)[0, :, 0, 0]).flatten()}
        assert {(i, o) for i, o, _ in connections(cin, cout, groups)} == read
    figure = grouping_figure(4, 4, 2)
    lines = [t for t in figure.data if t.mode == "lines"]
    assert len(lines) == 8 and len({t.line.color for t in lines}) == 2
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        connections(3, 3, 2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        make_scene(ar.geometry("conv", 4, 3), *random_values(ar.geometry("conv", 4, 3), 2, 3, groups=1), groups=2)


def test_flipped_kernel_is_scipys_convolution_and_unflipped_its_correlation():
    rng = np.random.default_rng(0)
    x, k = rng.integers(0, 5, (6, 7)).astype(float), rng.integers(-2, 3, (3, 2)).astype(float)
    geo = ar.geometry("conv", (6, 7), (3, 2))
    true = make_scene(geo, x[None], k[None, None], flip=True)
    cross = make_scene(geo, x[None], k[None, None])
    np.testing.assert_allclose(true.output[0], convolve2d(x, k, mode="valid"))
    np.testing.assert_allclose(cross.output[0], correlate2d(x, k, mode="valid"))
    assert [step(true, i).value for i in range(true.num_steps)] == true.output.ravel().tolist()
    assert board(true).grids[1].title.startswith("Kernel flipped")
    np.testing.assert_array_equal(board(true).grids[1].values, k[::-1, ::-1])
    with pytest.raises(ValueError, match="convolution only"):
        make_scene(ar.geometry("maxpool", 4, 2), rng.random((1, 4, 4)), flip=True)


def test_depthwise_caption_feeds_and_player_show_one_channel_each():
    geo = ar.geometry("conv", 4, 3, 1, 1)
    scene = make_scene(geo, *random_values(geo, 3, 3, seed=2, groups=3), groups=3)
    last = scene.num_steps - 1
    assert "out ch 3 reads in ch 3 only" in step_caption(scene, last)
    assert feeds(board(scene), (1, 1), out_channel=2).rows == ((2, board(scene).outputs[2]),)
    data = payload(scene)
    assert len(data["steps"]) == scene.num_steps and data["layouts"][1] == [[1, 4, 7, 10]]


def test_separable_saving_matches_mobilenet_and_real_modules():
    # MobileNet's second layer pair at 112×112: 32 → 64 channels (Howard et al. 2017, Table 1)
    pair = separable(32, 64, (3, 3), (112, 112), bias=False)
    assert pair.plain.macs == 64 * 32 * 9 * 112 * 112 == 231_211_008
    assert pair.depthwise.macs == 32 * 9 * 112 * 112 == 3_612_672
    assert pair.pointwise.macs == 64 * 32 * 112 * 112 == 25_690_112
    assert pair.mac_ratio == pytest.approx(1 / 64 + 1 / 9)
    for cin, cout, k, groups, bias in [(32, 64, 3, 1, False), (32, 32, 3, 32, True), (8, 16, 5, 4, True)]:
        module = nn.Conv2d(cin, cout, k, groups=groups, bias=bias)
        assert conv_cost(cin, cout, (k, k), (7, 7), groups, bias).params == sum(p.numel() for p in module.parameters())
    with_bias = separable(4, 4, (3, 3), (5, 5))
    assert with_bias.pair.params == (4 * 9 + 4) + (16 + 4) and with_bias.plain.params == 4 * 4 * 9 + 4


def test_the_gif_animates_every_depthwise_step_with_one_kernel_per_output_channel():
    import io

    from PIL import Image

    from cnnviz.arithmetic.animation import gif_bytes

    geo = ar.geometry("conv", 3, 2)
    scene = make_scene(geo, *random_values(geo, 2, 2, seed=4, groups=2), groups=2, flip=True)
    b = board(scene)
    assert sorted(b.kernels) == [(0, 0), (1, 1)]  # depthwise: no kernel from in ch 2 to out ch 1
    gif = Image.open(io.BytesIO(gif_bytes(b)))
    assert gif.n_frames == scene.num_steps == 8
