"""Process-wide memory settings: freed memory kept for reuse, so CPU inference does not pay for page faults on
every pass, and given back to the system regularly, so a burst of work does not stay with the server; garbage
collected for all the script runs of a second at once, not after each."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import os
import sys
import threading
import time

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
ARENAS = 2
"""malloc arenas the server uses (glibc's default is up to 8 per core: one for each thread, up to that)."""


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library, found once (``find_library`` runs ``ldconfig`` in a subprocess: 10 ms, and app.py's settings
    ask on every script run)."""
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def limit_arenas(count: int = ARENAS) -> bool:
    """Let glibc's malloc make at most ``count`` arenas, for the threads made from now on; ``MALLOC_ARENA_MAX`` in
    the environment wins. Returns whether the setting took effect (glibc only).

    Each arena keeps its freed memory among what is still alive in it. Streamlit reads uploads on a pool of
    threads, each with an arena of its own by default: 2.5 minutes after Your own classes' tab closed (6 × 50
    files of 10.4 MB, then Train), with no Python object of it left, the server still held 155–300 MiB more than
    idle; started with ``MALLOC_ARENA_MAX=2``, 9 MiB. ``make run`` and the Dockerfile set that variable, so the limit
    holds from the server's first thread; ``app.py`` calls this first for a plain ``streamlit run``, where the
    threads Streamlit started before it keep the arenas they have.
    """
    if not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        return bool(_libc().mallopt(_M_ARENA_MAX, count))
    except (OSError, AttributeError):
        return False


def keep_freed_memory(mmap_threshold: int = 64 << 20, trim_threshold: int = 512 << 20) -> bool:
    """Let glibc's malloc serve tensors up to ``mmap_threshold`` bytes from its heap and keep up to
    ``trim_threshold`` bytes of freed memory for reuse, instead of mapping and unmapping (and so page
    faulting) fresh memory for every large tensor. Returns whether the setting took effect (glibc only).

    By default each activation larger than a few MB is a fresh ``mmap``; keeping many of them alive at
    once (as feature extraction does) then costs about 30% of a resnet50 forward in page faults.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = _libc()
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, trim_threshold)
        )
    except (OSError, AttributeError):
        return False


def release_freed_memory() -> bool:
    """Give the memory malloc keeps for reuse back to the system now (glibc's ``malloc_trim``: the heap's free
    pages, wherever they lie). Returns whether glibc did so."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return bool(_libc().malloc_trim(0))
    except (OSError, AttributeError):
        return False


_trimmer: threading.Thread | None = None
_trimmer_guard = threading.Lock()


def trim_in_background(interval_s: float = 20.0) -> None:
    """Every ``interval_s`` seconds, :func:`release_freed_memory` (once per process, however often this is called).

    :func:`keep_freed_memory` keeps up to 512 MiB of freed memory for the next forward pass; after a burst (a
    class's uploads, a closed tab's session dropped two minutes later) that would stay with the server for good.
    A trim costs milliseconds, and the next forward pass faults its pages in once. A full garbage collection goes
    first, for whatever :func:`collect_soon`'s collections missed."""
    global _trimmer
    with _trimmer_guard:
        if _trimmer is not None:
            return

        def trim() -> None:
            while True:
                time.sleep(interval_s)
                gc.collect()  # what a run's collection (collect_soon) missed goes first
                release_freed_memory()

        _trimmer = threading.Thread(target=trim, name="cnnviz-trim", daemon=True)
        _trimmer.start()


COLLECT_DELAY_S = 0.2
"""How long after a request :func:`collect_soon` collects: the run that asked has ended by then and Streamlit has
dropped what it held."""
COLLECT_GAP_S = 1.0
"""The least time between two collections :func:`collect_soon` does: requests made meanwhile share the next one."""

_wanted = threading.Event()
_collections = 0
_collector: threading.Thread | None = None
_collector_guard = threading.Lock()


def collections_done() -> int:
    """How many collections :func:`collect_soon`'s thread has done in this process."""
    return _collections


def collect_soon() -> None:
    """Ask for a full garbage collection of the process, done on a thread of its own (started on the first request)
    :data:`COLLECT_DELAY_S` later, at most once per :data:`COLLECT_GAP_S`: every request made by then is answered by
    that one collection. Cheap to call after every script run.

    Streamlit collects the whole process's garbage after every script run of every session (``runner.postScriptGC``,
    off in ``.streamlit/config.toml``). One collection walks every object the sessions hold (the libraries are
    frozen out of its reach at launch): 15–30 ms with a room of 30 students, whose polls rerun 30 times a second, so
    the collections alone took 40 % of a core (``benchmarks/rooms.py``) and queued every student's run behind them.
    One collection a second frees the same garbage: a run's garbage is the same whichever collection frees it."""
    global _collector
    _wanted.set()
    if _collector is not None:
        return
    with _collector_guard:
        if _collector is None:
            _collector = threading.Thread(target=_collect_when_wanted, name="cnnviz-collect", daemon=True)
            _collector.start()


def _collect_when_wanted() -> None:
    global _collections
    while True:
        _wanted.wait()
        time.sleep(COLLECT_DELAY_S)
        _wanted.clear()  # a request from now on waits for the next collection
        try:
            gc.collect()
        except Exception:  # a finalizer's error: the thread must go on
            logger.exception("a garbage collection failed")
        _collections += 1
        time.sleep(COLLECT_GAP_S)
