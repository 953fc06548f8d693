"""Animation frames of the convolution arithmetic: a Plotly figure per step, and the whole run as a GIF.

Figures keep their payload small: grids are float32 arrays (Plotly sends them base64-encoded), values are
written into cells only while a grid is small enough to read them, and highlights are plain shapes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw
from plotly.subplots import make_subplots

from cnnviz.arithmetic.geometry import Geometry, output_cells
from cnnviz.arithmetic.levels import colour_levels
from cnnviz.arithmetic.steps import (
    Scene,
    Step,
    direct_grid,
    direct_step,
    scatter_partial,
    scatter_step,
    scatter_steps,
    step,
)
from cnnviz.fonts import label_font, plain

View = Literal["window", "direct", "scatter"]
TEXT_CELL_LIMIT = 24
"""Grids with more rows or columns than this show values on hover only."""
MAX_GIF_FRAMES = 800
HIGHLIGHT = "#d62728"
OUTPUT_HIGHLIGHT = "#ff7f0e"


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


@dataclass(frozen=True)
class Panel:
    """One grid of a figure."""

    title: str
    z: np.ndarray  # 2-D; NaN cells are blank
    colorscale: str
    offset: tuple[int, int] = (0, 0)  # grid coordinates of z[0, 0] (negative inside padding)
    real: tuple[int, int] | None = None  # the unpadded extent (rows, cols) drawn as a frame
    zmid: float | None = None
    text: np.ndarray | None = None  # values to write in the cells, where they differ from z (NaN in z)


def _cell_rects(
    cells: Iterable[tuple[int, int]], offset: tuple[int, int], ref: tuple[str, str], color: str, width: int = 3
) -> list[dict[str, Any]]:
    oy, ox = offset
    return [
        {
            "type": "rect",
            "xref": ref[0],
            "yref": ref[1],
            "line": {"color": color, "width": width},
            "x0": x - ox - 0.5,
            "x1": x - ox + 0.5,
            "y0": y - oy - 0.5,
            "y1": y - oy + 0.5,
        }
        for y, x in cells
    ]


def _heatmap(panel: Panel) -> go.Heatmap:
    z = panel.z.astype(np.float32)
    small = max(z.shape) <= TEXT_CELL_LIMIT
    finite = np.where(np.isfinite(z), z, np.nan)
    text = None
    if small:
        shown = panel.z if panel.text is None else panel.text
        text = [[("" if np.isnan(v) else fmt(float(v))) for v in row] for row in shown]
    return go.Heatmap(
        z=np.where(np.isinf(z), np.nan, finite),
        colorscale=panel.colorscale,
        zmid=panel.zmid,
        showscale=False,
        text=text,
        texttemplate="%{text}" if small else None,
        textfont={"size": 16},
        hovertemplate="row %{y}, col %{x}: %{z}<extra>" + panel.title + "</extra>",
        xgap=1,
        ygap=1,
    )


def _figure(
    panels: Sequence[Sequence[Panel | None]],
    shapes_for: Callable[[int, int, str, str], list[dict[str, Any]]],
    height: int,
) -> go.Figure:
    """Lay ``panels`` (rows of optional panels) out as subplots; ``shapes_for(r, c, xref, yref)`` adds shapes."""
    rows, cols = len(panels), max(len(r) for r in panels)
    titles = [p.title if p else "" for row in panels for p in (*row, *[None] * (cols - len(row)))]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.04, vertical_spacing=0.08)
    shapes: list[dict] = []
    for r, row in enumerate(panels, start=1):
        for c, panel in enumerate(row, start=1):
            if panel is None:
                continue
            fig.add_trace(_heatmap(panel), row=r, col=c)
            n = (r - 1) * cols + c
            xref, yref = ("x" if n == 1 else f"x{n}"), ("y" if n == 1 else f"y{n}")
            if panel.real is not None:
                oy, ox = panel.offset
                h, w = panel.real
                ph, pw = panel.z.shape
                grey = {
                    "type": "rect",
                    "xref": xref,
                    "yref": yref,
                    "line": {"width": 0},
                    "fillcolor": "rgba(120, 120, 120, 0.35)",
                    "layer": "above",
                }
                for x0, x1, y0, y1 in (
                    (0, pw, 0, -oy),
                    (0, pw, -oy + h, ph),
                    (0, -ox, -oy, -oy + h),
                    (-ox + w, pw, -oy, -oy + h),
                ):
                    if x1 > x0 and y1 > y0:  # the padding ring, shaded
                        shapes.append({**grey, "x0": x0 - 0.5, "x1": x1 - 0.5, "y0": y0 - 0.5, "y1": y1 - 0.5})
                shapes.append(
                    {
                        "type": "rect",
                        "xref": xref,
                        "yref": yref,
                        "line": {"color": "#333", "width": 2, "dash": "dot"},
                        "x0": -ox - 0.5,
                        "x1": -ox + w - 0.5,
                        "y0": -oy - 0.5,
                        "y1": -oy + h - 0.5,
                    }
                )
            shapes.extend(shapes_for(r - 1, c - 1, xref, yref))
            fig.update_xaxes(
                row=r, col=c, showticklabels=False, showgrid=False, zeroline=False, scaleanchor=yref, constrain="domain"
            )
            fig.update_yaxes(
                row=r,
                col=c,
                autorange="reversed",
                showticklabels=False,
                showgrid=False,
                zeroline=False,
                constrain="domain",
            )
    fig.update_layout(
        shapes=shapes,
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        plot_bgcolor="rgba(128, 128, 128, 0.25)",
        paper_bgcolor="rgba(0, 0, 0, 0)",
        showlegend=False,
    )
    fig.update_annotations(font_size=16)
    return fig


def _padded_input(scene: Scene, channel: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Input channel with its padding (zeros) around it, and the grid coordinate of its top-left cell."""
    geo = scene.geo
    r, c = geo.rows, geo.cols
    grid = np.zeros((r.padded, c.padded))
    grid[r.pad_before : r.pad_before + r.size, c.pad_before : c.pad_before + c.size] = scene.x[channel]
    return grid, (-r.pad_before, -c.pad_before)


