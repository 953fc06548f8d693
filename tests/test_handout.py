"""The arithmetic page's handout: its numbers against PyTorch and the page's own captions, and Chromium printing it
to PDF on A4 and Letter (page count, every step's numbers in the text)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnviz.arithmetic import geometry as ar
from cnnviz.arithmetic.board import step_caption
from cnnviz.arithmetic.handout import MAX_STEPS, handout_html, setting_text
from cnnviz.arithmetic.steps import make_scene, random_values
from tests.browser import chromium


def scene_of(op: str, size: int, kernel: int, stride: int = 1, padding: int = 0, cin: int = 1, cout: int = 1, seed=0):
    geo = ar.geometry(op, size, kernel, stride, padding)
    x, weight, bias = random_values(geo, cin, cout, seed, op in ("conv", "transposed"))
    return make_scene(geo, x, weight, bias)


def test_the_handout_holds_the_setting_the_formula_the_grids_and_every_step():
    scene = scene_of("conv", 5, 3, 2, 1, cin=2, cout=2)
    page = handout_html(scene)
    assert setting_text(scene) in page.replace("&#x27;", "'")
    assert "o = ⌊(i + 2p - d(k-1) - 1) / s⌋ + 1 = ⌊(5 + 2 · 1 - 1 · (3-1) - 1) / 2⌋ + 1 = 3" in page
    reference = F.conv2d(torch.tensor(scene.x)[None], torch.tensor(scene.weight), torch.tensor(scene.bias), 2, 1)[0]
    assert np.allclose(reference.numpy(), scene.output)
    for n in range(scene.num_steps):
        assert f"<li>{step_caption(scene, n)}</li>" in page
    assert "nn.Conv2d(2, 2, kernel_size=3, stride=2, padding=1" in page
    assert page.count('<table class="grid">') == 2 + 4 + 1 + 2  # inputs, kernels, bias, outputs


def test_a_handout_escapes_and_cuts_long_cases():
    big = scene_of("conv", 32, 3, cin=2, cout=1)
    page = handout_html(big)
    assert page.count("<li>") == MAX_STEPS < big.num_steps
    assert f"The first {MAX_STEPS} of {big.num_steps} steps" in page
    assert "<script" not in page


def printed(page_html: str, paper: str, browser) -> tuple[int, str]:
    """Chromium's print of ``page_html`` on ``paper``: its page count and its text."""
    from pypdf import PdfReader

    page = browser.new_page()
    page.set_content(page_html)
    pdf = page.pdf(format=paper, print_background=False)
    page.close()
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), "\n".join(p.extract_text() for p in reader.pages)


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.mark.browser
@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_chromium_prints_the_handout_with_every_number(browser, paper):
    small = scene_of("conv", 5, 3, 2, 1)  # Dumoulin & Visin's padding with strides: 9 steps
    pages, text = printed(handout_html(small), paper, browser)
    assert pages == 1
    flat = re.sub(r"\s+", " ", text)
    for n in range(small.num_steps):
        assert re.sub(r"\s+", " ", step_caption(small, n)) in flat, n
    assert "= 3" in flat and "nn.Conv2d(1, 1, kernel_size=3, stride=2, padding=1" in flat

    long = scene_of("maxpool", 12, 2, 1, cin=3)  # 363 steps: several pages, none empty, all steps in order
    pages, text = printed(handout_html(long), paper, browser)
    assert 5 <= pages <= 14, pages
    flat = re.sub(r"\s+", " ", text)
    places = [flat.find(re.sub(r"\s+", " ", step_caption(long, n))) for n in range(0, long.num_steps, 11)]
    assert all(p >= 0 for p in places) and places == sorted(places)


PLAIN_TEXT = """() => [...document.querySelectorAll(
    '[data-testid="stMain"] :is([data-testid="stMarkdown"], [data-testid="stCaptionContainer"],'
    + ' [data-testid="stMetric"])'
)].filter(e => !e.querySelector('.katex') && !e.closest('[data-testid="stWidgetLabel"]') && e.offsetParent !== null)
  .map(e => e.innerText).join('\\n')"""
"""The text a step writes (its sentences, captions and results), not its controls' labels and ranges."""


@pytest.mark.browser
def test_every_learn_step_prints_as_a_handout_with_its_numbers(browser):
    """Each Learn step with ``handout=true``: laid out at the paper's width, printed by Chromium on A4 (step 7 on
    Letter too) in a few pages, with the step's title and every number its text shows."""
    from tests.browser import streamlit_server
    from tests.test_browser import LOAD_TIMEOUT_MS, settle

    def numbers(text: str) -> set[str]:
        return set(re.findall(r"-?\d+(?:\.\d+)?", text.replace("−", "-")))

    with streamlit_server() as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for number in range(1, 11):
            page.goto(f"{url}/learn?lesson={number}&handout=true")
            page.get_by_role("heading", name=re.compile(rf"^{number}\. ")).wait_for(timeout=LOAD_TIMEOUT_MS)
            settle(page)
            page.wait_for_timeout(500)  # figures drawn after the run's end
            width = page.get_by_test_id("stMainBlockContainer").evaluate("e => e.getBoundingClientRect().width")
            assert width <= 700, width
            assert page.get_by_test_id("stSidebar").is_hidden()
            shown = page.evaluate(PLAIN_TEXT)
            title = page.get_by_role("heading", name=re.compile(rf"^{number}\. ")).inner_text()
            for paper in ("A4", "Letter") if number == 7 else ("A4",):
                from pypdf import PdfReader

                page.emulate_media(media="print")
                reader = PdfReader(io.BytesIO(page.pdf(format=paper)))
                page.emulate_media(media="screen")
                text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in reader.pages)).replace("−", "-")
                assert 1 <= len(reader.pages) <= 5, (number, paper, len(reader.pages))
                assert re.sub(r"\s+", " ", title) in text, number
                missing = {n for n in numbers(shown) if n not in text}
                assert not missing, (number, paper, sorted(missing)[:10])
        page.close()
