"""Helpers for the real-browser tests: start the app with ``streamlit run`` and drive Debian's Chromium."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """A memory figure of process ``pid`` from ``/proc`` (``VmRSS`` now, ``VmHWM`` its peak), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not found for process {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time process ``pid`` has used so far, user and system, every thread."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def chromium_path() -> str:
    """The Chromium to drive: ``CHROMIUM_PATH``, else one on PATH. Missing means fail in CI, skip elsewhere."""
    for candidate in (os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    message = "Chromium not found: run `make test` (it installs it) or set CHROMIUM_PATH"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


LOGS: dict[str, Path] = {}
"""The log file of each server running now, by its base URL (see :func:`server_log`)."""

STREAMLIT_WARNING = re.compile(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) +streamlit[.:]", re.MULTILINE)
"""A line Streamlit's own loggers wrote at warning level or above (its default log format)."""


def server_log(url: str) -> str:
    """What the server at ``url`` (started by :func:`streamlit_process`) has written to its log so far."""
    return LOGS[url].read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(env: dict[str, str] | None = None, timeout: float = 90) -> Iterator[str]:
    """Run ``streamlit run app.py`` on a free port until the block ends; yields its base URL.

    Only the process group started here is stopped afterwards.
    """
    with streamlit_process(env, timeout) as (url, _process):
        yield url


@contextmanager
def streamlit_process(
    env: dict[str, str] | None = None, timeout: float = 90, root: Path | None = None, script: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """As :func:`streamlit_server`, yielding the base URL and the server's process (for its memory); ``root`` serves
    another checkout of the app (benchmarks compare with an older commit), ``script`` another Streamlit script
    (a benchmark's peer page) with a plain ``streamlit run``. The app is served as ``make run`` serves it, by
    :mod:`cnnviz.ui.launch` (a checkout older than that module with ``streamlit run app.py``)."""
    port = _free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"cnnviz-streamlit-{port}.log"
    folder = root or ROOT
    if script is None and (folder / "cnnviz" / "ui" / "launch.py").exists():
        start = ["cnnviz.ui.launch"]
    else:
        start = ["streamlit", "run", str(script or "app.py")]
    command = [
        sys.executable,
        "-m",
        *start,
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, timeout, "streamlit", log.read_text)
        LOGS[url] = log
        yield url, process
    finally:
        LOGS.pop(url, None)
        stop(process, 15)
        log.unlink(missing_ok=True)


def wait_healthy(url: str, process: subprocess.Popen, timeout: float, name: str, output) -> None:
    """Wait until ``url``'s ``/_stcore/health`` answers "ok" (a server started here, or a proxy in front of one);
    ``output()`` says what the process wrote, should it exit or time out."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{output()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not become healthy in {timeout} s:\n{output()}")
        time.sleep(0.3)


def stop(process: subprocess.Popen, grace: float = 10) -> None:
    """End the process group started for a test (and only it): SIGTERM, then SIGKILL after ``grace`` seconds."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def chromium():
    """Debian's Chromium, headless with the project's flags, through Playwright, until the block ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def wait_uploaded(page, key: str, timeout_ms: float) -> None:
    """Wait until the file uploader with ``key`` has sent its files: it lists a file's name at once and shows a
    spinner on it until the upload is done (a button clicked before then finds no file on the server)."""
    page.locator(f'.st-key-{key} [data-testid="stFileChipIconSpinner"]').first.wait_for(
        state="detached", timeout=timeout_ms
    )
