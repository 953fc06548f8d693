"""cnnviz.network.figures and cnnviz.overlay: what each picture holds."""

from __future__ import annotations

import re

import numpy as np
import plotly.colors
import pytest
import torchvision
from PIL import Image

from cnnviz.explain.charts import raw_map_figure
from cnnviz.models.embedded import load_embedded
from cnnviz.network.architecture import summarize
from cnnviz.network.figures import (
    _mosaic,
    channel_figure,
    feature_grid_image,
    filter_figure,
    rgb_filters_image,
    stage_diagram,
)
from cnnviz.overlay import COLORMAPS, colormap, overlay, scaled_between


def test_colormap_follows_plotly():
    table = colormap("viridis")
    assert table.shape == (256, 3) and table.dtype == np.uint8
    first, last = plotly.colors.sequential.Viridis[0], plotly.colors.sequential.Viridis[-1]
    assert tuple(table[0]) == plotly.colors.hex_to_rgb(first) and tuple(table[-1]) == plotly.colors.hex_to_rgb(last)


def test_scaled_between():
    np.testing.assert_allclose(scaled_between(np.array([0.0, 5.0, 10.0]), 0, 10), [0, 0.5, 1])
    assert scaled_between(np.ones(3), 1, 1).tolist() == [0, 0, 0]


def test_mosaic_places_tiles_row_by_row():
    tiles = np.arange(5 * 2 * 2, dtype=float).reshape(5, 2, 2)
    grid = _mosaic(tiles, columns=3)
    assert grid.shape == (5, 8)
    np.testing.assert_array_equal(grid[0:2, 3:5], tiles[1])
    np.testing.assert_array_equal(grid[3:5, 0:2], tiles[3])
    assert np.isnan(grid[2]).all() and np.isnan(grid[3:5, 6:8]).all()


def test_filter_figure_is_centred_at_zero_with_values_on_hover():
    tiles = np.array([[[1.0, -2.0], [0.5, 0.0]], [[0.0, 3.0], [-1.0, 1.0]]])
    figure = filter_figure(tiles, ["a", "b"], "t")
    heat = figure.data[0]
    assert heat.zmid == 0 and heat.zmin == -3 and heat.zmax == 3
    z = np.array(heat.z, dtype=float)
    np.testing.assert_array_equal(z[0:2, 0:2], tiles[0])
    assert heat.customdata[0][0] == "a" and heat.customdata[0][3] == "b"
    assert "weight" in heat.hovertemplate


def test_rgb_filters_put_zero_at_mid_grey():
    weight = np.zeros((4, 3, 3, 3))
    weight[0, 0] = 1.0  # red channel of filter 0 at the maximum
    image = np.asarray(rgb_filters_image(weight, cell=3))
    assert tuple(image[17, 0]) == (255, 127, 127)  # under filter 0's 17-pixel label strip
    assert tuple(image[17, 7]) == (127, 127, 127)  # filter 1: all zero (3 px, a 4 px gap, then filter 1)
    big = rgb_filters_image(np.zeros((16, 3, 3, 3)))
    assert big.size == (4 * 63 + 3 * 4, 4 * (63 + 17) + 3 * 4)  # 4 × 4 tiles of 63 px (3 × 21), labelled


def test_feature_grid_shows_the_requested_channels():
    maps = np.random.default_rng(0).random((10, 8, 8))
    image = feature_grid_image(maps, [3, 1, 7], maps.min((1, 2)), maps.max((1, 2)))
    assert image.size == (3 * 64 + 2 * 4, 64 + 14)
    many = np.random.default_rng(0).random((2048, 7, 7))
    big = feature_grid_image(many, list(range(2048)), many.min((1, 2)), many.max((1, 2)))
    assert big.size == (24 * 24 + 23 * 4, 86 * (24 + 11) + 85 * 4)  # 2048 tiles of 24 px, 24 to a row


def test_overlay_covers_the_photo_only_where_the_map_is_high():
    base = Image.new("RGB", (20, 10), (200, 10, 10))
    values = np.arange(4.0).reshape(2, 2)
    assert np.array_equal(np.asarray(overlay(base, values, 0.0)), np.asarray(base))
    full = np.asarray(overlay(base, values, 1.0))
    assert tuple(full[0, 0]) == (200, 10, 10)  # the map's minimum leaves the photo untouched
    assert tuple(full[-1, -1]) == tuple(colormap("viridis")[255])  # its maximum is the colour map's top
    half = np.asarray(overlay(base, values, 0.5)).astype(int)
    top = colormap("viridis")[255].astype(int)
    assert np.abs(half[-1, -1] - (np.array([200, 10, 10]) + top) / 2).max() <= 1  # half-way at opacity 0.5
    assert tuple(half[0, 0]) == (200, 10, 10)


