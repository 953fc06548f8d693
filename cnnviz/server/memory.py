"""Process-wide allocator settings: freed memory kept for reuse, so CPU inference does not pay for page faults on
every pass, and given back to the system regularly, so a burst of work does not stay with the server."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
import threading
import time

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
    A trim costs milliseconds, and the next forward pass faults its pages in once."""
    global _trimmer
    with _trimmer_guard:
        if _trimmer is not None:
            return

        def trim() -> None:
            while True:
                time.sleep(interval_s)
                release_freed_memory()

        _trimmer = threading.Thread(target=trim, name="cnnviz-trim", daemon=True)
        _trimmer.start()
