"""Abuse benchmark: the attacks of issue 11 against a running server, with the server's memory and CPU after each.

Starts the app with ``streamlit run`` (as ``make run`` does) and, through Chromium, uploads the hostile files the
tests make (a pickle and a TorchScript program that write and read files, a state dict with compressed records, a
tiny file declared as vgg16 with 100000 classes, the largest ONNX file accepted (183 MiB), a 190 KB float TIFF that
decodes to 187 MiB, in four tabs at once), opens a link with 20,000-character values, sends Your own classes 6 × 50
and 60 + 60 files of 10.4 MB and ten 47 KB palette bombs of 7071², the same bomb from four tabs at once to the
sidebar, and starts three trainings and closes every tab. For each case it prints the server's peak RSS over its
idle RSS while the case ran, its RSS over idle 2.5 minutes after the case's tabs closed (``--after``), and its CPU
use in the five seconds after; for the trainings, how long the server took to go quiet once the tabs were closed.
``--only WORD ...`` runs some cases. The idle RSS is read after Home and one small warm-up training on Your own
classes, in a tab closed and let go (what the process makes once, imports and torch's training machinery, is printed
apart, not charged to a case).

    CHROMIUM_PATH=/usr/bin/chromium .venv/bin/python benchmarks/abuse.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.onnx_upload import largest_file as largest_onnx
from cnnviz.models.custom import ONNX, architecture_label
from tests.badinputs import float_tiff, small_bomb
from tests.browser import CHROMIUM_FLAGS, cpu_seconds, rss_kib, streamlit_process, wait_uploaded
from tests.hostile import compressed_state_dict, pickle_attack, saved, torchscript_attack

TIMEOUT_MS = 180_000
ONNX_LABEL = architecture_label(ONNX)
WARM_UP_S = 135
"""Long enough for a closed tab's session to be let go (``server.disconnectedSessionTTL``, 120 s, then the janitor)."""


def cpu_percent(pid: int, seconds: float) -> float:
    start = cpu_seconds(pid)
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - start) / seconds


def settle(page) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=TIMEOUT_MS)


def open_page(browser, url: str, path: str = ""):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{url}/{path}", timeout=TIMEOUT_MS)
    page.get_by_test_id("stSidebar").wait_for(timeout=TIMEOUT_MS)
    settle(page)
    return context, page


def upload_model(
    browser, url: str, name: str, data: bytes, folder: Path, architecture: str = "resnet18", classes: int = 3
) -> str:
    """Upload ``data`` as a bring-your-own model file; returns the sidebar's message (or, once loaded, the model
    box naming it)."""
    path = folder / name
    path.write_bytes(data)
    context, page = open_page(browser, url)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Bring your own model").click()
    if architecture != "resnet18":
        sidebar.get_by_test_id("stSelectbox").filter(has_text="Architecture").click()
        page.keyboard.type(architecture.split(" (")[0])  # (the box searches: 1380 options shrink to a few)
        page.get_by_role("option", name=architecture, exact=True).click()
        settle(page)
    if not architecture.startswith("ONNX"):  # (an ONNX graph says its class count: no such field)
        number = page.locator(".st-key-own_num_classes input")
        number.fill(str(classes))
        number.press("Enter")
        settle(page)
    page.locator('.st-key-own_file input[type="file"]').set_input_files(str(path))
    page.locator(".st-key-own_file").get_by_text(name).wait_for(timeout=TIMEOUT_MS)  # listed
    wait_uploaded(page, "own_file", TIMEOUT_MS)  # and sent
    settle(page)
    page.locator(".st-key-own_load button").click()
    message = sidebar.get_by_test_id("stAlert").filter(has_text=name)
    in_use = page.locator(".st-key-model_key input")  # the model box, once the upload is loaded and selected
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not message.count() and not in_use.input_value().startswith(f"{Path(name).stem} · "):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: neither a message nor the model in use after {TIMEOUT_MS / 1000:.0f} s")
        time.sleep(0.5)
    text = " ".join(message.inner_text().split()) if message.count() else f"loaded: {in_use.input_value()}"
    context.close()
    return text


def upload_images_in_tabs(browser, url: str, path: Path, tabs: int) -> str:
    """Upload the same image from ``tabs`` tabs at once; returns the first tab's message, or the caption of the
    image it shows."""
    opened = [open_page(browser, url) for _ in range(tabs)]
    for _, page in opened:
        page.get_by_role("radiogroup", name="Image").get_by_text("Upload", exact=True).click()
    for _, page in opened:
        page.locator('.st-key-upload input[type="file"]').set_input_files(str(path))
    texts = []
    for context, page in opened:
        sidebar = page.get_by_test_id("stSidebar")
        message = (
            sidebar.get_by_test_id("stAlert").or_(sidebar.get_by_test_id("stImageCaption")).filter(has_text=path.name)
        )
        message.first.wait_for(timeout=TIMEOUT_MS)
        settle(page)
        texts.append(" ".join(message.first.inner_text().split()))
        context.close()
    return texts[0] if "refused" in texts[0] or "limit" in texts[0] else f"shown: {texts[0]}"


