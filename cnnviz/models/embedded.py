"""The embedded default model: TinyVGG weights and metadata shipped in ``assets/models``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from cnnviz.assets import MODELS_DIR
from cnnviz.models.sharing import freeze
from cnnviz.models.tinyvgg import TINYVGG, TinyVGG

_HELD_OUT_OFFSET = 1_000_003


def held_out_seed(seed: int) -> int:
    """The seed of the held-out samples for a model trained with ``seed`` (never used in training)."""
    return seed + _HELD_OUT_OFFSET


def embedded_card(directory: Path | None = None, name: str = TINYVGG) -> dict[str, Any]:
    """The shipped TinyVGG's metadata card (configuration, normalisation, classes, accuracy)."""
    return json.loads(((directory or MODELS_DIR) / f"{name}.json").read_text())


def embedded_config(card: dict[str, Any] | None = None) -> dict[str, Any]:
    """The TinyVGG constructor arguments of ``card`` (by default the shipped one's)."""
    config = (card or embedded_card())["model_config"]
    return {**config, "channels": tuple(config["channels"])}


def load_embedded(directory: Path | None = None, name: str = TINYVGG) -> tuple[TinyVGG, dict[str, Any]]:
    """Load the shipped TinyVGG (in eval mode, parameters frozen) and its metadata card."""
    directory = directory or MODELS_DIR
    card = embedded_card(directory, name)
    model = TinyVGG(**embedded_config(card))
    state = torch.load(directory / f"{name}.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return freeze(model), card
