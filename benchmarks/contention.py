"""Contention benchmark: does a visitor wait behind another visitor's long explanation?

Starts the app (``streamlit run``, resnet18 with seeded random weights in a temporary ``TORCH_HOME``) and drives
Chromium: a third session reruns Home on resnet18 (the sample image switched back and forth: each rerun predicts)
first alone, then while two other sessions run Score-CAM on resnet18 (a forward pass per channel, about a minute
each here). It prints the Home reruns' p50 and p95 in both conditions and their ratio (the issue's target: loaded
p95 at most 1.5× idle p95).

    CHROMIUM_PATH=/usr/bin/chromium .venv/bin/python benchmarks/contention.py [--reruns 12] [--root DIR]

``--root`` serves another checkout of the app (a ``git worktree`` of an older commit, to measure "before").
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import expect

from tests.browser import CHROMIUM_FLAGS, streamlit_process
from tests.conftest import cache_random_weights

TIMEOUT_MS = 600_000
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
SAMPLES = ("photo: coffee", "photo: cat")


def open_on_resnet18(browser, url: str, path: str = ""):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{url}/{path}")
    page.get_by_test_id("stSidebar").wait_for()
    page.wait_for_selector(IDLE)
    page.get_by_test_id("stSelectbox").filter(has_text="Model").click()
    page.get_by_role("option", name="resnet18", exact=True).click()
    model = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(has_text="Model")
    expect(model.locator("input")).to_have_value("resnet18", timeout=TIMEOUT_MS)
    page.get_by_text("Prediction:").first.wait_for()  # Home (or Explain's top class) on resnet18
    page.wait_for_selector(IDLE)
    return context, page


def rerun_home(page, sample: str) -> float:
    """Switch the sample image and wait for Home's new prediction; seconds from the click."""
    started = time.perf_counter()
    page.get_by_test_id("stSelectbox").filter(has_text="Sample image").click()
    page.get_by_role("option", name=sample, exact=True).click()
    page.get_by_test_id("stSidebar").get_by_test_id("stImageCaption").filter(has_text=sample).wait_for()
    page.wait_for_selector(IDLE)  # the caption is drawn during the run: its end is now the prediction's end
    page.locator('[data-stale="false"]').get_by_text("Prediction:").first.wait_for()
    return time.perf_counter() - started


def reruns(page, count: int) -> list[float]:
    return [rerun_home(page, SAMPLES[n % 2]) for n in range(count)]


def score_cam(url: str, ready: threading.Barrier, done: list[float]) -> None:
    """One session that runs Score-CAM on resnet18 for the sidebar's image until the Explain page shows it."""
    from playwright.sync_api import sync_playwright

    # A Playwright browser belongs to the thread that launched it: this thread launches its own.
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        own = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        context, page = open_on_resnet18(own, url, "explain")
        page.get_by_text("Grad-CAM for '").first.wait_for()
        page.wait_for_selector(IDLE)
        ready.wait()
        started = time.perf_counter()
        page.get_by_test_id("stSelectbox").filter(has_text="Method").click()
        page.get_by_role("option", name="Score-CAM", exact=True).click()
        page.get_by_text("Score-CAM for '").first.wait_for()
        page.wait_for_selector(IDLE)
        done.append(time.perf_counter() - started)
        context.close()
        own.close()


def summary(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), statistics.quantiles(times, n=20, method="inclusive")[18]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=12)
    parser.add_argument("--root", type=Path, default=None, help="the app checkout to serve (default: this one)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory() as home:
        os.environ["TORCH_HOME"] = home
        cache_random_weights("resnet18")
        with streamlit_process({"TORCH_HOME": home}, root=args.root) as (url, _server), sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
            context, page = open_on_resnet18(browser, url)
            reruns(page, 2)  # warm: both samples decoded and cached, the page's modules loaded
            idle = reruns(page, args.reruns)
            ready, finished = threading.Barrier(3), []
            explainers = [threading.Thread(target=score_cam, args=(url, ready, finished)) for _ in range(2)]
            for explainer in explainers:
                explainer.start()
            ready.wait()
            time.sleep(3)  # both Score-CAMs are under way
            loaded = []
            while len(finished) < 2 and len(loaded) < 4 * args.reruns:
                loaded.append(rerun_home(page, SAMPLES[len(loaded) % 2]))
            for explainer in explainers:
                explainer.join()
            context.close()
            browser.close()
    (idle50, idle95), (load50, load95) = summary(idle), summary(loaded)
    print(f"served from {args.root or 'this checkout'}; {os.cpu_count()} CPU cores")
    print(f"Home rerun on resnet18, alone:               p50 {idle50:.2f} s, p95 {idle95:.2f} s ({len(idle)} reruns)")
    print(
        f"Home rerun while two sessions run Score-CAM: p50 {load50:.2f} s, p95 {load95:.2f} s "
        f"({len(loaded)} reruns; Score-CAMs took {', '.join(f'{t:.0f} s' for t in finished)})"
    )
    print(f"loaded p95 / idle p95 = {load95 / idle95:.2f} (target at most 1.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
