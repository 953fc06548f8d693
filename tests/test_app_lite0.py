"""Every page with a model works on EfficientNet-Lite0, the photo model that ships with the install: each tab of
Inside the network and Explain, and Learn, on the shipped cat photo (the sidebar switches to the model itself)."""

from __future__ import annotations

import pytest

from cnnviz.explain import EXPLAIN_TABS
from cnnviz.models.lite0 import LITE0
from cnnviz.network import NETWORK_TABS
from tests.apptest import assert_no_exception, fresh_caches, open_tab, start  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow
TABS = [("pages/network.py", "tab", t) for t in NETWORK_TABS] + [("pages/explain.py", "xtab", t) for t in EXPLAIN_TABS]


def on_the_cat(page: str):
    at = start(page)
    at.sidebar.selectbox(key="sample_name").set_value("photo: cat").run(timeout=60)
    assert_no_exception(at)
    assert at.sidebar.selectbox(key="model_key").value == LITE0
    return at


@pytest.mark.parametrize(("page", "key", "tab"), TABS)
def test_every_tab_works_on_the_photo_model(page, key, tab):
    at = on_the_cat(page)
    at.session_state[key] = tab
    at.run(timeout=120)
    assert_no_exception(at)
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("page", ["pages/home.py", "pages/learn.py", "pages/arithmetic.py", "pages/transfer.py"])
def test_the_other_pages_work_on_the_photo_model(page):
    at = on_the_cat(page)
    assert not at.error, [e.value for e in at.error]


def test_explain_names_a_cat_on_the_cat_photo():
    at = on_the_cat("pages/explain.py")
    text = " ".join(m.value for m in at.markdown)
    assert any(cat in text for cat in ("Egyptian cat", "tiger cat", "tabby")), text[:300]
