"""The embedded default model: TinyVGG weights and metadata shipped in ``assets/models``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from cnnviz.models.sharing import freeze
from cnnviz.models.tinyvgg import TinyVGG

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
EMBEDDED_NAME = "tinyvgg"
_HELD_OUT_OFFSET = 1_000_003


def held_out_seed(seed: int) -> int:
    """The seed of the held-out samples for a model trained with ``seed`` (never used in training)."""
    return seed + _HELD_OUT_OFFSET


def embedded_config(directory: Path | None = None, name: str = EMBEDDED_NAME) -> dict[str, Any]:
    """The shipped TinyVGG's constructor arguments (its card's ``model_config``)."""
    card = json.loads(((directory or ASSETS_DIR / "models") / f"{name}.json").read_text())
    return {**card["model_config"], "channels": tuple(card["model_config"]["channels"])}


def load_embedded(directory: Path | None = None, name: str = EMBEDDED_NAME) -> tuple[TinyVGG, dict[str, Any]]:
    """Load the shipped TinyVGG (in eval mode, parameters frozen) and its metadata card."""
    directory = directory or ASSETS_DIR / "models"
    card = json.loads((directory / f"{name}.json").read_text())
    config = card["model_config"]
    model = TinyVGG(**{**config, "channels": tuple(config["channels"])})
    state = torch.load(directory / f"{name}.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return freeze(model), card
