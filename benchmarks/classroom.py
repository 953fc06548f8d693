"""Classroom load: 20 browser sessions at once, each uploading its own image and asking for Grad-CAM.

Run: ``.venv/bin/python benchmarks/classroom.py [--sessions 20] [--requests 200]`` (needs Chromium: set
``CHROMIUM_PATH`` or have ``chromium`` on PATH). It starts the app with ``streamlit run``, opens the
sessions as separate Playwright browser contexts, and prints
- errors (target 0) and whether every session got its own correct result: the raw Grad-CAM map each session
  downloads is compared with a serial computation by ``cnnviz`` for that session's image;
- p50 and p95 latency from upload to the explanation on the page, and the server's peak RSS;
- then, in one session, the server's RSS over ``--requests`` successive uploads: growth after warm-up
  (target at most 10%).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnviz.data.images import load_image
from cnnviz.data.shapes import generate
from cnnviz.explain.cams import cam, default_layer
from cnnviz.explain.predict import predict
from cnnviz.models.registry import LoadedModel, load_model
from cnnviz.ui.uploads import MAX_SIDE
from tests.browser import CHROMIUM_FLAGS, rss_kib, streamlit_process

TIMEOUT_MS = 180_000
CAPTION = "Grad-CAM for '"


class PeakMemory:
    """Samples the server's RSS in the background; ``peak`` in KiB."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.1)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def write_images(folder: Path, prefix: str, count: int, seed: int) -> list[Path]:
    """``count`` different synthetic images saved as PNG files in ``folder``."""
    paths = []
    for i, pixels in enumerate(generate(count, seed).images):
        paths.append(folder / f"{prefix}-{i:03d}.png")
        Image.fromarray(pixels).save(paths[-1], format="PNG")
    return paths


def serial_raw_map(model: LoadedModel, data: bytes) -> np.ndarray:
    """What the explain page computes for an upload: Grad-CAM of the top class at the default layer."""
    image = load_image(data, max_side=MAX_SIDE)
    target = model.classes.index(predict(model, image).classes[0])
    layer = default_layer(model.module, model.input_size)
    return cam(model.module, model.preprocess(image), target, layer, "Grad-CAM").raw.numpy()


async def open_explain(browser, url: str):
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    context = await browser.new_context(viewport={"width": 1300, "height": 1100}, accept_downloads=True)
    page = await context.new_page()
    await page.goto(f"{url}/explain")
    await page.get_by_role("heading", name="Explain a prediction").wait_for(timeout=TIMEOUT_MS)
    await page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=TIMEOUT_MS)
    uploader = page.locator('.st-key-upload input[type="file"]')
    for _ in range(12):  # a click during the first (slow, shared) script run can be lost: click again
        await page.get_by_role("radiogroup", name="Image").get_by_text("Upload", exact=True).click()
        try:
            await uploader.wait_for(state="attached", timeout=15_000)
            return context, page
        except PlaywrightTimeout:
            continue
    raise RuntimeError("the image uploader never appeared")


async def upload_and_wait(page, path: Path) -> float:
    """Upload ``path`` and wait for its explanation; seconds taken."""
    started = time.perf_counter()
    await page.locator('.st-key-upload input[type="file"]').set_input_files(str(path))
    sidebar = page.get_by_test_id("stSidebar")
    await sidebar.get_by_test_id("stImage").filter(has_text=path.name).wait_for(timeout=TIMEOUT_MS)
    await page.get_by_text(CAPTION).first.wait_for(timeout=TIMEOUT_MS)
    await page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=TIMEOUT_MS)
    return time.perf_counter() - started


class Gate:
    """Opens once every session has arrived (loaded its page, or failed to)."""

    def __init__(self, count: int) -> None:
        self.count, self.opened = count, asyncio.Event()

    def arrive(self) -> None:
        self.count -= 1
        if self.count <= 0:
            self.opened.set()


