"""Shared fixtures: image bytes made on the fly, an isolated torch hub cache, and a network guard."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    """The bytes of ``image`` saved as ``fmt``."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``TORCH_HOME`` for this test, so nothing from a real cache leaks in."""
    home = tmp_path / "torch_home"
    home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every network request fail at once, as on a machine without internet; records the URLs tried."""
    tried: list[str] = []

    def refuse(url, *args, **kwargs):
        tried.append(str(getattr(url, "full_url", url)))
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    return tried


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def cache_random_weights(key: str) -> dict:
    """Save a seeded, freshly initialised state dict of torchvision's ``key`` where torch hub keeps the
    real download (under the current ``TORCH_HOME``), so the registry loads it without any network."""
    import torch
    import torchvision

    from cnnviz.models.registry import default_weights
    from cnnviz.models.weights import cache_path

    torch.manual_seed(0)
    state = torchvision.models.get_model(key, weights=None).state_dict()
    path = cache_path(default_weights(key).url)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


def run_in_threads(work, count: int = 8, repeats: int = 3) -> list:
    """Run ``work(i)`` ``repeats`` times in each of ``count`` threads released together; returns each
    thread's last result, and raises the first error any thread met."""
    import threading

    results: list = [None] * count
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def body(i: int) -> None:
        try:
            barrier.wait()
            for _ in range(repeats):
                results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
