"""The step player's payload: every step of one case, computed once, so the browser can animate, pause,
step and scrub without asking the server again.

The payload is the case's :class:`~cnnviz.arithmetic.board.Board` and every step's
:class:`~cnnviz.arithmetic.board.Change` as JSON: every number the browser shows is text written by Python
(the same ``fmt`` as the captions), every highlight a list of cells, every colour a level of the shared
palettes (:mod:`cnnviz.arithmetic.levels`), as the Plotly figure and the GIF draw them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from cnnviz.arithmetic.board import Change, Grid, View, board, change, fmt, num_frames
from cnnviz.arithmetic.levels import DARK_LEVELS, PALETTES
from cnnviz.arithmetic.steps import Scene

MAX_PLAYER_CELLS = 150_000
"""Cells highlighted or written over all steps above which a case is too big to send at once (about 2.5 MB);
such cases step on the server instead."""


def _size_cost(scene: Scene, view: View) -> int:
    """Cells the payload lists over all steps (highlights and writes), known before building it."""
    geo = scene.geo
    per_window = geo.rows.kernel * geo.cols.kernel * len(scene.group_channels(0))
    return num_frames(scene, view) * (per_window * (1 if geo.pooling else 3) + 2)


def fits(scene: Scene, view: View) -> bool:
    """Whether this case is small enough to animate in the browser (:data:`MAX_PLAYER_CELLS`)."""
    return _size_cost(scene, view) <= MAX_PLAYER_CELLS


def payload(scene: Scene, view: View = "window") -> dict:
    """Everything the browser player needs for ``scene`` in ``view``, as JSON-ready data.

    Raises:
        ValueError: the case is too big (:func:`fits`).
    """
    if not fits(scene, view):
        raise ValueError(f"This case has too many steps to animate in the browser ({num_frames(scene, view)}).")
    b = board(scene, view)
    return panels_payload(view, b.grids, b.layouts, [change(b, index) for index in range(b.steps)])


def panels_payload(
    view: str, grids: Sequence[Grid], layouts: Sequence[Sequence[Sequence[int]]], changes: Sequence[Change]
) -> dict:
    """The player's data for any grids and steps: ``layouts`` are the rows of grid indices a step shows (chosen
    by its change's ``out_channel``). The arithmetic cases and a real unit's computation
    (:mod:`cnnviz.network.unit_player`) are both sent this way."""
    data: dict[str, Any] = {
        "view": view,
        "palettes": PALETTES,
        "dark": DARK_LEVELS,
        "panels": [_grid_json(g) for g in grids],
        "layouts": [[list(row) for row in layout] for layout in layouts],
        "steps": [_change_json(grids, c) for c in changes],
    }
    data["id"] = hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    return data


def _grid_json(grid: Grid) -> dict[str, Any]:
    rows, cols = grid.values.shape
    return {
        "title": grid.title,
        "rows": rows,
        "cols": cols,
        "palette": grid.palette,
        "kind": grid.kind,
        "transient": grid.transient,
        "text": grid.written(grid.values).ravel().tolist(),
        "level": grid.levels(grid.values).ravel().tolist(),
        "grey": [] if grid.grey is None else np.flatnonzero(grid.grey).tolist(),
        "frame": grid.frame,
    }


def _change_json(grids: Sequence[Grid], c: Change) -> dict[str, Any]:
    writes: list[list[Any]] = []
    for pid in dict.fromkeys(pid for pid, _, _ in c.writes):  # each grid's writes coloured in one call, in order
        cells = [(cell, value) for p, cell, value in c.writes if p == pid]
        levels = grids[pid].levels(np.array([value for _, value in cells]))
        writes += [[pid, cell, fmt(value), int(level)] for (cell, value), level in zip(cells, levels, strict=True)]
    return {
        "oc": c.out_channel,
        "caption": c.caption,
        "red": [[pid, list(cells)] for pid, cells in c.red],
        "orange": [[pid, list(cells)] for pid, cells in c.orange],
        "set": writes,
    }
