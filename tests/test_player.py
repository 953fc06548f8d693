"""The browser player's payload (cnnviz.arithmetic.player) against the step functions and PyTorch's own output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnviz.arithmetic import geometry as ar
from cnnviz.arithmetic.board import fmt, step_caption
from cnnviz.arithmetic.player import MAX_PLAYER_CELLS, fits, payload
from cnnviz.arithmetic.steps import make_scene, random_values, scatter_partial, step
from tests.reference import replay

CASES = [
    ("conv", 5, 3, 2, 1, 1, 1, "window"),
    ("conv", 7, 3, 1, 0, 2, 2, "window"),  # two input and two output channels
    ("conv", 7, 3, 1, "same", 1, 1, "window"),
    ("maxpool", 6, 2, 2, 1, 2, 2, "window"),
    ("avgpool", 5, 3, 2, 1, 1, 1, "window"),
    ("transposed", 3, 3, 2, 1, 1, 1, "direct"),
    ("transposed", 3, 3, 2, 1, 2, 2, "scatter"),
]


def scene_for(op, size, kernel, stride, padding, cin, cout, seed=0):
    geo = ar.geometry(op, size, kernel, stride, padding)
    return make_scene(geo, *random_values(geo, cin, cout if op in ("conv", "transposed") else cin, seed, True))


def panel_text(data, title_start, texts):
    (pid,) = [i for i, p in enumerate(data["panels"]) if p["title"].startswith(title_start)]
    panel = data["panels"][pid]
    return np.array(texts[pid], dtype=object).reshape(panel["rows"], panel["cols"])


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[-1]}-{c[5]}x{c[6]}")
def test_every_step_ends_with_pytorchs_output_and_the_pages_captions(case):
    *args, view = case
    scene = scene_for(*args)
    data = json.loads(json.dumps(payload(scene, view)))  # what the browser receives
    n = len(data["steps"])
    assert [s["caption"] for s in data["steps"]] == [step_caption(scene, i, view) for i in range(n)]
    out_channels = scene.output.shape[0]
    per_channel = n // out_channels
    for oc in range(out_channels):
        last = replay(data, (oc + 1) * per_channel - 1)
        title = "Output so far" if view == "scatter" else "Output"
        title += f" · out ch {oc + 1}" if out_channels > 1 else ""
        expected = np.vectorize(lambda v: fmt(float(v)))(scene.output[oc])
        np.testing.assert_array_equal(panel_text(data, title, last), expected)


def test_window_steps_mark_the_taps_of_the_step_function():
    scene = scene_for("conv", 5, 3, 2, 1, 1, 1)
    data = payload(scene)
    for index in range(len(data["steps"])):
        st = step(scene, index)
        red = {pid: set(cells) for pid, cells in data["steps"][index]["red"]}
        cols = data["panels"][0]["cols"]  # the padded input: 7 columns
        assert red[0] == {(t.row + 1) * cols + (t.col + 1) for t in st.taps}
        assert red[1] == set(range(9))  # every kernel tap
        products = panel_text(data, "Products", replay(data, index)).ravel().tolist()
        assert products == [fmt(t.product) for t in sorted(st.taps, key=lambda t: (t.k_row, t.k_col))]
        output = panel_text(data, "Output", replay(data, index)).ravel()
        assert (output != "").sum() == index + 1  # cells are written one per step
    assert list(data["panels"][0]["frame"]) == [1, 1, 5, 5]  # the real input inside the padding ring
    assert len(data["panels"][0]["grey"]) == 7 * 7 - 5 * 5


def test_scatter_output_so_far_matches_the_partial_sums():
    scene = scene_for("transposed", 3, 3, 2, 1, 1, 1)
    data = payload(scene, "scatter")
    for index in range(len(data["steps"])):
        expected = np.vectorize(lambda v: fmt(float(v)))(scatter_partial(scene, index))
        np.testing.assert_array_equal(panel_text(data, "Output so far", replay(data, index)), expected)


def test_payload_identity_changes_with_the_case_and_only_with_it():
    a, b = scene_for("conv", 5, 3, 1, 0, 1, 1), scene_for("conv", 5, 3, 1, 0, 1, 1, seed=1)
    assert payload(a)["id"] == payload(scene_for("conv", 5, 3, 1, 0, 1, 1))["id"]
    assert payload(a)["id"] != payload(b)["id"]


def test_large_cases_are_refused_before_building():
    big = scene_for("conv", 32, 7, 1, 0, 3, 2)
    assert not fits(big, "window")
    with pytest.raises(ValueError, match="too many steps"):
        payload(big)
    small = scene_for("conv", 16, 3, 1, 1, 1, 1)
    assert fits(small, "window") and len(json.dumps(payload(small))) < MAX_PLAYER_CELLS * 20