def _output_so_far(scene: Scene, index: int) -> np.ndarray:
    """The output channel of step ``index`` with the cells not computed yet blank."""
    oh, ow = scene.geo.output_size
    channel, done = divmod(index, oh * ow)
    out = scene.output[channel].astype(np.float64).copy()
    flat = out.reshape(-1)
    flat[done + 1 :] = np.nan
    return out


def _term(value: float) -> str:
    """A factor of a product as written in a caption: negative ones in brackets, ``2·(-1)``."""
    text = fmt(value)
    return f"({text})" if text.startswith(("-", "−")) else text


def _channel_label(i: int, n: int) -> str:
    return f" · ch {i + 1}" if n > 1 else ""


def step_caption(scene: Scene, index: int, view: View = "window") -> str:
    """One line saying what step ``index`` computes, with the numbers."""
    geo = scene.geo
    if view == "scatter":
        s = scatter_step(scene, index)
        into = f"{len(s.targets)} output cells{_channel_label(s.out_channel, scene.out_channels)}"
        return (
            f"Input cell ({s.row}, {s.col}){_channel_label(s.channel, scene.in_channels)} = {fmt(s.value)} "
            f"adds {fmt(s.value)} × kernel into {into}."
        )
    st = direct_step(scene, index) if view == "direct" else step(scene, index)
    where = f"output ({st.row}, {st.col}){_channel_label(st.out_channel, scene.out_channels)}"
    if geo.op == "maxpool":
        vals = ", ".join(fmt(t.value) for t in st.taps if t.inside)
        return f"{where} = max({vals}) = {fmt(st.value)}"
    if geo.op == "avgpool":
        vals = " + ".join(fmt(t.value) for t in st.taps)
        return f"{where} = ({vals}) / {st.divisor} = {fmt(st.value)}"
    bias = "" if st.bias is None else f" + bias {_term(st.bias)}"
    zeros = " (zero cells skipped)" if view == "direct" else ""
    sums, parts = [], []
    for channel in range(scene.in_channels):
        taps = [t for t in st.taps if t.channel == channel]
        terms = [f"{_term(t.value)}·{_term(t.weight or 0.0)}" for t in taps if view == "window" or t.value != 0]
        shown = " + ".join(terms[:40]) + (" + …" if len(terms) > 40 else "")
        sums.append(fmt(sum(t.product for t in taps)))
        parts.append(shown or "0")
    if scene.in_channels == 1:
        return f"{where} = {parts[0]}{zeros} = {sums[0]}{bias} = {fmt(st.value)}"
    per_channel = "; ".join(f"ch {c + 1}: {p} = {v}" for c, (p, v) in enumerate(zip(parts, sums, strict=True)))
    return f"{where}: {per_channel}{zeros}. Sum {' + '.join(sums)}{bias} = {fmt(st.value)}"


