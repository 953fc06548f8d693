"""Real-browser tests: the app served by ``streamlit run``, driven in Chromium through Playwright."""

from __future__ import annotations

import pytest

from tests.browser import CHROMIUM_FLAGS, chromium_path, streamlit_server

pytestmark = pytest.mark.browser
LOAD_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    torch_home = tmp_path_factory.mktemp("torch_home")  # no real weights cache: the offline experience
    with streamlit_server({"TORCH_HOME": str(torch_home)}) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


def select_option(page, label: str, option: str) -> None:
    """Pick ``option`` in the Streamlit selectbox labelled ``label``."""
    page.get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_home_renders_and_a_sample_gets_a_prediction_chart(server, page, tmp_path):
    page.goto(server)
    page.get_by_role("heading", name="cnnviz").wait_for(timeout=LOAD_TIMEOUT_MS)
    page.get_by_test_id("stPlotlyChart").wait_for(timeout=LOAD_TIMEOUT_MS)
    assert page.get_by_text("TinyVGG").first.is_visible()

    select_option(page, "Sample image", "synthetic: star")
    page.get_by_text("Prediction: star").wait_for(timeout=LOAD_TIMEOUT_MS)
    chart = page.get_by_test_id("stPlotlyChart")
    chart.locator(".js-plotly-plot").wait_for()
    assert "star" in chart.inner_text()

    select_option(page, "Sample image", "photo: coffee")
    page.get_by_text("photo: coffee").first.wait_for()
    page.get_by_text("Prediction:").wait_for(timeout=LOAD_TIMEOUT_MS)
    assert page.get_by_test_id("stException").count() == 0
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)


def test_a_page_url_as_the_first_request_of_a_fresh_server(tmp_path_factory, browser):
    # A fresh server starts in Streamlit's legacy pages/ mode; the page must still come through app.py.
    with streamlit_server({"TORCH_HOME": str(tmp_path_factory.mktemp("torch_home"))}) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(f"{url}/home")
        page.get_by_test_id("stPlotlyChart").wait_for(timeout=LOAD_TIMEOUT_MS)
        assert page.get_by_test_id("stSidebarNav").count() == 0  # no legacy "app / home" navigation
        assert page.get_by_test_id("stException").count() == 0
        assert page.get_by_test_id("stSelectbox").filter(has_text="Model").count() == 1
        context.close()
