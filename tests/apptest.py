"""Helpers for Streamlit AppTest tests."""

from __future__ import annotations

import json
import re

import pytest
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from cnnviz.server import results
from tests.conftest import ROOT

TIMEOUT = 120  # the first run loads torch and the model


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch):
    """Run the app as the server does once ``st.navigation`` has been called.

    Because a ``pages/`` folder sits beside ``app.py``, Streamlit starts in its legacy multipage mode until
    the first ``st.navigation`` call turns that off for the whole process. AppTest resets the flag before
    every run, so its reruns would execute the page alone; keep it off as the server does.
    """
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture(autouse=True)
def fresh_caches():
    """Each test starts without models or images cached by an earlier one."""
    st.cache_resource.clear()
    st.cache_data.clear()
    results.clear_all()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()
    results.clear_all()


def shown(markdown: str) -> str:
    """The text a Markdown source shows where it escapes punctuation (visitor text goes through
    :func:`cnnviz.text.md`): AppTest reads an element's source, the browser shows this."""
    return re.sub(r"\\([!-/:-@[-`{-~])", r"\1", markdown)


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def open_link(page: str | None = None, query: dict[str, str] | None = None) -> AppTest:
    """What a browser does with a link to ``page`` (Home when None) with ``query``: a fresh session whose first
    run of that page sees the query. Exceptions are left for the caller to check."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if page:
        at.run()
        at.switch_page(page)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def start(page: str | None = None, query: dict[str, str] | None = None) -> AppTest:
    """Run the app (on ``page`` when given, with ``query`` as the URL's query parameters)."""
    at = open_link(page, query)
    assert_no_exception(at)
    return at


def player_data(at: AppTest) -> dict:
    """The data the arithmetic page sent to the browser step player (cnnviz.arithmetic.player.payload, options)."""
    (element,) = [e for e in at.get("bidi_component") if e.proto.component_name == "cnnviz_step_player"]
    return json.loads(element.proto.json)


def open_tab(at: AppTest, key: str, label: str) -> AppTest:
    """``at`` after a click on tab ``label`` of the tabs kept under ``key`` (AppTest cannot click a tab; a closed tab
    computes nothing, so its contents appear only once it is open)."""
    at.session_state[key] = label
    if key in at.query_params:  # a tab named by the link: the link is what a click changes
        at.query_params[key] = label
    return at.run()