def _window_figure(
    scene: Scene, st: Step, direct: bool, fed: set[tuple[int, int]] | None, picked: tuple[int, int] | None
) -> go.Figure:
    geo = scene.geo
    channels = [st.out_channel] if geo.pooling else list(range(scene.in_channels))
    grid = direct_grid(scene) if direct else None
    rows: list[list[Panel | None]] = []
    input_offsets: list[tuple[int, int]] = []
    for ic in channels:
        text = None
        if grid is not None:  # inserted and padding zeros are left grey, with their 0 written in
            holds = (grid.source_rows[:, None] >= 0) & (grid.source_cols[None, :] >= 0)
            z, offset, real, text = np.where(holds, grid.values[ic], np.nan), (0, 0), None, grid.values[ic]
            label = f"Zero-inserted, padded input{_channel_label(ic, scene.in_channels)}"
        elif geo.op == "transposed":  # its padding crops the output; the input itself is not padded
            z, offset, real = scene.x[ic], (0, 0), None
            label = f"Input{_channel_label(ic, scene.in_channels)} {geo.rows.size}×{geo.cols.size}"
        else:
            z, offset = _padded_input(scene, ic)
            real = geo.input_size
            label = f"Input{_channel_label(ic, scene.in_channels)} {geo.rows.size}×{geo.cols.size}"
            if geo.rows.padded != geo.rows.size or geo.cols.padded != geo.cols.size:
                label += f" (padded to {geo.rows.padded}×{geo.cols.padded})"
        row: list[Panel | None] = [Panel(label, z, "Blues", offset, real, text=text)]
        input_offsets.append(offset)
        if not geo.pooling and fed is None:
            kernel = scene.kernel[st.out_channel, ic] if geo.op == "conv" else scene.kernel[ic, st.out_channel]
            if direct:
                kernel = kernel[::-1, ::-1]
            products = np.full(kernel.shape, np.nan)
            for t in st.taps:
                if t.channel == ic:
                    products[t.k_row, t.k_col] = t.product
            kname = "Kernel rotated 180°" if direct else "Kernel"
            row += [
                Panel(f"{kname}{_channel_label(ic, scene.in_channels)}", kernel, "RdBu", zmid=0),
                Panel("Products", products, "RdBu", zmid=0),
            ]
        rows.append(row)
    oh, ow = geo.output_size
    out_title = f"Output{_channel_label(st.out_channel, scene.out_channels)} {oh}×{ow}"
    out_panel = Panel(
        out_title, _output_so_far(scene, st.index) if fed is None else scene.output[st.out_channel], "Greens"
    )
    rows[0].append(out_panel)
    out_col = len(rows[0]) - 1

    def shapes(r: int, c: int, xref: str, yref: str) -> list[dict[str, Any]]:
        ic, offset = channels[r], input_offsets[r]
        if c == 0:
            if fed is not None:
                return _cell_rects([picked] if picked else [], offset, (xref, yref), HIGHLIGHT)
            cells = [(t.row, t.col) for t in st.taps if t.channel == ic]
            return _cell_rects(cells, offset, (xref, yref), HIGHLIGHT)
        if r == 0 and c == out_col:
            cells = sorted(fed) if fed is not None else [(st.row, st.col)]
            return _cell_rects(cells, (0, 0), (xref, yref), OUTPUT_HIGHLIGHT, 4)
        if not geo.pooling and c == 1 and fed is None:
            return _cell_rects(
                [(t.k_row, t.k_col) for t in st.taps if t.channel == ic], (0, 0), (xref, yref), HIGHLIGHT
            )
        return []

    height = 170 + 230 * len(rows)
    return _figure(rows, shapes, height)


