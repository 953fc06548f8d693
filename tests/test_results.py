"""The server's shared result stores: bounded by count and bytes, least recently used first out, thread-safe."""

from __future__ import annotations

import threading

import numpy as np
import torch
from PIL import Image

from cnnviz.explain.cams import Explanation
from cnnviz.server.results import SharedResults, footprint, store
from tests.apptest import assert_no_exception, fresh_caches, start  # noqa: F401 (fixtures)


def test_footprint_counts_every_array_by_hand():
    explanation = Explanation("Grad-CAM", 3, torch.zeros(224, 224), torch.zeros(7, 7, dtype=torch.float64))
    assert footprint(explanation) == 224 * 224 * 4 + 7 * 7 * 8
    assert footprint(Image.new("RGB", (10, 20))) == 10 * 20 * 3
    assert (
        footprint({"a": np.zeros((5, 5), np.uint8), "b": [b"abc", (torch.zeros(2, dtype=torch.int16),)]}) == 25 + 3 + 4
    )
    assert footprint("not an array") == 0


def test_the_least_recently_used_goes_first_by_count():
    kept: SharedResults[int] = SharedResults(max_entries=3, max_bytes=1000)
    for key in "abc":
        kept.put(key, ord(key))
    assert kept.get("a") == ord("a")  # a is now the most recent: b goes next
    kept.put("d", 4)
    assert "b" not in kept and [k in kept for k in "acd"] == [True, True, True] and len(kept) == 3


def test_bytes_are_bounded_and_an_oversize_result_is_not_kept():
    kept: SharedResults[np.ndarray] = SharedResults(max_entries=100, max_bytes=100)
    kept.put("x", np.zeros(40, np.uint8))
    kept.put("y", np.zeros(40, np.uint8))
    assert kept.nbytes == 80
    kept.put("z", np.zeros(40, np.uint8))  # 120 > 100: x goes
    assert "x" not in kept and kept.nbytes == 80
    big = np.zeros(101, np.uint8)
    assert kept.put("big", big) is big  # returned to the caller, but not kept
    assert "big" not in kept and kept.nbytes == 80
    kept.put("y", np.zeros(10, np.uint8))  # replacing a key counts its new size only
    assert kept.nbytes == 50 and len(kept) == 2


def test_concurrent_puts_keep_the_budget():
    kept: SharedResults[np.ndarray] = SharedResults(max_entries=16, max_bytes=16 * 100)
    barrier = threading.Barrier(8)

    def write(n: int) -> None:
        barrier.wait()
        for i in range(200):
            kept.put((n, i), np.zeros(100, np.uint8))
            kept.get((n, i - 1))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(kept) == 16 and kept.nbytes == 16 * 100


def test_store_is_one_per_name():
    assert store("_test_a") is store("_test_a") and store("_test_a") is not store("_test_b")


def test_a_second_session_is_served_the_first_sessions_explanation(monkeypatch):
    first = start("pages/explain.py")
    caption = first.tabs[0].image[0].proto.imgs[0].caption
    assert caption.startswith("Grad-CAM for ")

    def never(*args, **kwargs):
        raise AssertionError("explained again")

    monkeypatch.setattr("cnnviz.explain.methods.explain", never)
    second = start("pages/explain.py")  # another session, the same model and sample: no second explanation
    assert_no_exception(second)
    assert second.tabs[0].image[0].proto.imgs[0].caption == caption


def test_get_or_make_makes_once_per_key():
    kept: SharedResults[int] = SharedResults()
    calls: list[str] = []

    def make(key: str) -> int:
        calls.append(key)
        return len(calls)

    assert kept.get_or_make("a", lambda: make("a")) == 1
    assert kept.get_or_make("a", lambda: make("a")) == 1  # kept: not made again
    assert kept.get_or_make("b", lambda: make("b")) == 2
    assert calls == ["a", "b"]
