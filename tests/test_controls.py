"""cnnviz.ui.controls' choice control: its options and first value are the declared setting's."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.params import choices, ints
from cnnviz.ui.controls import setting_choice


def page() -> None:
    import streamlit as st

    from cnnviz.params import choices
    from cnnviz.ui.controls import setting_choice

    st.write(setting_choice(st.container(), "Order", "order", choices(["channel", "mean", "max"], "mean"), radio=True))
    st.write(setting_choice(st.container(), "Map", "map", choices(["viridis", "gray"])))


def test_options_and_default_come_from_the_declaration():
    at = AppTest.from_function(page).run()
    assert at.radio(key="order").options == ["channel", "mean", "max"] and at.radio(key="order").value == "mean"
    assert at.selectbox(key="map").options == ["viridis", "gray"] and at.selectbox(key="map").value == "viridis"
    at.selectbox(key="map").set_value("gray").run()
    assert [m.value for m in at.markdown] == ["mean", "gray"]  # the URL's side: tests/test_app_walk.py


def test_a_setting_that_is_not_a_choice_is_refused():
    with pytest.raises(ValueError, match="not a choice"):
        setting_choice(None, "Size", "i", ints(i=(1, 32, 5))["i"])  # type: ignore[arg-type]
    assert choices(["a"]).kind == "choice"
