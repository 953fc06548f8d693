"""cnnviz.ui.controls.bound: every kind of control is made from its declared setting (widget, label, help, range or
choices, default), so that the link check and the control cannot disagree."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.params import WIDGETS, choices, name, whole
from cnnviz.ui.controls import control_label, offered_choices


def page() -> None:
    import streamlit as st

    from cnnviz import params as p
    from cnnviz.ui.controls import bound

    choices, flag, name, numbers, whole = p.choices, p.flag, p.name, p.numbers, p.whole
    declared = {
        "size": whole(1, 32, 5, "Input size{axis}", help="How many cells."),
        "seed": whole(0, 99, 7, "Seed", widget="number_input"),
        "square": flag("Height = width", True),
        "bias": flag("Bias", widget="checkbox"),
        "speed": numbers(("0.5", "1", "2"), "1", "Speed"),
        "order": choices(["channel", "mean", "max"], "mean", "Order", widget="radio"),
        "map": choices(["viridis", "gray"], label="Colour map"),
        "op": choices(["Convolution", "Max pooling"], "Max pooling", "Operation", widget="segmented_control"),
        "layer": name("Layer"),
    }
    values = [
        bound(st.container(), "size", declared["size"], limit=20, texts={"axis": " (height)"}),
        bound(st.container(), "seed", declared["seed"]),
        bound(st.container(), "square", declared["square"]),
        bound(st.container(), "bias", declared["bias"]),
        bound(st.container(), "speed", declared["speed"]),
        bound(st.container(), "order", declared["order"]),
        bound(st.container(), "map", declared["map"]),
        bound(
            st.container(),
            "op",
            declared["op"],
            options=["conv", "max"],
            format_func=lambda o: {"conv": "Convolution", "max": "Max pooling"}[o],
        ),
        bound(st.container(), "layer", declared["layer"], options=["features.0", "features.3"], default="features.3"),
    ]
    st.write(repr(values))


def test_each_control_takes_its_widget_label_help_range_and_default_from_the_declaration():
    at = AppTest.from_function(page).run()
    assert not at.exception
    size = at.slider(key="size")
    assert (size.label, size.help, size.min, size.max, size.value) == (
        "Input size (height)",
        "How many cells.",
        1,
        20,
        5,
    )
    seed = at.number_input(key="seed")
    assert (seed.label, seed.min, seed.max, seed.value) == ("Seed", 0, 99, 7)
    assert (at.toggle(key="square").label, at.toggle(key="square").value) == ("Height = width", True)
    assert (at.checkbox(key="bias").label, at.checkbox(key="bias").value) == ("Bias", False)
    assert at.select_slider(key="speed").options == ["0.5", "1", "2"] and at.select_slider(key="speed").value == 1
    assert at.radio(key="order").options == ["channel", "mean", "max"] and at.radio(key="order").value == "mean"
    assert at.selectbox(key="map").options == ["viridis", "gray"] and at.selectbox(key="map").value == "viridis"
    assert at.selectbox(key="map").label == "Colour map"
    assert at.selectbox(key="layer").value == "features.3"
    assert at.markdown[-1].value == repr([5, 7, True, False, 1, "mean", "viridis", "max", "features.3"])
    at.selectbox(key="map").set_value("gray").run()
    assert "'gray'" in at.markdown[-1].value
    at.slider(key="size").set_value(12).run()
    at.selectbox(key="layer").set_value("features.0").run()  # a value held wins over the default
    assert at.markdown[-1].value == repr([12, 7, True, False, 1, "mean", "gray", "max", "features.0"])


def test_undeclared_choices_labels_and_widgets_are_refused():
    with pytest.raises(ValueError, match=r"x offers \['z'\], which its declaration lacks"):
        offered_choices("x", choices(["a", "b"], label="X"), ["a", "z"])
    assert offered_choices("x", choices(["A", "b"]), ["a"], str.upper) == (["a"], ["A"])  # as the link writes it
    with pytest.raises(ValueError, match="the page must offer the layers"):
        offered_choices("x", name("Layer"), None)
    with pytest.raises(ValueError, match="declared without a label"):
        control_label("x", whole(1, 3, 1))
    assert control_label("x", whole(1, 3, 1, "Size{axis}"), {"axis": " (width)"}) == "Size (width)"
    with pytest.raises(ValueError, match="not radio"):
        whole(1, 3, 1, "X", widget="radio")
    with pytest.raises(ValueError, match="outside"):
        whole(1, 3, 5, "X")


def test_every_declared_setting_of_every_page_has_a_label_and_a_widget_for_its_kind():
    """The controls are made from these declarations: a page or lesson setting added without its label fails here."""
    from cnnviz.links import PAGE_PARAMS

    for page, settings in PAGE_PARAMS.items():
        for key, setting in settings.items():
            assert control_label(key, setting), (page, key)
            assert setting.control in WIDGETS[setting.kind], (page, key)


def layers_page() -> None:
    import streamlit as st

    from cnnviz.params import name
    from cnnviz.ui.controls import bound

    convs = st.session_state.get("_convs", ["conv1", "layer4.conv2"])
    st.write(bound(st.container(), "layer", name("Layer"), options=convs, default=convs[-1]))


def test_a_held_choice_another_case_offered_gives_way_to_this_cases_default():
    """Another model's layer, held from before the model changed, is not this model's first layer but its default."""
    at = AppTest.from_function(layers_page).run()
    at.selectbox(key="layer").set_value("conv1").run()
    assert at.markdown[-1].value == "conv1"
    at.session_state["_convs"] = ["features.0", "features.3", "features.6"]
    at.run()
    assert at.markdown[-1].value == "features.6" and at.selectbox(key="layer").value == "features.6"