def _opacity_of(laid: np.ndarray, photo: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Each pixel's opacity, read back from a composite: how far it moved from the photo towards the colour."""
    towards = colour.astype(float) - photo
    return ((laid - photo) * towards).sum(-1) / np.maximum((towards**2).sum(-1), 1e-9)


@pytest.mark.parametrize("zeros", [False, True], ids=["smooth peak", "zero over most of the image"])
def test_the_strongest_fifth_of_a_map_is_drawn_at_the_chosen_opacity(zeros):
    """The visibility rule: at the default opacity, the 20 % of pixels with the highest values are drawn at
    >= 0.6 opacity (a small Grad-CAM spot is seen from the back of a room), the lower half not at all."""
    from cnnviz.overlay import DEFAULT_OPACITY

    yy, xx = np.mgrid[0:40, 0:60]
    peak = np.exp(-((yy - 10) ** 2 + (xx - 45) ** 2) / 60.0)  # a small spot, as Grad-CAM often is
    if zeros:
        peak = np.where(peak > 0.3, peak, 0.0)  # ~90 % of the pixels tie at the minimum
    photo = np.full((40, 60, 3), 128.0)
    laid = np.asarray(overlay(Image.new("RGB", (60, 40), (128, 128, 128)), peak), dtype=float)
    levels = np.floor(peak / peak.max() * 255).astype(int)  # the map in 256 levels, as laid
    alpha = _opacity_of(laid, photo, colormap("viridis")[levels])
    top = peak >= np.quantile(peak, 0.8)
    assert DEFAULT_OPACITY >= 0.6
    assert np.abs(alpha[top & (peak > 0)] - DEFAULT_OPACITY).max() < 0.01
    lower = peak <= np.quantile(peak, 0.5)
    assert (laid[lower] == 128).all()  # the weaker half leaves the photo as it was
    assert (laid[peak == 0] == 128).all()
    inside = ~top & ~lower
    assert ((alpha[inside] > -0.01) & (alpha[inside] < DEFAULT_OPACITY + 0.01)).all()  # a ramp between


# TinyVGG: three conv blocks and the classifier; resnet18: 4 stem layers, 8 residual blocks, avgpool, fc.
@pytest.mark.parametrize(("which", "boxes"), [("tinyvgg", 4), ("resnet18", 14)])
def test_stage_diagram_boxes(which, boxes):
    model = load_embedded()[0] if which == "tinyvgg" else torchvision.models.resnet18()
    size = (64, 64) if which == "tinyvgg" else (224, 224)
    figure = stage_diagram(summarize(model, size))
    assert len(figure.layout.shapes) == boxes
    labels = [a.text.split("<br>") for a in figure.layout.annotations if a.text]
    assert len(labels) == boxes
    counts = {
        name.removeprefix("<b>").removesuffix("</b>"): int(p.split()[0].replace(",", "")) for name, _, p in labels
    }
    # the boxes' parameters add up to PyTorch's count for the whole model, and a box named after a module
    # holds exactly that module's parameters
    assert sum(counts.values()) == sum(p.numel() for p in model.parameters())
    named = dict(model.named_modules())
    for name, count in counts.items():
        if name in named:
            assert count == sum(p.numel() for p in named[name].parameters()), name
    first = "features block 1" if which == "tinyvgg" else "conv1"
    assert next(iter(counts)) == first and len(set(counts) & set(named)) == (1 if which == "tinyvgg" else boxes)


def test_figures_leave_the_background_to_the_theme():
    """No opaque white block in dark mode: backgrounds are transparent (or a see-through grey between cells)."""
    from cnnviz.arithmetic import geometry as ar
    from cnnviz.arithmetic.animation import step_figure
    from cnnviz.arithmetic.board import board
    from cnnviz.arithmetic.steps import make_scene, random_values
    from cnnviz.network.figures import filter_figure

    geo = ar.geometry("conv", 5, 3)
    figures = [
        stage_diagram(summarize(load_embedded()[0], (64, 64))),
        filter_figure(np.random.rand(4, 3, 3), ["a", "b", "c", "d"], "filters"),
        step_figure(board(make_scene(geo, *random_values(geo))), 0),
    ]
    for figure in figures:
        for colour in (figure.layout.plot_bgcolor, figure.layout.paper_bgcolor):
            assert colour is None or (colour.replace(" ", "").startswith("rgba(") and not colour.endswith(",1)"))


@pytest.mark.parametrize("cmap", COLORMAPS)
def test_heatmap_colours_survive_streamlits_theme(cmap):
    """Streamlit's chart theme swaps the hex colours #000001…#000030 for theme colours in the browser; inferno
    and magma start at #000004, so their zero was drawn pink. The figures give rgb() stops instead."""
    values = np.arange(12.0).reshape(3, 4)
    for figure in (channel_figure(values, "t", cmap), raw_map_figure(values, cmap)):
        scale = figure.data[0].colorscale
        assert not any(re.fullmatch(r"#0000[0-3]\d", str(colour), re.IGNORECASE) for _, colour in scale)
        assert scale[0][1] == "rgb({}, {}, {})".format(*colormap(cmap)[0])
        assert scale[-1][1] == "rgb({}, {}, {})".format(*colormap(cmap)[255])
