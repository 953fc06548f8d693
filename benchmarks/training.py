"""Playground training speed on this machine: steps per second of the default run, measured in one run.

Run: ``.venv/bin/python benchmarks/training.py``; with ``--browser``, instead time the Quick and Standard
presets as a teacher meets them: ``streamlit run`` serving the Train page to one Chromium tab (1440×900),
from the click on "Start a new training" to the first step (the images are made first) and to the held-out
result. The figures in README come from these runs.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnviz.training.playground import RunConfig, Trainer


def main(steps: int = 200) -> None:
    config = RunConfig(steps=steps)
    trainer = Trainer(config)
    trainer._prepare()  # data generation is timed apart from the steps
    started = time.perf_counter()
    trainer.start()
    trainer.wait()
    seconds = time.perf_counter() - started
    print(f"default playground run ({config.net}), batch {config.batch_size}, torch threads {torch.get_num_threads()}")
    print(
        f"  {steps} steps in {seconds:.1f} s: {steps / seconds:.2f} steps/s, "
        f"{steps * config.batch_size / seconds:.0f} images/s"
    )
    started = time.perf_counter()
    Trainer(config)._prepare()
    print(f"  generating {config.train_size} + {config.held_out_size} images: {time.perf_counter() - started:.1f} s")


def in_browser() -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM_FLAGS, chromium_path, streamlit_server

    with streamlit_server() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        presets = ("Quick (≈1 min)", "Standard (≈4 min)")
        for preset in presets[:1] if "quick" in sys.argv else presets:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{url}/playground")
            page.get_by_text(preset).click()
            page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=120_000)
            page.wait_for_timeout(1000)
            page.get_by_role("button", name="Start a new training").click()
            started = time.perf_counter()
            page.get_by_text("making the images first").first.wait_for(timeout=60_000)
            page.get_by_text(re.compile(r"step [1-9]\d* of")).first.wait_for(timeout=300_000)
            first_step = time.perf_counter() - started
            heading = page.get_by_role("heading", name=re.compile("^Held-out accuracy"))  # not the curves' legend
            heading.wait_for(timeout=1_200_000)
            total = time.perf_counter() - started
            result = heading.inner_text()
            print(
                f"{preset}: first step after {first_step:.0f} s, done after {total:.0f} s ({total / 60:.1f} min); "
                f"{result}"
            )
            page.close()
        browser.close()


if __name__ == "__main__":
    in_browser() if "--browser" in sys.argv else main()
