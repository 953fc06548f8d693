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
