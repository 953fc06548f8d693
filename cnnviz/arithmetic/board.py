"""One model of an arithmetic step: the grids of a case, and what each step changes on them.

A :class:`Board` holds the grids one case shows (inputs, kernels, products, outputs) with their titles, colour
scales, padding and layout; a :class:`Change` is what one step does to them (the cells marked, the numbers
written, the caption). Every renderer draws from these and nothing else: the browser player
(:mod:`cnnviz.arithmetic.player` sends the board and every change), the Plotly figure and the GIF
(:mod:`cnnviz.arithmetic.animation` draw :func:`state` and :func:`change` of one step). So a step looks, and
counts, the same wherever it is shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from cnnviz.arithmetic.geometry import Geometry, output_cells
from cnnviz.arithmetic.levels import LEVELS, colour_levels, value_range
from cnnviz.arithmetic.steps import (
    Scene,
    direct_grid,
    direct_step,
    padded_input,
    scatter_partial,
    scatter_step,
    scatter_steps,
    step,
)

View = Literal["window", "direct", "scatter"]
Kind = Literal["input", "kernel", "products", "output"]
Palette = Literal["input", "output", "signed"]
Cells = tuple[tuple[int, tuple[int, ...]], ...]
"""Marked cells: (grid index, flat cell indices) pairs."""


VIEW_NAMES: dict[View, str] = {
    "window": "Sliding window",
    "scatter": "Scatter (each input adds value × kernel)",
    "direct": "Direct convolution over the zero-inserted input",
}
"""Each view's name on the page (and in a link's ``view`` setting)."""


def views_for(geo: Geometry) -> tuple[View, ...]:
    """The views a setting offers: transposed convolution is shown two ways."""
    return ("scatter", "direct") if geo.op == "transposed" else ("window",)


def num_frames(scene: Scene, view: View) -> int:
    """Steps in ``view``: output cells, or input cells for the scatter view."""
    return scatter_steps(scene) if view == "scatter" else scene.num_steps


def fmt(value: float) -> str:
    """A cell value as shown: integers plainly, others with up to two decimals, −∞ for empty max windows."""
    if math.isinf(value):
        return "−∞" if value < 0 else "∞"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _term(value: float) -> str:
    """A factor of a product as written in a caption: negative ones in brackets, ``2·(-1)``."""
    text = fmt(value)
    return f"({text})" if text.startswith(("-", "−")) else text


def channel_label(i: int, n: int, side: Literal["in", "out"]) -> str:
    """`` · in ch 2`` for the second of several input channels (``out ch`` on the output side): the two sides
    are never both called "ch 1"; nothing when there is one."""
    return f" · {side} ch {i + 1}" if n > 1 else ""


def step_caption(scene: Scene, index: int, view: View = "window") -> str:
    """One line saying what step ``index`` computes, with the numbers."""
    geo = scene.geo
    if view == "scatter":
        s = scatter_step(scene, index)
        into = f"{len(s.targets)} output cells{channel_label(s.out_channel, scene.out_channels, 'out')}"
        return (
            f"Input cell ({s.row}, {s.col}){channel_label(s.channel, scene.in_channels, 'in')} = {fmt(s.value)} "
            f"adds {fmt(s.value)} × kernel into {into}."
        )
    st = direct_step(scene, index) if view == "direct" else step(scene, index)
    where = f"output ({st.row}, {st.col}){channel_label(st.out_channel, scene.out_channels, 'out')}"
    if geo.op == "maxpool":
        vals = ", ".join(fmt(t.value) for t in st.taps if t.inside)
        return f"{where} = max({vals}) = {fmt(st.value)}"
    if geo.op == "avgpool":
        vals = " + ".join(fmt(t.value) for t in st.taps)
        return f"{where} = ({vals}) / {st.divisor} = {fmt(st.value)}"
    bias = "" if st.bias is None else f" + bias {_term(st.bias)}"
    zeros = " (zero cells skipped)" if view == "direct" else ""
    channels = scene.group_channels(st.out_channel)
    sums, parts = [], []
    for channel in channels:
        taps = [t for t in st.taps if t.channel == channel]
        terms = [f"{_term(t.value)}·{_term(t.weight or 0.0)}" for t in taps if view == "window" or t.value != 0]
        shown = " + ".join(terms[:40]) + (" + …" if len(terms) > 40 else "")
        sums.append(fmt(sum(t.product for t in taps)))
        parts.append(shown or "0")
    if len(channels) == 1:  # without a bias the sum is the value: said once
        total = f" = {sums[0]}{bias} = {fmt(st.value)}" if bias else f" = {fmt(st.value)}"
        source = f" reads in ch {channels.start + 1} only:" if scene.groups > 1 else " ="
        return f"{where}{source} {parts[0]}{zeros}{total}"
    per_channel = "; ".join(f"in ch {c + 1}: {p} = {v}" for c, p, v in zip(channels, parts, sums, strict=True))
    return f"{where}: {per_channel}{zeros}. Sum {' + '.join(sums)}{bias} = {fmt(st.value)}"


@dataclass(frozen=True)
class Grid:
    """One grid of a case as it is before the first step."""

    title: str
    values: np.ndarray  # 2-D; NaN is blank
    palette: Palette
    kind: Kind
    lo: float  # the colour scale's range (symmetric about 0 for the signed palette)
    hi: float
    transient: bool = False  # cleared before each step's writes (products) instead of accumulating
    text: np.ndarray | None = None  # values to write where they differ from ``values``
    grey: np.ndarray | None = None  # padding or inserted zeros
    frame: tuple[int, int, int, int] | None = None  # (row, col, rows, cols) of the real input, dotted

    @property
    def cols(self) -> int:
        return int(self.values.shape[1])

    def levels(self, values: np.ndarray) -> np.ndarray:
        """Colour level 0 … :data:`LEVELS` − 1 of each value on this grid's scale; −1 where blank."""
        return colour_levels(values, LEVELS, self.lo, self.hi, self.palette == "signed")

    def written(self, values: np.ndarray) -> np.ndarray:
        """The text each cell shows for ``values`` (inserted zeros keep their written 0)."""
        shown = values if self.text is None else np.where(np.isnan(values), self.text, values)
        flat = [("" if np.isnan(v) else fmt(float(v))) for v in np.asarray(shown, np.float64).ravel()]
        return np.array(flat, dtype=object).reshape(values.shape)