def _scatter_figure(scene: Scene, index: int) -> go.Figure:
    s = scatter_step(scene, index)
    kernel = scene.kernel[s.channel, s.out_channel]
    added = np.full(kernel.shape, np.nan)
    for _, _, ty, tx, amount in s.targets:
        added[ty, tx] = amount
    geo = scene.geo
    panels = [
        [
            Panel(
                f"Input{_channel_label(s.channel, scene.in_channels)} {geo.rows.size}×{geo.cols.size}",
                scene.x[s.channel],
                "Blues",
            ),
            Panel(f"Kernel{_channel_label(s.channel, scene.in_channels)}", kernel, "RdBu", zmid=0),
            Panel(f"value × kernel (= {fmt(s.value)} × kernel)", added, "RdBu", zmid=0),
            Panel(
                f"Output so far{_channel_label(s.out_channel, scene.out_channels)} {geo.rows.output}×{geo.cols.output}",
                scatter_partial(scene, index),
                "Greens",
            ),
        ]
    ]

    def shapes(r: int, c: int, xref: str, yref: str) -> list[dict]:
        if c == 0:
            return _cell_rects([(s.row, s.col)], (0, 0), (xref, yref), HIGHLIGHT)
        if c in (1, 2):
            return _cell_rects([(ty, tx) for _, _, ty, tx, _ in s.targets], (0, 0), (xref, yref), HIGHLIGHT)
        return _cell_rects([(y, x) for y, x, _, _, _ in s.targets], (0, 0), (xref, yref), OUTPUT_HIGHLIGHT, 4)

    return _figure(panels, shapes, 400)


def step_figure(scene: Scene, index: int, view: View = "window") -> go.Figure:
    """The figure of step ``index`` in ``view``."""
    if view == "scatter":
        return _scatter_figure(scene, index)
    st = direct_step(scene, index) if view == "direct" else step(scene, index)
    return _window_figure(scene, st, view == "direct", None, None)


def feeds_figure(scene: Scene, input_cell: tuple[int, int], out_channel: int = 0) -> go.Figure:
    """Input channel grids with ``input_cell`` marked and every output cell it feeds highlighted."""
    fed = output_cells(scene.geo, input_cell)
    oh, ow = scene.geo.output_size
    st = step(scene, out_channel * oh * ow)
    return _window_figure(scene, st, False, fed, input_cell)


# --- GIF ----------------------------------------------------------------------------------------------------

_PALETTE_SIZE = 32  # colour levels per ramp


def _palette() -> list[int]:
    colours = [(255, 255, 255), (30, 30, 30), (214, 39, 40), (215, 215, 215), (255, 127, 14), (120, 120, 120)]
    colours += [(0, 0, 0)] * (16 - len(colours))
    for i in range(_PALETTE_SIZE):  # blues: inputs
        t = 0.12 + 0.88 * i / (_PALETTE_SIZE - 1)
        colours.append((int(247 - t * 200), int(251 - t * 150), int(255 - t * 80)))
    for i in range(_PALETTE_SIZE):  # greens: outputs
        t = 0.12 + 0.88 * i / (_PALETTE_SIZE - 1)
        colours.append((int(247 - t * 200), int(252 - t * 90), int(245 - t * 200)))
    for i in range(_PALETTE_SIZE):  # red, white, blue: kernels (0 in the middle)
        t = 2 * i / (_PALETTE_SIZE - 1) - 1
        colours.append(
            (255, int(255 + 180 * t), int(255 + 180 * t)) if t < 0 else (int(255 - 200 * t), int(255 - 120 * t), 255)
        )
    flat = [v for c in colours for v in c]
    return flat + [0] * (768 - len(flat))


