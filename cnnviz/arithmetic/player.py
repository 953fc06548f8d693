"""The step player's payload: every step of one case, computed once, so the browser can animate, pause,
step and scrub without asking the server again.

The browser only draws what is here: every number it shows is text written by Python (the same ``fmt`` as
the captions), every highlight a list of cells, every colour a level of a palette. ``replay`` rebuilds the
grids of any step the way the browser does, so tests can compare the payload with the step functions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from plotly.colors import sample_colorscale

from cnnviz.arithmetic.animation import View, _padded_input, fmt, num_frames, step_caption
from cnnviz.arithmetic.levels import colour_levels, value_range
from cnnviz.arithmetic.steps import Scene, direct_grid, direct_step, scatter_step, scatter_steps, step

LEVELS = 32
"""Colour levels per palette."""
MAX_PLAYER_CELLS = 150_000
"""Cells highlighted or written over all steps above which a case is too big to send at once (about 2.5 MB);
such cases step on the server instead."""
PALETTES = {
    "input": sample_colorscale("Blues", [0.08 + 0.8 * i / (LEVELS - 1) for i in range(LEVELS)], colortype="rgb"),
    "output": sample_colorscale("Greens", [0.08 + 0.8 * i / (LEVELS - 1) for i in range(LEVELS)], colortype="rgb"),
    "signed": sample_colorscale("RdBu", [0.1 + 0.8 * i / (LEVELS - 1) for i in range(LEVELS)], colortype="rgb"),
}
DARK_LEVELS = {"input": (LEVELS * 0.55, LEVELS), "output": (LEVELS * 0.6, LEVELS), "signed": (0, 0)}


@dataclass
class _Panel:
    title: str
    values: np.ndarray  # 2-D; NaN is blank
    palette: str
    kind: str  # input, kernel, products, output
    transient: bool = False  # cleared before each step's writes (products) instead of accumulating
    text: np.ndarray | None = None  # values to write where they differ from ``values``
    grey: np.ndarray | None = None  # padding or inserted zeros
    frame: tuple[int, int, int, int] | None = None  # (row, col, rows, cols) of the real input, dotted
    lo: float = 0.0
    hi: float = 1.0

    def level(self, values: np.ndarray) -> np.ndarray:
        return colour_levels(values, LEVELS, self.lo, self.hi, self.palette == "signed")

    def as_json(self) -> dict:
        shown = self.values if self.text is None else self.text
        text = ["" if np.isnan(v) else fmt(float(v)) for v in np.asarray(shown, np.float64).ravel()]
        rows, cols = self.values.shape
        grey = [] if self.grey is None else np.flatnonzero(self.grey).tolist()
        return {
            "title": self.title,
            "rows": rows,
            "cols": cols,
            "palette": self.palette,
            "kind": self.kind,
            "transient": self.transient,
            "text": text,
            "level": self.level(self.values).ravel().tolist(),
            "grey": grey,
            "frame": self.frame,
        }


def _label(i: int, n: int) -> str:
    return f" · ch {i + 1}" if n > 1 else ""


def _size_cost(scene: Scene, view: View) -> int:
    """Cells the payload lists over all steps (highlights and writes), known before building it."""
    geo = scene.geo
    per_window = geo.rows.kernel * geo.cols.kernel * (1 if geo.pooling else scene.in_channels)
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
    build = _scatter if view == "scatter" else _window
    panels, layouts, steps = build(scene, view)
    data: dict[str, Any] = {
        "view": view,
        "palettes": PALETTES,
        "dark": DARK_LEVELS,
        "panels": [p.as_json() for p in panels],
        "layouts": layouts,
        "steps": steps,
    }
    data["id"] = hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    return data


def _window(scene: Scene, view: View) -> tuple[list[_Panel], list[list[list[int]]], list[dict]]:
    """Sliding-window views: convolution, pooling, and transposed convolution as a direct convolution."""
    geo = scene.geo
    direct = view == "direct"
    grid = direct_grid(scene) if direct else None
    panels: list[_Panel] = []
    inputs: list[tuple[int, tuple[int, int]]] = []  # panel index and grid offset per input channel
    for ic in range(scene.in_channels):
        name = f"Input{_label(ic, scene.in_channels)} {geo.rows.size}×{geo.cols.size}"
        if grid is not None:
            holds = (grid.source_rows[:, None] >= 0) & (grid.source_cols[None, :] >= 0)
            z, offset, grey, frame = grid.values[ic], (0, 0), ~holds, None
            name = f"Zero-inserted, padded input{_label(ic, scene.in_channels)}"
        elif geo.op == "transposed":
            z, offset, grey, frame = scene.x[ic], (0, 0), None, None
        else:
            z, offset = _padded_input(scene, ic)
            grey = np.ones(z.shape, bool)
            grey[-offset[0] : -offset[0] + geo.rows.size, -offset[1] : -offset[1] + geo.cols.size] = False
            frame = (-offset[0], -offset[1], geo.rows.size, geo.cols.size) if grey.any() else None
            if grey.any():
                name += f", padded to {z.shape[0]}×{z.shape[1]}"
        lo, hi = value_range(scene.x)
        panels.append(_Panel(name, z, "input", "input", grey=grey, frame=frame, lo=lo, hi=hi))
        inputs.append((len(panels) - 1, offset))
    kernels: dict[tuple[int, int], int] = {}
    products: dict[int, int] = {}
    if not geo.pooling:
        lo, hi = value_range(scene.kernel)
        for oc in range(scene.out_channels):
            for ic in range(scene.in_channels):
                k = scene.kernel[oc, ic] if geo.op == "conv" else scene.kernel[ic, oc]
                title = ("Kernel rotated 180°" if direct else "Kernel") + _label(ic, scene.in_channels)
                if scene.out_channels > 1:
                    title += f" → out ch {oc + 1}"
                panels.append(_Panel(title, k[::-1, ::-1] if direct else k, "signed", "kernel", lo=lo, hi=hi))
                kernels[oc, ic] = len(panels) - 1
        products_range = value_range(np.outer(scene.x.ravel(), scene.kernel.ravel())) if scene.x.size else (0.0, 1.0)
        for ic in range(scene.in_channels):
            shape = scene.kernel.shape[2:]
            panels.append(
                _Panel(
                    f"Products{_label(ic, scene.in_channels)}",
                    np.full(shape, np.nan),
                    "signed",
                    "products",
                    transient=True,
                    lo=products_range[0],
                    hi=products_range[1],
                )
            )
            products[ic] = len(panels) - 1
    oh, ow = geo.output_size
    lo, hi = value_range(scene.output)
    outputs = []
    for oc in range(scene.out_channels):
        panels.append(
            _Panel(
                f"Output{_label(oc, scene.out_channels)} {oh}×{ow}",
                np.full((oh, ow), np.nan),
                "output",
                "output",
                lo=lo,
                hi=hi,
            )
        )
        outputs.append(len(panels) - 1)
    layouts = []
    for oc in range(scene.out_channels):
        rows = []
        for ic, (pid, _) in enumerate(inputs):
            if geo.pooling and ic != oc:
                continue
            row = [pid] if geo.pooling else [pid, kernels[oc, ic], products[ic]]
            rows.append(row)
        rows[0].append(outputs[oc])
        layouts.append(rows)

    steps = []
    for index in range(num_frames(scene, view)):
        st = direct_step(scene, index) if direct else step(scene, index)
        red: dict[int, list[int]] = {}
        writes: list[list] = []
        per_product: dict[int, list[tuple[int, float]]] = {}
        for t in st.taps:
            pid, (oy, ox) = inputs[t.channel]
            cols = panels[pid].values.shape[1]
            red.setdefault(pid, []).append((t.row - oy) * cols + (t.col - ox))
            if not geo.pooling:
                kid = kernels[st.out_channel, t.channel]
                red.setdefault(kid, []).append(t.k_row * geo.cols.kernel + t.k_col)
                per_product.setdefault(products[t.channel], []).append((t.k_row * geo.cols.kernel + t.k_col, t.product))
        for pid, cells in per_product.items():
            levels = panels[pid].level(np.array([v for _, v in cells]))
            writes += [[pid, i, fmt(v), int(level)] for (i, v), level in zip(cells, levels, strict=True)]
        out = outputs[st.out_channel]
        cell = st.row * ow + st.col
        value = float(scene.output[st.out_channel, st.row, st.col])
        writes.append([out, cell, fmt(value), int(panels[out].level(np.array([value]))[0])])
        steps.append(
            {
                "oc": st.out_channel,
                "caption": step_caption(scene, index, view),
                "red": [[pid, sorted(set(c))] for pid, c in red.items()],
                "orange": [[out, [cell]]],
                "set": writes,
            }
        )
    return panels, layouts, steps


def _scatter(scene: Scene, view: View) -> tuple[list[_Panel], list[list[list[int]]], list[dict]]:
    """Transposed convolution as scattering: each input cell adds its value times the kernel into the output."""
    geo = scene.geo
    oh, ow = geo.output_size
    lo, hi = value_range(scene.x)
    panels = [
        _Panel(
            f"Input{_label(ic, scene.in_channels)} {geo.rows.size}×{geo.cols.size}",
            scene.x[ic],
            "input",
            "input",
            lo=lo,
            hi=hi,
        )
        for ic in range(scene.in_channels)
    ]
    klo, khi = value_range(scene.kernel)
    kernels, added, outputs = {}, {}, {}
    amounts = np.outer(scene.x.ravel(), scene.kernel.ravel())
    alo, ahi = value_range(amounts) if amounts.size else (0.0, 1.0)
    for oc in range(scene.out_channels):
        for ic in range(scene.in_channels):
            title = f"Kernel{_label(ic, scene.in_channels)}" + (f" → out ch {oc + 1}" if scene.out_channels > 1 else "")
            panels.append(_Panel(title, scene.kernel[ic, oc], "signed", "kernel", lo=klo, hi=khi))
            kernels[oc, ic] = len(panels) - 1
    shape = scene.kernel.shape[2:]
    for oc in range(scene.out_channels):
        panels.append(
            _Panel("value × kernel", np.full(shape, np.nan), "signed", "products", transient=True, lo=alo, hi=ahi)
        )
        added[oc] = len(panels) - 1
    # Output so far: bias everywhere, then each step's amounts added; its scale covers every partial sum.
    bias = np.zeros(scene.out_channels) if scene.bias is None else scene.bias.astype(np.float64)
    sums = {oc: np.full((oh, ow), float(bias[oc])) for oc in range(scene.out_channels)}
    history = []
    for index in range(scatter_steps(scene)):
        s = scatter_step(scene, index)
        total = sums[s.out_channel]
        for y, x, _, _, amount in s.targets:
            total[y, x] += amount
        history.append((s, [(y * ow + x, float(total[y, x])) for y, x, _, _, _ in s.targets]))
    everything = [v for _, written in history for _, v in written]
    everything += bias.tolist()
    olo, ohi = (min(everything), max(everything)) if everything else (0.0, 1.0)
    for oc in range(scene.out_channels):
        title = f"Output so far{_label(oc, scene.out_channels)} {oh}×{ow}"
        panels.append(_Panel(title, np.full((oh, ow), bias[oc]), "output", "output", lo=olo, hi=ohi))
        outputs[oc] = len(panels) - 1
    layouts = [
        [
            [ic, kernels[oc, ic], added[oc], outputs[oc]] if ic == 0 else [ic, kernels[oc, ic]]
            for ic in range(scene.in_channels)
        ]
        for oc in range(scene.out_channels)
    ]
    steps = []
    for s, written in history:
        kid, aid, out = kernels[s.out_channel, s.channel], added[s.out_channel], outputs[s.out_channel]
        taps = [ty * geo.cols.kernel + tx for _, _, ty, tx, _ in s.targets]
        amounts_now = np.array([a for *_, a in s.targets])
        writes = [
            [aid, i, fmt(a), int(level)]
            for i, a, level in zip(taps, amounts_now, panels[aid].level(amounts_now), strict=True)
        ]
        values = np.array([v for _, v in written])
        writes += [
            [out, i, fmt(v), int(level)] for (i, v), level in zip(written, panels[out].level(values), strict=True)
        ]
        steps.append(
            {
                "oc": s.out_channel,
                "caption": step_caption(scene, s.index, view),
                "red": [[s.channel, [s.row * geo.cols.size + s.col]], [kid, taps], [aid, taps]],
                "orange": [[out, [i for i, _ in written]]],
                "set": writes,
            }
        )
    return panels, layouts, steps
