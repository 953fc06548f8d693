"""One model of an arithmetic step (cnnviz.arithmetic.board): the browser player's payload, the Plotly figure and
the GIF show the same grids, numbers, marks and colours at every step."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from cnnviz.arithmetic.animation import _BASE, _banded, gif_bytes, step_figure
from cnnviz.arithmetic.board import board, change, num_frames, state
from cnnviz.arithmetic.levels import LEVELS, band_range, colour_levels, rgb
from cnnviz.arithmetic.player import payload
from tests.reference import replay
from tests.test_player import CASES, scene_for


def plotly_band(trace, value: float) -> int:
    """The band Plotly colours ``value`` with in ``trace``: its position between zmin and zmax, as Plotly maps it."""
    t = (value - trace.zmin) / (trace.zmax - trace.zmin)
    return min(LEVELS - 1, max(0, int(np.floor(t * LEVELS))))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[-1]}-{c[5]}x{c[6]}")
def test_state_is_what_replaying_every_change_gives(case):
    """The figure and the GIF draw ``state`` at a step; the player replays every change up to it: the same text."""
    *args, view = case
    scene = scene_for(*args)
    b = board(scene, view)
    data = json.loads(json.dumps(payload(scene, view)))
    for index in range(b.steps):
        replayed = replay(data, index)
        now = change(b, index)
        for pid, (grid, values) in enumerate(zip(b.grids, state(b, now), strict=True)):
            assert grid.written(values).ravel().tolist() == replayed[pid], (index, grid.title)
        assert [[pid, list(cells)] for pid, cells in now.red] == data["steps"][index]["red"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[-1]}-{c[5]}x{c[6]}")
def test_the_figure_colours_each_cell_with_the_players_level(case):
    *args, view = case
    scene = scene_for(*args)
    b = board(scene, view)
    data = payload(scene, view)
    index = b.steps // 2 + 1
    now = change(b, index)
    figure = step_figure(board(scene, view), index)
    shown = [pid for row in b.layouts[now.out_channel] for pid in row]
    assert [a.text for a in figure.layout.annotations if a.text] == [b.grids[pid].title for pid in shown]
    levels = replay(data, index, "level")
    for trace, pid in zip(figure.data, shown, strict=True):
        z = np.asarray(trace.z, float).ravel()
        for cell in np.flatnonzero(np.isfinite(z)):
            assert plotly_band(trace, z[cell]) == levels[pid][cell], (b.grids[pid].title, cell)
        colours = {c for _, c in trace.colorscale}
        assert colours == set(c for _, c in _banded(b.grids[pid].palette))


def test_band_range_puts_halves_on_the_upper_level_as_colour_levels_does():
    values = np.arange(0.0, 63.0)  # on a 0..62 scale over 32 levels, every odd value lies half-way
    zmin, zmax = band_range(LEVELS, 0.0, 62.0)
    t = (values - zmin) / (zmax - zmin)
    np.testing.assert_array_equal(np.minimum(np.floor(t * LEVELS), LEVELS - 1), colour_levels(values, LEVELS))
    np.testing.assert_array_equal(colour_levels(np.array([1.0, 3.0]), LEVELS, 0.0, 62.0), [1, 2])


def test_gif_cells_take_the_players_colours_and_marks():
    """First frame of a 1-channel convolution: the output's first cell and each input cell drawn in the colour of
    the player's level, the read window outlined in red."""
    scene = scene_for("conv", 4, 3, 1, 0, 1, 1)
    b = board(scene, "window")
    data = payload(scene, "window")
    frame = Image.open(io.BytesIO(gif_bytes(board(scene, "window"))))
    palette = np.array(frame.getpalette()[: 3 * 256]).reshape(-1, 3)
    pixels = np.asarray(frame)
    counts = {tuple(palette[v]): (pixels == v).sum() for v in np.unique(pixels)}
    written = data["steps"][0]["set"][-1]  # the output cell of step 0
    out = b.grids[written[0]]
    assert counts[rgb(out.palette, written[3])] > 0
    for level in set(data["panels"][0]["level"]):
        assert tuple(palette[_BASE["input"] + level]) == rgb("input", level)
        assert counts.get(rgb("input", level), 0) > 0
    assert counts.get((214, 39, 40), 0) > 0  # the red window
    assert num_frames(scene, "window") == frame.n_frames