def max_size_png(folder: Path) -> Path:
    """A PNG of noise just under Your own classes' 10 MiB file limit (10.4 MB, 1860×1860)."""
    import numpy as np
    from PIL import Image

    path = folder / "max-size.png"
    pixels = np.random.default_rng(0).integers(0, 256, (1860, 1860, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, compress_level=1)
    return path


def copies_of(source: Path, folder: Path, prefix: str, count: int) -> list[Path]:
    """``count`` names for ``source`` (hard links: no more disk), each sent as a file of its own."""
    folder.mkdir(exist_ok=True)
    paths = [folder / f"{prefix}-{i:03d}{source.suffix}" for i in range(count)]
    for path in paths:
        if not path.exists():
            os.link(source, path)
    return paths


def own_classes(browser, url: str, classes: list[list[Path]], train: bool = True) -> str:
    """On Your own classes, send each class its files (all at once, as a multi-file upload does), wait until
    the page has read them, then train; returns what the page says."""
    import re

    context, page = open_page(browser, url, "transfer")
    count = page.locator(".st-key-transfer_count input")
    count.fill(str(len(classes)))
    count.press("Enter")
    settle(page)
    started = time.monotonic()
    for label, paths in enumerate(classes):
        if not paths:
            continue
        page.locator(f".st-key-transfer_upload_{label}_0 input[type='file']").set_input_files([str(p) for p in paths])
        page.locator(f".st-key-transfer_upload_{label}_1").wait_for(timeout=4 * TIMEOUT_MS)  # read, then emptied
        settle(page)
    read = time.monotonic() - started
    held = page.get_by_text(re.compile(r"^\d+ images?(, room for \d+ more|, full)$")).all_inner_texts()
    skipped = page.get_by_test_id("stAlert").filter(has_text="Skipped").count()
    result = f"{read:.0f} s to read; kept {'/'.join(t.split()[0] for t in held)}, {skipped} skipped"
    if train and page.locator(".st-key-transfer_train button").is_enabled():
        page.locator(".st-key-transfer_train button").click()
        page.get_by_text(re.compile(r"Held-out accuracy \d+%")).wait_for(timeout=4 * TIMEOUT_MS)
        settle(page)
        result += "; trained"
    context.close()
    return result


def long_link(browser, url: str) -> str:
    """20,000-character values in every setting of the arithmetic page: the HTTP server refuses so long a request
    line at once; with three such settings (60 KB) the page loads, ignores them and says so."""
    import urllib.error
    import urllib.request

    from cnnviz.links import PAGE_PARAMS

    every = "&".join(f"{key}={'9' * 20_000}" for key in PAGE_PARAMS["arithmetic"])
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(f"{url}/arithmetic?{every}", timeout=60) as response:
            status = str(response.status)
    except urllib.error.HTTPError as exc:
        status = f"{exc.code} {exc.reason}"
    refused = f"{len(every):,} B query: HTTP {status} in {time.perf_counter() - started:.2f} s"
    three = "&".join(f"{key}={'9' * 20_000}" for key in ("i", "k", "seed"))
    context, page = open_page(browser, url, f"arithmetic?{three}")
    page.get_by_text("Output size: 3 × 3").wait_for(timeout=TIMEOUT_MS)
    notice = " ".join(page.get_by_test_id("stAlert").first.inner_text().split())
    context.close()
    return f"{refused}; {len(three):,} B query: page with defaults, notice {notice[:60]!r}…"


def abandoned_trainings(browser, url: str, pid: int, stepping: bool, count: int = 3) -> str:
    """Start ``count`` trainings, wait until they make their data (or, ``stepping``, take their first steps), close
    every tab; seconds until the server is quiet."""
    import re

    opened = []
    for _ in range(count):
        context, page = open_page(browser, url, "playground")
        page.get_by_role("button", name="Start a new training").click()
        opened.append((context, page))
    running = re.compile(r"step [1-9]\d* of \d+ · training" if stepping else r"training…")
    for _, page in opened[:2]:  # two run (the queue's limit), the third waits its turn
        page.get_by_text(running).wait_for(timeout=4 * TIMEOUT_MS)  # two make their data at once: slow
    busy = cpu_percent(pid, 3)
    for context, _ in opened:
        context.close()
    closed = time.monotonic()
    while cpu_percent(pid, 1.0) > 15:
        if time.monotonic() - closed > 300:
            return f"still busy 300 s after the tabs closed (was {busy:.0f}% CPU)"
    return f"{busy:.0f}% CPU while training; quiet {time.monotonic() - closed:.1f} s after every tab closed"


def main() -> None:
    import argparse

    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--after",
        type=float,
        default=150.0,
        help="seconds after a case's tabs closed at which RSS is read again (default 2.5 minutes)",
    )
    parser.add_argument("--only", nargs="*", default=[], help="run the cases whose names hold one of these words")
    args = parser.parse_args()

    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory() as tmp, streamlit_process({"TORCH_HOME": tmp}) as (url, server):
        folder = Path(tmp)
        victim, secret, marker = folder / "victim.py", folder / "secret.txt", folder / "pwned"
        victim.write_bytes(b"print('the real page')\n")
        secret.write_bytes(b"root:x:0:0:hunter2\n")
        tiff = folder / "float.tiff"
        tiff.write_bytes(float_tiff())
        bomb = folder / "palette-bomb.png"
        bomb.write_bytes(small_bomb("P+transparency", 7071))  # 47 KB, 7071×7071 palette with transparency
        biggest = max_size_png(folder)
        pid = server.pid
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
            context, _ = open_page(browser, url)  # warm: torch, the embedded model, the first page
            context.close()
            time.sleep(3)
            home = rss_kib(pid) / 1024
            # Warm: Your own classes' modules and one training (torch's autograd and optimiser state, made once per
            # process), in a tab closed and let go like the cases' tabs, so that what a case leaves is its own.
            own_classes(browser, url, [copies_of(biggest, folder / "w", f"w{c}", 5) for c in range(2)])
            time.sleep(WARM_UP_S)
            idle = rss_kib(pid) / 1024
            print(
                f"server RSS after Home: {home:.0f} MiB; idle RSS after a warm-up training whose tab closed "
                f"{WARM_UP_S} s ago: {idle:.0f} MiB (+{idle - home:.0f} MiB made once per process)\n"
            )
            print(f"{'case':<58} {'peak over idle':>14} {f'after {args.after:.0f} s':>12} {'CPU after':>9}  result")
            cases: list[tuple[str, Callable[[], str]]] = [
                (
                    "pickle that writes and reads files (.pt)",
                    lambda: upload_model(browser, url, "evil.pt", pickle_attack(marker, secret), folder),
                ),
                (
                    "TorchScript that overwrites a page and reads a file",
                    lambda: upload_model(browser, url, "model.pt", torchscript_attack(victim, secret), folder),
                ),
                (
                    "state dict with compressed records (1.2 GB of tensors)",
                    lambda: upload_model(browser, url, "zipped.pt", compressed_state_dict(), folder),
                ),
                (
                    "1 KB file declared as vgg16 with 100000 classes",
                    lambda: upload_model(
                        browser, url, "tiny.pt", saved({"x": __import__("torch").zeros(4)}), folder, "vgg16", 100_000
                    ),
                ),
                (
                    "the largest ONNX file accepted (183 MiB), converted",
                    lambda: upload_model(browser, url, "largest.onnx", largest_onnx(), folder, ONNX_LABEL),
                ),
                (
                    "190 KB float TIFF of 7000×7000, four tabs at once",
                    lambda: upload_images_in_tabs(browser, url, tiff, 4),
                ),
                ("20,000-character values in every setting of a link", lambda: long_link(browser, url)),
                (
                    "Your own classes: 6 × 50 files of 10.4 MB, then Train",
                    lambda: own_classes(
                        browser, url, [copies_of(biggest, folder / "c", f"c{c}", 50) for c in range(6)]
                    ),
                ),
                (
                    "Your own classes: 60 + 60 files of 10.4 MB, then Train",
                    lambda: own_classes(
                        browser, url, [copies_of(biggest, folder / "d", f"d{c}", 60) for c in range(2)]
                    ),
                ),
                (
                    "Your own classes: ten 47 KB palette bombs of 7071²",
                    lambda: own_classes(browser, url, [copies_of(bomb, folder / "b", "bomb", 10), []], train=False),
                ),
                (
                    "47 KB palette bomb of 7071², four tabs at once",
                    lambda: upload_images_in_tabs(browser, url, bomb, 4),
                ),
                (
                    "three trainings, every tab closed while making data",
                    lambda: abandoned_trainings(browser, url, pid, stepping=False),
                ),
                (
                    "three trainings, every tab closed while stepping",
                    lambda: abandoned_trainings(browser, url, pid, stepping=True),
                ),
            ]
            for name, case in cases:
                if args.only and not any(word.lower() in name.lower() for word in args.only):
                    continue
                with open(f"/proc/{pid}/clear_refs", "w") as refs:
                    refs.write("5")  # reset the peak (VmHWM) to the current RSS
                result = case()  # its tabs are closed when it returns
                closed = time.monotonic()
                peak = rss_kib(pid, "VmHWM") / 1024 - idle
                cpu = cpu_percent(pid, 5)
                time.sleep(max(0.0, args.after - (time.monotonic() - closed)))
                after = rss_kib(pid) / 1024 - idle
                print(f"{name:<58} {peak:>10.0f} MiB {after:>8.0f} MiB {cpu:>8.0f}%  {result[:150]}", flush=True)
            browser.close()
        intact = victim.read_bytes() == b"print('the real page')\n" and not marker.exists()
        print(f"\nfiles the attacks aimed at left untouched: {intact}")
        print(f"server RSS at the end {rss_kib(pid) / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