@dataclass(frozen=True)
class Change:
    """What step ``index`` does: the output channel it works on, its caption, the cells marked red (read) and
    orange (written) and the values written (grid, flat cell, value)."""

    index: int
    out_channel: int
    caption: str
    red: Cells
    orange: Cells
    writes: tuple[tuple[int, int, float], ...]


@dataclass(frozen=True)
class Board:
    """The grids of one case in one view, and which of them each output channel's steps show (rows of grid
    indices)."""

    scene: Scene
    view: View
    grids: tuple[Grid, ...]
    layouts: tuple[tuple[tuple[int, ...], ...], ...]
    inputs: tuple[tuple[int, tuple[int, int]], ...]  # grid index and grid offset of each input channel
    kernels: dict[tuple[int, int], int]  # (out channel, in channel) → grid index
    products: dict[int, int]  # input channel (window views) or output channel (scatter) → grid index
    outputs: tuple[int, ...]  # grid index per output channel
    totals: tuple[np.ndarray, ...] = ()  # scatter view: per step, the sums its target cells reach

    @property
    def steps(self) -> int:
        return num_frames(self.scene, self.view)


def board(scene: Scene, view: View = "window") -> Board:
    """The grids of ``scene`` in ``view``, before the first step."""
    return _scatter_board(scene) if view == "scatter" else _window_board(scene, view)


