"""Streamlit AppTest for the convolution arithmetic page."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from markdown_it import MarkdownIt

from cnnviz.arithmetic import geometry as ar
from cnnviz.arithmetic.board import step_caption
from cnnviz.arithmetic.kernels import grayscale_crop
from cnnviz.arithmetic.steps import make_scene, random_values
from cnnviz.data.samples import load_sample
from tests.apptest import (  # noqa: F401 (fixtures)
    assert_no_exception,
    fresh_caches,
    navigation_mode,
    open_link,
    open_tab,
    player_data,
    start,
)
from tests.test_text import table_cells

PAGE = "pages/arithmetic.py"
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def output_size_text(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Output size"))


BIG = {"i": "32", "k": "7", "cin": "3", "cout": "2"}  # 1352 steps: too many for the browser player


def step_text(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("step "))


def player(at) -> dict:
    return player_data(at)


def captions(at) -> list[str]:
    return [s["caption"] for s in player(at)["steps"]]


def test_default_view_sends_every_step_to_the_browser_player():
    at = start(PAGE)
    assert at.title[0].value == "Convolution arithmetic"
    assert output_size_text(at) == "**Output size: 3 × 3**"  # input 5, kernel 3
    data = player(at)
    assert len(data["steps"]) == 9 and data["speed"] == 2 and data["present"] is False
    assert [p["title"] for p in data["panels"]] == ["Input 5×5", "Kernel", "Products", "Output 3×3"]
    assert captions(at)[0].startswith("output (0, 0) = ") and captions(at)[8].startswith("output (2, 2) = ")
    assert len(at.latex) == 1 and at.latex[0].value.strip("$\n").endswith(r"= 3 \end{aligned}")
    assert r"\text{height and width:}" in at.latex[0].value  # one formula serves both axes
    assert "step_figure" not in [c.key for c in at.get("plotly_chart")]  # no figure is drawn per step


@pytest.mark.slow
def test_a_case_too_big_for_the_browser_steps_on_the_server():
    at = start(PAGE, BIG)
    assert not at.get("bidi_component")
    assert any("too many to send to the browser" in c.value for c in at.caption)
    at.button(key="step_forward").click().run()
    at.button(key="step_forward").click().run()
    assert step_text(at) == "step 3 of 1352"
    assert any(m.value.startswith("output (0, 2) · out ch 1: in ch 1:") for m in at.markdown)
    at.button(key="step_back").click().run()
    assert step_text(at) == "step 2 of 1352"
    at.slider(key="step").set_value(28).run()
    assert any(m.value.startswith("output (1, 1) · out ch 1: in ch 1:") for m in at.markdown)
    at.button(key="step_first").click().run()
    assert step_text(at) == "step 1 of 1352"
    assert_no_exception(at)


@pytest.mark.parametrize("preset", ar.PRESETS, ids=lambda p: p.key)
def test_each_preset_sets_the_papers_sizes(preset):
    at = start(PAGE)
    at.selectbox(key="preset").set_value(preset.key).run()
    assert_no_exception(at)
    n = preset.expected_output
    assert output_size_text(at) == f"**Output size: {n} × {n}**"
    assert at.selectbox(key="preset").value == preset.key


@pytest.mark.parametrize("preset", ar.PRESETS, ids=lambda p: p.key)
def test_a_link_that_names_only_a_preset_shows_its_papers_case(preset):
    """`/arithmetic?preset=Dilation` is the paper's dilation case (7×7 input, dilation 2), not the label over the
    default 5×5 input."""
    at = open_link(PAGE, {"preset": preset.title})
    assert_no_exception(at)
    n = preset.expected_output
    assert output_size_text(at) == f"**Output size: {n} × {n}**"
    assert at.selectbox(key="preset").value == preset.key
    assert (at.slider(key="i").value, at.slider(key="k").value) == (preset.input_size, preset.kernel_size)
    at.run()  # and it stays so on the next run
    assert output_size_text(at) == f"**Output size: {n} × {n}**" and at.selectbox(key="preset").value == preset.key


def test_a_link_that_names_a_preset_and_changes_a_control_shows_the_change_as_custom():
    at = open_link(PAGE, {"preset": "Dilation", "i": "9"})
    assert_no_exception(at)
    assert at.slider(key="i").value == 9 and at.slider(key="d").value == 2  # the rest of the preset, then the change
    assert output_size_text(at) == "**Output size: 5 × 5**"
    assert at.selectbox(key="preset").value == "custom"


def test_changing_a_control_marks_the_preset_custom():
    at = start(PAGE)
    at.selectbox(key="preset").set_value("dilation").run()
    at.slider(key="i").set_value(9).run()
    assert at.selectbox(key="preset").value == "custom"
    assert output_size_text(at) == "**Output size: 5 × 5**"


def test_transposed_views_and_separate_height_and_width():
    at = start(PAGE)
    at.button_group(key="op").set_value("transposed").run()
    assert at.radio(key="view").value == "scatter"
    assert captions(at)[0].startswith("Input cell (0, 0)")
    at.radio(key="view").set_value("direct").run()
    assert "zero cells skipped" in captions(at)[0]
    at.toggle(key="sq").set_value(False).run()
    at.slider(key="iw").set_value(4).run()
    assert output_size_text(at) == "**Output size: 7 × 6**"  # (5-1)+3 and (4-1)+3
    assert len(at.latex) == 2
    assert_no_exception(at)


def test_rejected_settings_are_explained():
    at = start(PAGE)
    at.slider(key="i").set_value(2).run()  # kernel 3 > input 2, no padding
    assert_no_exception(at)
    assert any(
        "PyTorch rejects this setting" in e.value and "larger than the padded input" in e.value for e in at.error
    )
    at.radio(key="pm").set_value("same").run()
    at.slider(key="s").set_value(2).run()
    assert any("strided" in e.value for e in at.error)


def test_pooling_with_ceil_mode():
    at = start(PAGE)
    at.button_group(key="op").set_value("maxpool").run()
    at.slider(key="k").set_value(2).run()
    at.slider(key="s").set_value(2).run()
    at.slider(key="p").set_value(1).run()
    at.checkbox(key="ceil").check().run()
    assert output_size_text(at) == "**Output size: 3 × 3**"
    assert any("drops it" in c.value for c in at.caption)
    assert captions(at)[0].startswith("output (0, 0) = max(")


def test_channels_and_bias():
    at = start(PAGE)
    at.slider(key="cin").set_value(3).run()
    at.slider(key="cout").set_value(2).run()
    titles = [p["title"] for p in player(at)["panels"]]
    assert "Kernel · in ch 3 → out ch 2" in titles and "Output · out ch 1 3×3" in titles
    assert len(captions(at)) == 18 and "bias" in captions(at)[0]
    at.checkbox(key="bias").uncheck().run()
    assert not any("bias" in c for c in captions(at))


def test_url_state_is_restored_and_invalid_values_are_ignored():
    at = start(PAGE, {"op": "Transposed convolution", "i": "3", "s": "2", "p": "1", "a": "1", "speed": "8"})
    assert output_size_text(at) == "**Output size: 6 × 6**"
    assert player(at)["speed"] == 8 and player(at)["start"] == 1
    assert player(start(PAGE, {"step": "4"}))["start"] == 4  # the step the browser player opens at
    big = start(PAGE, {**BIG, "step": "4"})
    assert step_text(big) == "step 4 of 1352"
    bad = start(PAGE, {"op": "nonsense", "i": "999", "k": "x", "s": "-3"})
    assert output_size_text(bad) == "**Output size: 3 × 3**"  # every bad value fell back to its default


def test_values_from_the_image_crop():
    at = start(PAGE)
    at.radio(key="vals").set_value("image").run()
    assert_no_exception(at)
    image = load_sample(at.sidebar.selectbox(key="sample_name").value)
    geo = ar.geometry("conv", 5, 3)
    _, weight, bias = random_values(geo, seed=0)
    scene = make_scene(geo, grayscale_crop(image, (5, 5))[None], weight, bias)
    assert captions(at)[0] == step_caption(scene, 0)


def test_custom_values_start_from_the_random_ones():
    at = start(PAGE)
    at.radio(key="vals").set_value("custom").run()
    assert_no_exception(at)
    x, weight, bias = random_values(ar.geometry("conv", 5, 3), seed=0)
    tables = {t.key.split("_")[1]: t.value.to_numpy() for t in at.dataframe if t.key and t.key.startswith("edit_")}
    np.testing.assert_array_equal(tables["x0"], x[0])
    np.testing.assert_array_equal(tables["w"], weight.reshape(-1, 3))
    np.testing.assert_array_equal(tables["b"][0], bias)


def test_reroll_changes_the_values():
    at = start(PAGE)
    before = captions(at)
    at.button(key="seed_reroll").click().run()
    assert at.number_input(key="seed").value == 1
    assert captions(at) != before


def test_mapping_tab():
    at = open_tab(start(PAGE), "atab", "Mapping")
    at.number_input(key="out_row").set_value(2).run()
    at.number_input(key="out_col").set_value(1).run()
    assert any(c.value.startswith("output (2, 1) = ") for c in at.caption)
    at.number_input(key="in_row").set_value(4).run()
    assert_no_exception(at)


def test_kernel_playground_and_code():
    at = open_tab(start(PAGE), "atab", "Kernel playground")
    at.selectbox(key="kernel").set_value("sobel x").run()
    assert_no_exception(at)
    playground = at.tabs[2]  # Animation, Mapping, Kernel playground
    assert len(playground.image) == 2
    assert playground.image[1].proto.imgs[0].caption.startswith("Feature map 62×62")  # 64×64 sample, 3×3 kernel
    assert not at.code  # the code tab is closed: nothing made for it
    open_tab(at, "atab", "PyTorch code")
    assert "nn.Conv2d(1, 1, kernel_size=3, stride=1, padding=0, dilation=1, bias=True)" in at.code[0].value
    assert not at.tabs[2].image and open_tab(at, "atab", "Kernel playground").selectbox(key="kernel").value == "sobel x"


def test_closed_tabs_compute_nothing_and_keep_their_choices():
    at = start(PAGE)
    _, mapping, playground, code = at.tabs
    assert player_data(at)["steps"]  # the Animation tab is open first
    assert not mapping.get("plotly_chart") and not playground.image and not code.get("code")
    at = open_tab(at, "atab", "Mapping")
    assert len(at.tabs[1].get("plotly_chart")) == 2 and not at.get("bidi_component")  # the player is not sent
    at.number_input(key="out_row").set_value(2).run()
    open_tab(open_tab(at, "atab", "Animation"), "atab", "Mapping")
    assert at.number_input(key="out_row").value == 2
    assert any(c.value.startswith("output (2, 0) = ") for c in at.caption)
    assert_no_exception(at)


@pytest.mark.slow
def test_server_player_advances_and_stops_at_the_end():
    at = start(PAGE, BIG)
    at.button(key="step_play").click().run()  # starts the player: the first tick moves one step on
    assert_no_exception(at)
    assert step_text(at) == "step 2 of 1352"
    assert at.button(key="step_play").proto.help == "Pause"
    at.slider(key="step").set_value(1352).run()  # a tick at the last step stops the player
    at.run()
    assert at.button(key="step_play").proto.help == "Play"
    assert step_text(at) == "step 1352 of 1352"


def every_ordered_pair(keys: list[str]) -> list[str]:
    """A walk through ``keys`` that makes every ordered pair (a, b), a == b included, consecutive exactly once:
    an Eulerian circuit of the complete directed graph with loops (Hierholzer)."""
    unused = {a: list(keys) for a in keys}
    stack, walk = [keys[0]], []
    while stack:
        if unused[stack[-1]]:
            stack.append(unused[stack[-1]].pop())
        else:
            walk.append(stack.pop())
    return walk[::-1]


@pytest.mark.slow
def test_every_preset_after_every_preset_shows_the_papers_case():
    keys = [p.key for p in ar.PRESETS]
    walk = every_ordered_pair(keys)
    assert len(walk) == len(keys) ** 2 + 1
    assert {(a, b) for a, b in itertools.pairwise(walk)} == {(a, b) for a in keys for b in keys}
    presets = {p.key: p for p in ar.PRESETS}
    at = start(PAGE)
    at.selectbox(key="preset").set_value(walk[0]).run()
    for before, key in itertools.pairwise(walk):
        if key == before:  # the same preset again, after a change made it "custom": it must come back whole
            at.slider(key="i").set_value(9).run()
            assert at.selectbox(key="preset").value == "custom"
        at.session_state["step"] = 5  # wherever the player was
        at.selectbox(key="preset").set_value(key).run()
        preset, n = presets[key], presets[key].expected_output
        where = f"{before} → {key}"
        assert not at.exception, where
        assert output_size_text(at) == f"**Output size: {n} × {n}**", where
        assert at.selectbox(key="preset").value == key, where
        assert at.button_group(key="op").value == preset.op, where
        expected = {
            "i": preset.input_size,
            "k": preset.kernel_size,
            "s": preset.stride,
            "d": preset.dilation,
            "p": preset.padding,
            "a": preset.output_padding,
        }
        assert {k: at.session_state[k] for k in expected} == expected, where
        assert {s.key: s.value for s in at.slider if s.key in expected}.items() <= expected.items(), where
        assert at.session_state["step"] == 1, where
        assert player(at)["steps"][0]["caption"] == captions(at)[0]


def test_presets_after_changed_controls_log_no_streamlit_warning():
    """A preset sets the controls through session state; a control also given a default would make Streamlit log
    a warning with a stack trace (once per process) on every server that shows it."""
    import logging

    from streamlit.elements.lib import policies

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    log = logging.getLogger(policies.__name__)
    log.addHandler(handler)
    policies._shown_default_value_warning = False
    try:
        at = open_link(PAGE, {"preset": "Dilation"})
        at.toggle(key="sq").set_value(False).run()
        at.radio(key="pm").set_value("valid").run()
        for preset in ("padding_strides_transposed", "full_padding_no_strides", "dilation"):
            at.selectbox(key="preset").set_value(preset).run()
            assert_no_exception(at)
    finally:
        log.removeHandler(handler)
    assert at.toggle(key="sq").value is True and output_size_text(at) == "**Output size: 3 × 3**"
    assert not [r.getMessage() for r in records]


def test_groups_flip_and_the_separable_pair_on_the_page():
    at = start(PAGE, {"cin": "4", "cout": "4", "g": "4", "i": "4", "p": "1"})
    data = player(at)
    x, w, b = random_values(ar.geometry("conv", 4, 3, 1, 1), 4, 4, seed=0, groups=4)
    scene = make_scene(ar.geometry("conv", 4, 3, 1, 1), x, w, b, groups=4)
    assert captions(at)[-1] == step_caption(scene, scene.num_steps - 1)
    assert "out ch 4 reads in ch 4 only" in captions(at)[-1]
    assert len(data["layouts"][3]) == 1  # one input row per depthwise output channel
    assert "grouping" in [c.key for c in at.get("plotly_chart")]
    at = open_tab(at, "atab", "PyTorch code")
    assert "groups=4" in at.code[0].value
    # 3 groups do not divide 4 channels: PyTorch's words, no animation
    at.session_state["g"] = 3
    at.run()
    assert at.error and "in_channels must be divisible by groups" in at.error[0].value
    assert not at.get("bidi_component")

    # the flipped kernel: the animation is the true convolution, cross-correlation shown beside it
    at = start(PAGE, {"i": "4", "flip": "true"})
    x, w, b = random_values(ar.geometry("conv", 4, 3), 1, 1, seed=0)
    flipped = make_scene(ar.geometry("conv", 4, 3), x, w, b, flip=True)
    assert captions(at)[0] == step_caption(flipped, 0)
    assert player(at)["panels"][1]["title"] == "Kernel flipped 180°"
    tables = [np.asarray(t.value, dtype=float) for t in at.dataframe]
    plain = make_scene(ar.geometry("conv", 4, 3), x, w, b)
    assert any(np.array_equal(t, plain.output[0]) for t in tables)
    assert any(np.array_equal(t, flipped.output[0]) for t in tables)

    # the depthwise-separable pair: numbers, then its two steps animated
    at = start(PAGE, {"cin": "2", "cout": "4", "i": "6"})
    pair = next(m.value for m in at.markdown if m.value.startswith("| layer"))
    rows = table_cells(MarkdownIt("gfm-like"), pair)
    assert rows[0] == ["layer", "weights", "multiply-accumulates"]
    assert [row[1] for row in rows[1:5]] == ["76", "20", "12", "32"]  # 4·2·9+4; 2·9+2; 4·2+4; 20+12
    at.button(key="show_depthwise").click().run()
    assert at.session_state["g"] == 2 and at.session_state["cout"] == 2
    assert len(player(at)["layouts"][0]) == 1
    at.session_state["g"] = 1
    at.session_state["cout"] = 4
    at.run()
    at.button(key="show_pointwise").click().run()
    assert (
        at.session_state["k"] == 1 and at.session_state["i"] == 4 and output_size_text(at) == "**Output size: 4 × 4**"
    )
