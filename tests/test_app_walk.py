"""AppTest: walk every lesson step, tab and operation; the URL the app writes holds only settings the page
declares, and every link the app itself makes (its URL, and the page links it shows) opens without a notice."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.arithmetic import ARITHMETIC_TABS
from cnnviz.arithmetic.geometry import OP_NAMES
from cnnviz.explain import EXPLAIN_TABS
from cnnviz.learn.lessons import LESSONS
from cnnviz.links import PAGE_PARAMS
from cnnviz.network import NETWORK_TABS
from cnnviz.ui.navigation import PAGES
from tests.apptest import assert_no_exception, fresh_caches, navigation_mode, open_link  # noqa: F401 (fixtures)

SCRIPTS = {Path(page.path).stem: page.path for page in PAGES if Path(page.path).stem != "home"}
"""Every page but Home (the app's own script), by its name in PAGE_PARAMS."""
WALKS = [
    *(("learn", "lesson", str(lesson.number)) for lesson in LESSONS),
    *(("network", "tab", tab) for tab in NETWORK_TABS),
    *(("explain", "xtab", tab) for tab in EXPLAIN_TABS),
    *(("arithmetic", "op", name) for name in OP_NAMES.values()),
    *(("arithmetic", "atab", tab) for tab in ARITHMETIC_TABS),
]
DEFAULTS = {"lesson": "1", "tab": NETWORK_TABS[0], "xtab": EXPLAIN_TABS[0], "op": OP_NAMES["conv"]}
DEFAULTS["atab"] = ARITHMETIC_TABS[0]
"""Each walk's first value: Streamlit leaves a control at its default out of the URL."""


def _notices(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if w.value.startswith("Some settings in this link")]


def _url(at: AppTest) -> dict[str, str]:
    """The query string the run left in the browser's address bar."""
    return {key: value[-1] if isinstance(value, list) else value for key, value in at.query_params.items()}


def _script(path: str) -> str | None:
    stem = path.rsplit("/", 1)[-1].removesuffix(".py")
    return SCRIPTS.get(stem)


@pytest.mark.slow
@pytest.mark.parametrize(("page", "key", "value"), WALKS, ids=[f"{p}-{k}={v}" for p, k, v in WALKS])
def test_the_links_a_page_makes_are_settings_it_declares(page, key, value):
    at = open_link(SCRIPTS[page], {key: value})
    assert_no_exception(at)
    assert not _notices(at)
    url = _url(at)
    assert url.get(key, DEFAULTS[key]) == value  # the walk reached the step, tab or operation it asked for
    assert set(url) <= set(PAGE_PARAMS[page]), sorted(set(url) - set(PAGE_PARAMS[page]))
    again = open_link(SCRIPTS[page], url)  # the copied link
    assert_no_exception(again)
    assert not _notices(again), _notices(again)
    assert _url(again) == url
    links = [e.proto for e in at.get("page_link") if e.proto.query_string]
    for link in links:  # the page links it shows (Learn's to the arithmetic presets)
        target = _script(link.page)
        query = dict(parse_qsl(link.query_string))
        assert target is not None and set(query) <= set(PAGE_PARAMS[target.split("/")[1][:-3]]), link.page
        opened = open_link(target, query)
        assert_no_exception(opened)
        assert not _notices(opened), (link.label, _notices(opened))


@pytest.mark.slow
@pytest.mark.parametrize("page", [name for name, settings in PAGE_PARAMS.items() if not settings])
def test_the_pages_without_settings_keep_none_in_the_url(page):
    at = open_link(SCRIPTS.get(page), {})
    assert_no_exception(at)
    assert PAGE_PARAMS[page] == {} and _url(at) == {}
    assert not _notices(at)
