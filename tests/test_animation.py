"""cnnviz.arithmetic.animation: figures and GIFs show what the steps compute."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from cnnviz.arithmetic import geometry as ar
from cnnviz.arithmetic.animation import MAX_GIF_FRAMES, feeds_figure, gif_bytes, step_figure
from cnnviz.arithmetic.board import board, fmt, num_frames, step_caption, views_for
from cnnviz.arithmetic.steps import make_scene, random_values
from tests.reference import input_cells


def scene_for(*args, cin=1, cout=1, seed=0):
    geo = ar.geometry(*args)
    return make_scene(geo, *random_values(geo, cin, cout, seed=seed))


def test_fmt():
    assert [fmt(3.0), fmt(-2.0), fmt(2.25), fmt(1 / 3), fmt(float("-inf"))] == ["3", "-2", "2.25", "0.33", "−∞"]


def test_views():
    assert views_for(ar.geometry("transposed", 3, 3)) == ("scatter", "direct")
    assert views_for(ar.geometry("maxpool", 3, 3)) == ("window",)


def test_window_figure_marks_the_taps_and_the_output_cell():
    scene = scene_for("conv", 5, 3, 2, 1, cin=2)
    figure = step_figure(board(scene), 4)  # output (1, 1): window rows/cols 1..3 of the input, padded index 2..4
    titles = [a.text for a in figure.layout.annotations]
    assert titles[0] == "Input · in ch 1 5×5, padded to 7×7" and "Output 3×3" in titles
    red = [s for s in figure.layout.shapes if s.line.color == "#d62728" and s.xref == "x"]
    centres = sorted(((s.y0 + s.y1) / 2, (s.x0 + s.x1) / 2) for s in red)
    assert centres == [(r, c) for r in (2, 3, 4) for c in (2, 3, 4)]
    output = [s for s in figure.layout.shapes if s.line.color == "#ff7f0e"]
    assert [((s.y0 + s.y1) / 2, (s.x0 + s.x1) / 2) for s in output] == [(1, 1)]
    out_trace = next(t for t in figure.data if "Output" in t.hovertemplate)
    out_z = np.array(out_trace.z, dtype=float)  # cells after step 4 are still blank
    assert np.isnan(out_z.reshape(-1)[5:]).all() and not np.isnan(out_z.reshape(-1)[:5]).any()
    np.testing.assert_allclose(out_z.reshape(-1)[:5], scene.output[0].reshape(-1)[:5])
    assert [t.strip() for t in np.ravel(out_trace.text)[:5]] == [fmt(v) for v in scene.output[0].ravel()[:5]]


def test_caption_gives_the_arithmetic():
    geo = ar.geometry("conv", 4, 3)
    scene = make_scene(geo, np.arange(16.0).reshape(1, 4, 4), np.ones((1, 1, 3, 3)), np.array([1.0]))
    caption = step_caption(scene, 0)
    assert caption.startswith("output (0, 0) = 0·1 + 1·1 + 2·1") and caption.endswith("= 45 + bias 1 = 46")
    assert step_caption(scene_for("maxpool", 3, 2, 1), 0).startswith("output (0, 0) = max(")
    unbiased = make_scene(geo, np.arange(16.0).reshape(1, 4, 4), np.ones((1, 1, 3, 3)))
    assert step_caption(unbiased, 0).endswith("2·1 + 4·1 + 5·1 + 6·1 + 8·1 + 9·1 + 10·1 = 45")  # not "= 45 = 45"


@pytest.mark.parametrize(
    ("args", "view"),
    [
        (("transposed", 3, 3, 2, 1, 1, 1), "scatter"),
        (("transposed", 3, 3, 2, 1, 1, 1), "direct"),
        (("avgpool", 5, 2, 2, 1, 1, 0, True), "window"),
    ],
)
def test_other_views_build(args, view):
    scene = scene_for(*args, cin=2, cout=2)
    last = num_frames(scene, view) - 1
    figure = step_figure(board(scene, view), last)
    # after the last step, the output panel shows the last output channel exactly as PyTorch computes it
    final = scene.output[-1]
    outputs = [np.asarray(t.z, float) for t in figure.data if t.type == "heatmap" and np.shape(t.z) == final.shape]
    assert any(np.array_equal(z, final) for z in outputs), view
    # and the caption of the first step ends with the value PyTorch gives there (the first output cell, or the
    # first input value's contribution for the scatter view)
    first = step_caption(scene, 0, view)
    if view == "scatter":
        assert first.startswith(f"Input cell (0, 0) · in ch 1 = {fmt(scene.x[0, 0, 0])} adds"), first
    else:
        assert first.endswith(f"= {fmt(scene.output[0, 0, 0])}"), first


def test_feeds_figure_highlights_every_fed_output():
    scene = scene_for("conv", 5, 3, 1, 0)
    figure = feeds_figure(board(scene), (2, 2))
    orange = [s for s in figure.layout.shapes if s.line.color == "#ff7f0e"]
    assert len(orange) == 9  # the centre cell of a 5x5 input feeds all 3x3 outputs of a 3x3 kernel
    assert len(ar.output_cells(scene.geo, (0, 0))) == 1


@pytest.mark.parametrize(
    ("args", "view"),
    [
        (("conv", 5, 3, 2, 1), "window"),
        (("transposed", 2, 3, 2), "scatter"),
        (("transposed", 2, 3, 2), "direct"),
        (("maxpool", 4, 2, 2), "window"),
    ],
)
def test_gif_has_one_frame_per_step(args, view):
    scene = scene_for(*args, cin=2, cout=2)
    data = gif_bytes(board(scene, view))
    image = Image.open(io.BytesIO(data))
    assert image.format == "GIF" and image.n_frames == num_frames(scene, view)


def test_gif_refuses_too_many_steps():
    scene = scene_for("conv", 32, 1)
    assert num_frames(scene, "window") > MAX_GIF_FRAMES
    with pytest.raises(ValueError, match="at most"):
        gif_bytes(board(scene))


@pytest.mark.parametrize(
    ("args", "view"),
    [
        (("transposed", 32, 7, 4, 0, 4, 3), "direct"),
        (("transposed", 32, 7, 4, 0, 4, 3), "scatter"),
        (("conv", 32, 7, 1, 24, 4), "window"),
    ],
)
def test_largest_settings_stay_under_a_megabyte(args, view):
    scene = scene_for(*args, cin=3, cout=2)
    payload = step_figure(board(scene, view), num_frames(scene, view) // 2).to_json()
    assert len(payload.encode()) <= 1_000_000
    assert json.loads(payload)["data"]


def test_transposed_mapping_view_shows_the_unpadded_input():
    scene = scene_for("transposed", 3, 3, 2, 1, 1, 1)
    figure = step_figure(board(scene, "window"), 7)  # which inputs feed output (1, 1)
    assert np.array(figure.data[0].z).shape == (3, 3)
    red = [s for s in figure.layout.shapes if s.line.color == "#d62728" and s.xref == "x"]
    centres = {((s.y0 + s.y1) / 2, (s.x0 + s.x1) / 2) for s in red}
    assert centres == input_cells(scene.geo, (1, 1))


def test_direct_view_greys_the_inserted_zeros():
    scene = scene_for("transposed", 2, 3, 2)
    z = np.array(step_figure(board(scene, "direct"), 0).data[0].z, dtype=float)
    assert z.shape == (7, 7)
    assert np.isfinite(z).sum() == 4  # only the four input values are coloured
    assert np.isfinite(z[2, 2]) and np.isnan(z[3, 3])


def test_caption_sums_each_input_channel_then_adds_the_bias():
    geo = ar.geometry("conv", 2, 2)
    x = np.stack([np.ones((2, 2)), 2 * np.ones((2, 2))])
    scene = make_scene(geo, x, np.ones((1, 2, 2, 2)), np.array([-1.0]))
    caption = step_caption(scene, 0)
    assert (
        caption == "output (0, 0): in ch 1: 1·1 + 1·1 + 1·1 + 1·1 = 4; in ch 2: 2·1 + 2·1 + 2·1 + 2·1 = 8. "
        "Sum 4 + 8 + bias (-1) = 11"
    )
    assert scene.output[0, 0, 0] == 11


def test_negative_factors_are_bracketed_in_captions():
    geo = ar.geometry("conv", 1, 1)
    scene = make_scene(geo, np.array([[[2.0]]]), np.array([[[[-1.0]]]]), np.array([-3.0]))
    assert step_caption(scene, 0) == "output (0, 0) = 2·(-1) = -2 + bias (-3) = -5"


@pytest.mark.parametrize(("op", "has_kernel"), [("conv", True), ("transposed", True), ("maxpool", False)])
def test_gif_frames_show_the_kernel_beside_each_input(op, has_kernel):
    from cnnviz.arithmetic.animation import _BASE
    from cnnviz.arithmetic.levels import LEVELS

    geo = ar.geometry(op, 4, 3)
    x, weight, bias = random_values(geo, 1, 1, 0, op != "maxpool")
    frame = Image.open(io.BytesIO(gif_bytes(board(make_scene(geo, x, weight, bias), views_for(geo)[0]))))
    pixels = np.asarray(frame.convert("P") if frame.mode != "P" else frame)
    signed = _BASE["signed"]
    kernel_pixels = ((pixels >= signed) & (pixels < signed + LEVELS)).sum()  # the kernel's colours
    assert (kernel_pixels >= 9 * 10) == has_kernel  # nine cells of at least ten pixels each