def _window_board(scene: Scene, view: View) -> Board:
    """Sliding-window views: convolution, pooling, and transposed convolution as a direct convolution."""
    geo = scene.geo
    direct = view == "direct"
    grid = direct_grid(scene) if direct else None
    grids: list[Grid] = []
    inputs: list[tuple[int, tuple[int, int]]] = []
    lo, hi = value_range(scene.x)
    for ic in range(scene.in_channels):
        name = f"Input{channel_label(ic, scene.in_channels, 'in')} {geo.rows.size}×{geo.cols.size}"
        frame = None
        if grid is not None:
            holds = (grid.source_rows[:, None] >= 0) & (grid.source_cols[None, :] >= 0)
            z, offset, grey = grid.values[ic], (0, 0), ~holds
            name = f"Zero-inserted, padded input{channel_label(ic, scene.in_channels, 'in')}"
        elif geo.op == "transposed":  # its padding crops the output; the input itself is not padded
            z, offset, grey = scene.x[ic], (0, 0), None
        else:
            z, offset = padded_input(scene, ic)
            grey = np.ones(z.shape, bool)
            grey[-offset[0] : -offset[0] + geo.rows.size, -offset[1] : -offset[1] + geo.cols.size] = False
            if grey.any():
                frame = (-offset[0], -offset[1], geo.rows.size, geo.cols.size)
                name += f", padded to {z.shape[0]}×{z.shape[1]}"
        grids.append(Grid(name, z, "input", "input", lo, hi, grey=grey, frame=frame))
        inputs.append((len(grids) - 1, offset))
    kernels: dict[tuple[int, int], int] = {}
    products: dict[int, int] = {}
    if not geo.pooling:
        klo, khi = value_range(scene.kernel)
        for oc in range(scene.out_channels):
            group = scene.group_channels(oc)
            for ic in group:
                k = scene.applied[oc, ic - group.start] if geo.op == "conv" else scene.kernel[ic, oc]
                name = "Kernel flipped 180°" if scene.flipped else "Kernel"
                title = ("Kernel rotated 180°" if direct else name) + channel_label(ic, scene.in_channels, "in")
                if scene.out_channels > 1:
                    title += f" → out ch {oc + 1}"
                grids.append(Grid(title, k[::-1, ::-1] if direct else k, "signed", "kernel", klo, khi))
                kernels[oc, ic] = len(grids) - 1
        plo, phi = value_range(np.outer(scene.x.ravel(), scene.kernel.ravel()))
        for ic in range(scene.in_channels):
            blank = np.full(scene.kernel.shape[2:], np.nan)
            title = f"Products{channel_label(ic, scene.in_channels, 'in')}"
            grids.append(Grid(title, blank, "signed", "products", plo, phi, transient=True))
            products[ic] = len(grids) - 1
    oh, ow = geo.output_size
    olo, ohi = value_range(scene.output)
    outputs = []
    for oc in range(scene.out_channels):
        title = f"Output{channel_label(oc, scene.out_channels, 'out')} {oh}×{ow}"
        grids.append(Grid(title, np.full((oh, ow), np.nan), "output", "output", olo, ohi))
        outputs.append(len(grids) - 1)
    layouts = []
    for oc in range(scene.out_channels):
        rows = [
            (pid,) if geo.pooling else (pid, kernels[oc, ic], products[ic])
            for ic, (pid, _) in enumerate(inputs)
            if ic in scene.group_channels(oc)
        ]
        rows[0] = (*rows[0], outputs[oc])
        layouts.append(tuple(rows))
    return Board(scene, view, tuple(grids), tuple(layouts), tuple(inputs), kernels, products, tuple(outputs))


def _scatter_board(scene: Scene) -> Board:
    """Transposed convolution as scattering: each input cell adds its value times the kernel into the output."""
    geo = scene.geo
    oh, ow = geo.output_size
    lo, hi = value_range(scene.x)
    size = f"{geo.rows.size}×{geo.cols.size}"
    grids = [
        Grid(f"Input{channel_label(ic, scene.in_channels, 'in')} {size}", x, "input", "input", lo, hi)
        for ic, x in enumerate(scene.x)
    ]
    inputs = tuple((ic, (0, 0)) for ic in range(scene.in_channels))
    klo, khi = value_range(scene.kernel)
    kernels, added = {}, {}
    for oc in range(scene.out_channels):
        for ic in range(scene.in_channels):
            title = f"Kernel{channel_label(ic, scene.in_channels, 'in')}"
            title += f" → out ch {oc + 1}" if scene.out_channels > 1 else ""
            grids.append(Grid(title, scene.kernel[ic, oc], "signed", "kernel", klo, khi))
            kernels[oc, ic] = len(grids) - 1
    alo, ahi = value_range(np.outer(scene.x.ravel(), scene.kernel.ravel()))
    for oc in range(scene.out_channels):
        blank = np.full(scene.kernel.shape[2:], np.nan)
        grids.append(Grid("value × kernel", blank, "signed", "products", alo, ahi, transient=True))
        added[oc] = len(grids) - 1
    # The output starts as the bias and gathers each step's amounts; its scale covers every partial sum.
    bias = np.zeros(scene.out_channels) if scene.bias is None else scene.bias.astype(np.float64)
    totals = _scatter_totals(scene)
    olo, ohi = value_range(np.concatenate([bias, *totals]))
    outputs = []
    for oc in range(scene.out_channels):
        title = f"Output so far{channel_label(oc, scene.out_channels, 'out')} {oh}×{ow}"
        grids.append(Grid(title, np.full((oh, ow), bias[oc]), "output", "output", olo, ohi))
        outputs.append(len(grids) - 1)
    layouts = tuple(
        tuple(
            (ic, kernels[oc, ic], added[oc], outputs[oc]) if ic == 0 else (ic, kernels[oc, ic])
            for ic in range(scene.in_channels)
        )
        for oc in range(scene.out_channels)
    )
    return Board(scene, "scatter", tuple(grids), layouts, inputs, kernels, added, tuple(outputs), totals)


