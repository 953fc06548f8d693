"""The drawing canvas's strokes: hostile ones refused before anything is drawn, good ones drawn as the canvas
draws them (round brush), checked pixel by pixel against geometry worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnviz.data.drawing import CANVAS_SIZE, MAX_POINTS, MAX_STROKES, DrawingError, parse_strokes, render


def stroke(points, size=10, colour="#102030"):
    return {"size": size, "colour": colour, "points": [list(p) for p in points]}


@pytest.mark.parametrize(
    "value",
    [
        "not a list",
        [stroke([(1, 1)])] * (MAX_STROKES + 1),
        [stroke([(1, 1)] * (MAX_POINTS // 2)), stroke([(1, 1)] * (MAX_POINTS // 2 + 1))],
        [stroke([(float("nan"), 1)])],
        [stroke([(math.inf, 1)])],
        [stroke([(True, 1)])],
        [stroke([(1, 1)], size=1)],
        [stroke([(1, 1)], size=61)],
        [stroke([(1, 1)], colour="red")],
        [stroke([(1, 1)], colour="#12345g")],
        [stroke([(1, 1)], colour="#123456<script>")],
        [stroke([(-1, 1)])],
        [stroke([(1, CANVAS_SIZE + 1)])],
        [stroke([])],
        [{"size": 10, "colour": "#000000", "points": [[1, 2, 3]]}],
        [{"size": "10", "colour": "#000000", "points": [[1, 2]]}],
        [{"colour": "#000000", "points": "1,2"}],
        [["not", "a", "dict"]],
    ],
)
def test_hostile_strokes_are_refused(value):
    with pytest.raises(DrawingError):
        parse_strokes(value)


def test_a_dot_and_a_line_are_drawn_with_a_round_brush():
    assert parse_strokes(None) == [] and parse_strokes([]) == []
    strokes = parse_strokes([stroke([(64, 64)], size=20, colour="#FF0000"), stroke([(100, 200), (200, 200)])])
    assert strokes[0].colour == "#ff0000"
    picture = np.asarray(render(strokes))
    assert picture.shape == (CANVAS_SIZE, CANVAS_SIZE, 3)
    ys, xs = np.nonzero((picture == [255, 0, 0]).all(-1))
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (54, 73, 54, 73)  # the pixels whose centres lie in the disc
    assert len(ys) == pytest.approx(math.pi * 10**2, rel=0.1)
    line = (picture == [0x10, 0x20, 0x30]).all(-1)
    assert line[196:204, 100:201].all() and not line[193].any() and not line[206].any()  # 10 px wide (±1)
    assert line[200, 95] and not line[200, 89]  # a round cap: half the brush past the end
    assert (picture[10, 10] == 255).all()  # the background
    half = np.asarray(render(strokes, size=128))
    assert (half[32, 32] == [255, 0, 0]).all()  # drawn at another size, to scale
