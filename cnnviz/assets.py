"""Where the files that ship with cnnviz live (``assets/`` beside the package): one place for every module."""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
MODELS_DIR = ASSETS_DIR / "models"
"""The embedded model's weights and metadata card."""
SAMPLES_DIR = ASSETS_DIR / "samples"
"""The sample photos and one synthetic image per class."""
PLAYER_DIR = ASSETS_DIR / "player"
"""The browser-side step player's script and style sheet."""
CANVAS_DIR = ASSETS_DIR / "canvas"
"""The sidebar's drawing canvas: script and style sheet."""
MAPS_DIR = ASSETS_DIR / "maps"
"""The network overview's clickable maps: script and style sheet."""
POLLER_DIR = ASSETS_DIR / "poller"
"""The room bar's poll: a script that reruns the bar on a timer of its own."""
FAVICON = ASSETS_DIR / "favicon.png"
