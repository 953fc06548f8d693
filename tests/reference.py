"""Helpers only the tests need: independent readings of what the library produced."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from cnnviz.arithmetic import geometry as ar

_HOOK_TABLES = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")


def layer_outputs(model: nn.Module, x: torch.Tensor, names: Iterable[str]) -> dict[str, torch.Tensor]:
    """What the layers ``names`` of ``model`` gave for ``x`` (a layer called twice, as resnet's ReLU: its last
    call; copied at once, so a later in-place layer cannot change it), read with plain forward hooks: the
    reference the unit tests and the benchmark compare with."""
    outputs: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(_m: nn.Module, _i: object, out: torch.Tensor) -> None:  # (returns None: the output stays)
            outputs[name] = out.detach().clone()

        return hook

    modules = dict(model.named_modules())
    handles = [modules[name].register_forward_hook(keep(name)) for name in names]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return outputs


def hook_count(model: nn.Module) -> int:
    """How many forward / backward hooks are registered anywhere in ``model``."""
    return sum(len(getattr(m, name, {})) for m in model.modules() for name in _HOOK_TABLES)


def missing_glyphs(text: str, font) -> set[str]:
    """Characters of ``text`` that ``font`` would draw as its missing-glyph box."""
    if not hasattr(font, "getmask2"):
        return {ch for ch in text if not ch.isascii()}
    box = np.asarray(font.getmask("\ue000")).tobytes()  # a private-use character: never in a font
    return {ch for ch in set(text) if not ch.isspace() and np.asarray(font.getmask(ch)).tobytes() == box}


def replay(data: dict, index: int, field: str = "text") -> list[list]:
    """The text (or the colour ``"level"``) of every panel at step ``index`` of a player payload, computed as the
    browser player does."""
    shown = [list(p[field]) for p in data["panels"]]
    for i, s in enumerate(data["steps"][: index + 1]):
        for pid, cell, text, level in s["set"]:
            if data["panels"][pid]["transient"] and i != index:
                continue
            shown[pid][cell] = text if field == "text" else level
    return shown


def input_cells(geo: ar.Geometry, output_cell: tuple[int, int]) -> set[tuple[int, int]]:
    """The cells of the unpadded input on which ``output_cell`` depends, from the library's index maps."""
    r, c = output_cell
    rows = {x for x, _ in ar.axis_sources(geo.op, geo.rows, r) if 0 <= x < geo.rows.size}
    cols = {x for x, _ in ar.axis_sources(geo.op, geo.cols, c) if 0 <= x < geo.cols.size}
    return {(y, x) for y in rows for x in cols}