async def one_session(browser, url: str, path: Path, gate: Gate) -> tuple[float, np.ndarray]:
    try:
        context, page = await open_explain(browser, url)
    finally:
        gate.arrive()
    try:
        await gate.opened.wait()  # every session uploads at the same moment
        seconds = await upload_and_wait(page, path)
        if await page.get_by_test_id("stException").count():
            raise RuntimeError("an exception is shown on the page")
        async with page.expect_download(timeout=TIMEOUT_MS) as info:
            await page.locator('.st-key-dl_npy[data-stale="false"] button:visible').click()
        download = await info.value
        return seconds, np.load(await download.path())
    finally:
        await context.close()


async def classroom(url: str, files: list[Path], chromium: str) -> tuple[list, list[str]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        gate = Gate(len(files))
        results = await asyncio.gather(
            *(one_session(browser, url, path, gate) for path in files), return_exceptions=True
        )
        await browser.close()
    errors = [f"session {i}: {r!r}" for i, r in enumerate(results) if isinstance(r, BaseException)]
    return results, errors


async def successive(url: str, files: list[Path], chromium: str, pid: int, warm_up: int) -> list[int]:
    """RSS (KiB) after each of ``len(files)`` uploads in one session."""
    from playwright.async_api import async_playwright

    samples = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        context, page = await open_explain(browser, url)
        for n, path in enumerate(files, start=1):
            await upload_and_wait(page, path)
            samples.append(rss_kib(pid))
            if n == warm_up or n % 50 == 0:
                print(f"  after {n:3d} requests: RSS {samples[-1] / 1024:.0f} MiB", flush=True)
        await context.close()
        await browser.close()
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warm-up", type=int, default=20)
    args = parser.parse_args()
    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("Chromium not found: install it (apt-get install chromium) or set CHROMIUM_PATH", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        session_files = write_images(root, "student", args.sessions, 31_337)
        request_files = write_images(root, "request", args.requests, 27_182)
        model = load_model("tinyvgg")
        expected = [serial_raw_map(model, path.read_bytes()) for path in session_files]

        with streamlit_process({"TORCH_HOME": str(root / "torch_home")}) as (url, process):
            idle = rss_kib(process.pid)
            with PeakMemory(process.pid) as memory:
                started = time.perf_counter()
                results, errors = asyncio.run(classroom(url, session_files, chromium))
                wall = time.perf_counter() - started
            latencies = [r[0] for r in results if not isinstance(r, BaseException)]
            correct = sum(
                1
                for r, want in zip(results, expected, strict=True)
                if not isinstance(r, BaseException) and r[1].shape == want.shape and np.allclose(r[1], want, atol=1e-6)
            )
            print(
                f"{args.sessions} simultaneous sessions on the embedded model, {os.cpu_count()} CPU cores, "
                f"{wall:.1f} s in all"
            )
            print(f"  errors: {len(errors)} (target 0)")
            for error in errors:
                print(f"    {error[:300]}")
            print(f"  sessions with their own correct Grad-CAM (vs a serial computation): {correct}/{args.sessions}")
            if len(latencies) >= 2:
                q = statistics.quantiles(latencies, n=20, method="inclusive")
                print(f"  latency upload -> explanation: p50 {statistics.median(latencies):.2f} s, p95 {q[18]:.2f} s")
            print(
                f"  server RSS: idle {idle / 1024:.0f} MiB, peak {memory.peak / 1024:.0f} MiB "
                f"(VmHWM {rss_kib(process.pid, 'VmHWM') / 1024:.0f} MiB)"
            )

            print(f"one session, {args.requests} successive uploads with Grad-CAM:")
            samples = asyncio.run(successive(url, request_files, chromium, process.pid, args.warm_up))
            base = samples[args.warm_up - 1]
            growth = samples[-1] / base - 1
            print(
                f"  RSS after warm-up ({args.warm_up}) {base / 1024:.0f} MiB, after {args.requests} "
                f"{samples[-1] / 1024:.0f} MiB: growth {growth:+.1%} (target at most +10%)"
            )
    return 0 if not errors and correct == args.sessions and growth <= 0.10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