def _scatter_totals(scene: Scene) -> tuple[np.ndarray, ...]:
    """For each scatter step, the sums its target cells reach: the output channel's bias plus every amount
    scattered into the cell up to and including that step (:func:`scatter_partial` at those cells)."""
    bias = np.zeros(scene.out_channels) if scene.bias is None else scene.bias.astype(np.float64)
    sums = np.repeat(bias, scene.geo.rows.output * scene.geo.cols.output).reshape(scene.output.shape)
    totals = []
    for index in range(scatter_steps(scene)):
        s = scatter_step(scene, index)
        reached = []
        for y, x, _, _, amount in s.targets:
            sums[s.out_channel, y, x] += amount
            reached.append(sums[s.out_channel, y, x])
        totals.append(np.array(reached))
    return tuple(totals)


def change(b: Board, index: int) -> Change:
    """What step ``index`` of board ``b`` marks and writes."""
    scene, geo = b.scene, b.scene.geo
    caption = step_caption(scene, index, b.view)
    if b.view == "scatter":
        s = scatter_step(scene, index)
        kid, aid, out = b.kernels[s.out_channel, s.channel], b.products[s.out_channel], b.outputs[s.out_channel]
        taps = tuple(ty * geo.cols.kernel + tx for _, _, ty, tx, _ in s.targets)
        cells = tuple(y * geo.cols.output + x for y, x, *_ in s.targets)
        writes = [(aid, t, float(amount)) for t, (*_, amount) in zip(taps, s.targets, strict=True)]
        writes += [(out, c, float(total)) for c, total in zip(cells, b.totals[index], strict=True)]
        red: Cells = ((s.channel, (s.row * geo.cols.size + s.col,)), (kid, taps), (aid, taps))
        return Change(index, s.out_channel, caption, red, ((out, cells),), tuple(writes))
    st = direct_step(scene, index) if b.view == "direct" else step(scene, index)
    marked: dict[int, set[int]] = {}
    writes = []
    for t in st.taps:
        pid, (oy, ox) = b.inputs[t.channel]
        marked.setdefault(pid, set()).add((t.row - oy) * b.grids[pid].cols + (t.col - ox))
        if not geo.pooling:
            tap = t.k_row * geo.cols.kernel + t.k_col
            marked.setdefault(b.kernels[st.out_channel, t.channel], set()).add(tap)
            writes.append((b.products[t.channel], tap, t.product))
    out = b.outputs[st.out_channel]
    cell = st.row * geo.cols.output + st.col
    writes.append((out, cell, float(scene.output[st.out_channel, st.row, st.col])))
    red = tuple((pid, tuple(sorted(cells))) for pid, cells in marked.items())
    return Change(index, st.out_channel, caption, red, ((out, (cell,)),), tuple(writes))


def state(b: Board, now: Change) -> list[np.ndarray]:
    """The values of every grid after the step whose change is ``now``: earlier steps' writes kept, a transient
    grid showing only this step's (what replaying every change up to it gives, computed at once)."""
    scene, index = b.scene, now.index
    values = [g.values.astype(np.float64) for g in b.grids]
    for pid, cell, value in now.writes:
        if b.grids[pid].transient:
            values[pid].reshape(-1)[cell] = value
    per_channel = num_frames(scene, b.view) // scene.out_channels
    current, done = divmod(index, per_channel)
    for oc, pid in enumerate(b.outputs):
        if oc < current:
            values[pid] = scene.output[oc].astype(np.float64).copy()
        elif oc == current and b.view == "scatter":
            values[pid] = scatter_partial(scene, index)
        elif oc == current:
            values[pid].reshape(-1)[: done + 1] = scene.output[oc].reshape(-1)[: done + 1]
    return values


@dataclass(frozen=True)
class Feeds:
    """The mapping question "which output cells does an input cell feed?" on a window board."""

    rows: tuple[tuple[int, ...], ...]
    values: list[np.ndarray]
    red: Cells
    orange: Cells


def feeds(b: Board, input_cell: tuple[int, int], out_channel: int = 0) -> Feeds:
    """Each input channel (the pooled one only, for a pool) with ``input_cell`` marked, and the finished output
    channel with every cell it feeds marked."""
    scene, geo = b.scene, b.scene.geo
    if b.view != "window":
        raise ValueError("the mapping is drawn on the window view")
    group = scene.group_channels(out_channel)
    shown = [(ic, pid, offset) for ic, (pid, offset) in enumerate(b.inputs) if ic in group]
    out = b.outputs[out_channel]
    rows = tuple(((pid, out) if n == 0 else (pid,)) for n, (_, pid, _) in enumerate(shown))
    values = [g.values.astype(np.float64) for g in b.grids]
    values[out] = scene.output[out_channel].astype(np.float64).copy()
    r, c = input_cell
    red = tuple((pid, ((r - oy) * b.grids[pid].cols + (c - ox),)) for _, pid, (oy, ox) in shown)
    fed = tuple(sorted(y * geo.cols.output + x for y, x in output_cells(geo, input_cell)))
    return Feeds(rows, values, red, ((out, fed),))