_BLUE, _GREEN, _SIGNED = 16, 16 + _PALETTE_SIZE, 16 + 2 * _PALETTE_SIZE


def _level(values: np.ndarray) -> np.ndarray:
    """Palette levels on the values' own range (a blank cell takes the lowest)."""
    return np.maximum(colour_levels(values, _PALETTE_SIZE), 0)


def offset_slice(geo: Geometry) -> tuple[slice, slice]:
    """Where the unpadded input lies inside the padded grid."""
    r, c = geo.rows, geo.cols
    return slice(r.pad_before, r.pad_before + r.size), slice(c.pad_before, c.pad_before + c.size)


def gif_bytes(scene: Scene, view: View = "window", duration_ms: int = 400, max_side: int = 720) -> bytes:
    """The whole animation as an animated GIF with one frame per step, drawn with Pillow.

    Raises:
        ValueError: more than :data:`MAX_GIF_FRAMES` steps.
    """
    frames = num_frames(scene, view)
    if frames > MAX_GIF_FRAMES:
        raise ValueError(f"A GIF is made for at most {MAX_GIF_FRAMES} steps; this setting has {frames}.")
    geo = scene.geo
    if view == "direct":
        inputs = direct_grid(scene).values
        offset = (0, 0)
    elif view == "scatter":
        inputs, offset = scene.x, (0, 0)
    else:
        padded = [_padded_input(scene, c) for c in range(scene.in_channels)]
        inputs, offset = np.stack([p[0] for p in padded]), padded[0][1]
    in_h, in_w = inputs.shape[1:]
    out_h, out_w = geo.output_size
    kernels = not geo.pooling  # each input channel is followed by its kernel, taps boxed
    kw = geo.cols.kernel if kernels else 0
    panels = inputs.shape[0] * (2 if kernels else 1) + 1
    cols_total = (in_w + kw) * inputs.shape[0] + out_w
    cell = max(3, min(40, (max_side - 40) // max(cols_total + panels, max(in_h, out_h))))
    gap = cell
    width = gap + (in_w * cell + gap) * inputs.shape[0] + (kw * cell + gap) * inputs.shape[0] * kernels
    width += out_w * cell + gap
    header = 18
    height = header + gap * 2 + max(in_h, out_h) * cell + 8
    font = label_font(max(8, int(cell * 0.5))) if cell >= 14 else None
    in_levels = _level(inputs)
    out_levels = _level(scene.output)
    palette = _palette()
    images = []

    padding = np.ones((in_h, in_w), dtype=bool)
    if view == "window":
        padding[offset_slice(geo)] = False
    elif view == "direct":
        grid_info = direct_grid(scene)
        padding = (grid_info.source_rows[:, None] < 0) | (grid_info.source_cols[None, :] < 0)
    else:
        padding[:] = False
    title_font = label_font(12)

    def grid(
        draw: ImageDraw.ImageDraw,
        x0: int,
        y0: int,
        levels: np.ndarray,
        base: int,
        values: np.ndarray,
        boxes: Iterable[tuple[int, int]],
        box_colour: int,
        blanks: np.ndarray | None = None,
        greyed: np.ndarray | None = None,
    ) -> None:
        rows, cols = levels.shape
        for r in range(rows):
            for c in range(cols):
                blank = blanks is not None and blanks[r, c]
                colour = 0 if blank else base + int(levels[r, c])
                if greyed is not None and greyed[r, c]:
                    colour = 3
                x, y = x0 + c * cell, y0 + r * cell
                draw.rectangle([x, y, x + cell - 2, y + cell - 2], fill=colour)
                if font is not None and not blank:
                    text = plain(fmt(float(values[r, c])))
                    ink = 0 if levels[r, c] > _PALETTE_SIZE * 0.6 else 1
                    draw.text((x + cell / 2 - 1, y + cell / 2 - 1), text, fill=ink, font=font, anchor="mm")
        for r, c in boxes:
            if 0 <= r < rows and 0 <= c < cols:
                x, y = x0 + c * cell, y0 + r * cell
                draw.rectangle([x - 1, y - 1, x + cell - 1, y + cell - 1], outline=box_colour, width=2)

    def kernel_of(ic: int, oc: int) -> np.ndarray:
        if geo.op == "conv":
            return scene.kernel[oc, ic]
        k = scene.kernel[ic, oc]
        return k[::-1, ::-1] if view == "direct" else k

    if kernels:
        signed_levels = colour_levels(scene.kernel, _PALETTE_SIZE, signed=True)

    for index in range(frames):
        image = Image.new("P", (width, height), 0)
        image.putpalette(palette)
        draw = ImageDraw.Draw(image)
        if view == "scatter":
            s = scatter_step(scene, index)
            channel_boxes = {s.channel: [(s.row, s.col)]}
            kernel_boxes = {s.channel: [(ty, tx) for _, _, ty, tx, _ in s.targets]}
            out_values = scatter_partial(scene, index)
            out_boxes = [(y, x) for y, x, _, _, _ in s.targets]
            out_blank, out_channel = None, s.out_channel
        else:
            st = direct_step(scene, index) if view == "direct" else step(scene, index)
            channel_boxes, kernel_boxes = {}, {}
            for t in st.taps:
                channel_boxes.setdefault(t.channel, []).append((t.row - offset[0], t.col - offset[1]))
                kernel_boxes.setdefault(t.channel, []).append((t.k_row, t.k_col))
            out_channel = st.out_channel
            out_values = scene.output[out_channel]
            out_boxes = [(st.row, st.col)]
            out_blank = np.isnan(_output_so_far(scene, index))
        x0, top = gap, header + gap
        for ch in range(inputs.shape[0]):
            name = {"window": "input", "direct": "zero-inserted input", "scatter": "input"}[view]
            draw.text((x0, 3), name + (f" ch {ch + 1}" if inputs.shape[0] > 1 else ""), fill=1, font=title_font)
            grid(draw, x0, top, in_levels[ch], _BLUE, inputs[ch], channel_boxes.get(ch, []), 2, None, padding)
            if view == "window" and (
                geo.rows.pad_before or geo.cols.pad_before or geo.rows.pad_after or geo.cols.pad_after
            ):
                px, py = x0 + geo.cols.pad_before * cell, top + geo.rows.pad_before * cell
                draw.rectangle(
                    [px - 1, py - 1, px + geo.cols.size * cell - 1, py + geo.rows.size * cell - 1], outline=5, width=1
                )
            x0 += in_w * cell + gap
            if kernels:
                k = kernel_of(ch, out_channel)
                k_levels = signed_levels[out_channel, ch] if geo.op == "conv" else signed_levels[ch, out_channel]
                if view == "direct":
                    k_levels = k_levels[::-1, ::-1]
                draw.text((x0, 3), "kernel" + (" (rotated)" if view == "direct" else ""), fill=1, font=title_font)
                grid(draw, x0, top, k_levels.astype(int), _SIGNED, k, kernel_boxes.get(ch, []), 2)
                x0 += kw * cell + gap
        levels = _level(out_values) if view == "scatter" else out_levels[out_channel]
        draw.text(
            (x0, 3), "output" + (f" ch {out_channel + 1}" if scene.out_channels > 1 else ""), fill=1, font=title_font
        )
        grid(draw, x0, top, levels, _GREEN, out_values, out_boxes, 4, out_blank)
        bar = int((width - 2 * gap) * (index + 1) / frames)  # a progress bar also keeps every frame distinct
        draw.rectangle([gap, height - 6, gap + bar, height - 3], fill=1)
        images.append(image)
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=duration_ms,
        loop=0,
        optimize=False,
        disposal=1,
    )
    return buffer.getvalue()
