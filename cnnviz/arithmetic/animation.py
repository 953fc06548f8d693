"""The convolution arithmetic drawn as a Plotly figure per step, and the whole run as a GIF.

Both draw a case's :class:`~cnnviz.arithmetic.board.Board` (the one model of a step, which the browser player
sends too): its grids, colour levels and palettes, the cells a step marks and the numbers it writes. Figures
keep their payload small: colours are levels (float32 arrays, which Plotly sends base64-encoded), values are
written into cells only while a grid is small enough to read them, and highlights are plain shapes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw
from plotly.subplots import make_subplots

from cnnviz.arithmetic.board import (
    Board,
    Cells,
    Grid,
    change,
    feeds,
    num_frames,
    state,
)
from cnnviz.arithmetic.levels import LEVELS, PALETTES, band_range, is_dark, rgb
from cnnviz.charts import readable
from cnnviz.fonts import label_font, plain

TEXT_CELL_LIMIT = 24
"""Grids with more rows or columns than this show values on hover only."""
MAX_GIF_FRAMES = 800
HIGHLIGHT = "#d62728"
OUTPUT_HIGHLIGHT = "#ff7f0e"


def _banded(palette: str) -> list[list[Any]]:
    """A Plotly colour scale with one flat band per level: over :func:`~cnnviz.arithmetic.levels.band_range`, a
    value takes exactly the palette's colour of its level."""
    scale: list[list[Any]] = []
    for k, colour in enumerate(PALETTES[palette]):
        scale += [[k / LEVELS, colour], [(k + 1) / LEVELS, colour]]
    return scale


def _rects(cells: Sequence[int], cols: int, ref: tuple[str, str], color: str, width: int = 3) -> list[dict[str, Any]]:
    return [
        {
            "type": "rect",
            "xref": ref[0],
            "yref": ref[1],
            "line": {"color": color, "width": width},
            "x0": c % cols - 0.5,
            "x1": c % cols + 0.5,
            "y0": c // cols - 0.5,
            "y1": c // cols + 0.5,
        }
        for c in cells
    ]


def _heatmap(grid: Grid, values: np.ndarray) -> go.Heatmap:
    blank = ~np.isfinite(values)  # blank, or an empty max window's −∞ (written, not coloured)
    if grid.grey is not None:
        blank |= grid.grey
    small = max(values.shape) <= TEXT_CELL_LIMIT
    text = grid.written(values).tolist() if small else None
    zmin, zmax = band_range(LEVELS, grid.lo, grid.hi, grid.palette == "signed")
    return go.Heatmap(
        z=np.where(blank, np.nan, values).astype(np.float32),
        colorscale=_banded(grid.palette),
        zmin=zmin,
        zmax=zmax,
        showscale=False,
        text=text,
        texttemplate="%{text}" if small else None,
        textfont={"size": 16},
        hovertemplate="row %{y}, col %{x}: %{z}<extra>" + grid.title + "</extra>",
        xgap=1,
        ygap=1,
    )


def _figure(b: Board, values: list[np.ndarray], rows: Sequence[Sequence[int]], red: Cells, orange: Cells) -> go.Figure:
    """The grids of ``rows`` (rows of grid indices) as subplots with ``values``, the ``red`` and ``orange``
    cells marked, padding grey and the real input framed."""
    ncols = max(len(r) for r in rows)
    titles = [b.grids[row[c]].title if c < len(row) else "" for row in rows for c in range(ncols)]
    fig = make_subplots(
        rows=len(rows), cols=ncols, subplot_titles=titles, horizontal_spacing=0.04, vertical_spacing=0.08
    )
    marks = {pid: cells for pid, cells in red}
    written = {pid: cells for pid, cells in orange}
    shapes: list[dict[str, Any]] = []
    for r, row in enumerate(rows, start=1):
        for c, pid in enumerate(row, start=1):
            grid = b.grids[pid]
            fig.add_trace(_heatmap(grid, values[pid]), row=r, col=c)
            n = (r - 1) * ncols + c
            ref = ("x" if n == 1 else f"x{n}"), ("y" if n == 1 else f"y{n}")
            if grid.frame is not None:
                top, left, h, w = grid.frame
                line = {"color": "#333", "width": 2, "dash": "dot"}
                shapes.append(
                    {"type": "rect", "xref": ref[0], "yref": ref[1], "line": line}
                    | {"x0": left - 0.5, "x1": left + w - 0.5, "y0": top - 0.5, "y1": top + h - 0.5}
                )
            shapes += _rects(marks.get(pid, ()), grid.cols, ref, HIGHLIGHT)
            shapes += _rects(written.get(pid, ()), grid.cols, ref, OUTPUT_HIGHLIGHT, 4)
            axis = {"showticklabels": False, "showgrid": False, "zeroline": False, "constrain": "domain"}
            fig.update_xaxes(row=r, col=c, scaleanchor=ref[1], **axis)
            fig.update_yaxes(row=r, col=c, autorange="reversed", **axis)
    fig.update_layout(
        shapes=shapes,
        height=170 + 230 * len(rows),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        plot_bgcolor="rgba(128, 128, 128, 0.25)",
        paper_bgcolor="rgba(0, 0, 0, 0)",
        showlegend=False,
    )
    fig.update_annotations(font_size=16)
    return readable(fig)


def step_figure(b: Board, index: int) -> go.Figure:
    """The figure of step ``index`` of board ``b`` (:func:`~cnnviz.arithmetic.board.board`, made once per case):
    the grids its output channel shows, after the step."""
    now = change(b, index)
    return _figure(b, state(b, now), b.layouts[now.out_channel], now.red, now.orange)


def feeds_figure(b: Board, input_cell: tuple[int, int], out_channel: int = 0) -> go.Figure:
    """Input channel grids of the window view's board ``b`` with ``input_cell`` marked and every output cell it
    feeds highlighted."""
    mapping = feeds(b, input_cell, out_channel)
    return _figure(b, mapping.values, mapping.rows, mapping.red, mapping.orange)


# --- GIF ----------------------------------------------------------------------------------------------------

_WHITE, _INK, _RED, _GREY, _ORANGE, _FRAME, _LIGHT = range(7)
_BASE = {"input": 16, "output": 16 + LEVELS, "signed": 16 + 2 * LEVELS}
"""Where each palette's levels start in the GIF's colour table (the first 16 entries are fixed colours)."""


def _gif_palette() -> list[int]:
    fixed = [(255, 255, 255), (30, 30, 30), (214, 39, 40), (215, 215, 215), (255, 127, 14), (90, 90, 90)]
    fixed += [(250, 250, 250)]
    colours = fixed + [(0, 0, 0)] * (16 - len(fixed))
    for palette in ("input", "output", "signed"):
        colours += [rgb(palette, level) for level in range(LEVELS)]
    flat = [v for c in colours for v in c]
    return flat + [0] * (768 - len(flat))


def gif_bytes(b: Board, duration_ms: int = 400, max_side: int = 720) -> bytes:
    """The whole animation as an animated GIF with one frame per step, drawn with Pillow from the case's board
    (the grids of the step's output channel, as the player lays them out).

    Raises:
        ValueError: more than :data:`MAX_GIF_FRAMES` steps.
    """
    frames = num_frames(b.scene, b.view)
    if frames > MAX_GIF_FRAMES:
        raise ValueError(f"A GIF is made for at most {MAX_GIF_FRAMES} steps; this setting has {frames}.")
    shapes = [g.values.shape for g in b.grids]
    wide = max(sum(shapes[pid][1] + 1 for pid in row) for layout in b.layouts for row in layout) + 1
    tall = max(sum(max(shapes[pid][0] for pid in row) + 1 for row in layout) for layout in b.layouts) + 1
    cell = max(3, min(40, (max_side - 40) // max(wide, tall)))
    header = 18
    width = wide * cell
    height = max(sum(max(shapes[pid][0] for pid in row) * cell + cell + header for row in lay) for lay in b.layouts)
    height += cell + 8
    font = label_font(max(8, int(cell * 0.5))) if cell >= 14 else None
    title_font = label_font(12)
    palette = _gif_palette()

    def draw_grid(draw: ImageDraw.ImageDraw, x0: int, y0: int, pid: int, values: np.ndarray, marks: dict) -> None:
        grid = b.grids[pid]
        levels, text = grid.levels(values), grid.written(values)
        grey = np.zeros(values.shape, bool) if grid.grey is None else grid.grey
        rows, cols = values.shape
        for r in range(rows):
            for c in range(cols):
                level = int(levels[r, c])
                colour = _GREY if grey[r, c] else _WHITE if level < 0 else _BASE[grid.palette] + level
                x, y = x0 + c * cell, y0 + r * cell
                draw.rectangle([x, y, x + cell - 2, y + cell - 2], fill=colour)
                if font is not None and text[r, c]:
                    ink = _LIGHT if not grey[r, c] and level >= 0 and is_dark(grid.palette, level) else _INK
                    draw.text((x + cell / 2 - 1, y + cell / 2 - 1), plain(text[r, c]), fill=ink, font=font, anchor="mm")
        if grid.frame is not None:
            top, left, h, w = grid.frame
            px, py = x0 + left * cell, y0 + top * cell
            draw.rectangle([px - 1, py - 1, px + w * cell - 1, py + h * cell - 1], outline=_FRAME, width=1)
        for colour, cells in marks.get(pid, ()):
            for flat in cells:
                x, y = x0 + (flat % cols) * cell, y0 + (flat // cols) * cell
                draw.rectangle([x - 1, y - 1, x + cell - 1, y + cell - 1], outline=colour, width=2)

    images = []
    for index in range(frames):
        image = Image.new("P", (width, height), _WHITE)
        image.putpalette(palette)
        draw = ImageDraw.Draw(image)
        now = change(b, index)
        values = state(b, now)
        marks: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
        for colour, marked in ((_RED, now.red), (_ORANGE, now.orange)):
            for pid, cells in marked:
                marks.setdefault(pid, []).append((colour, cells))
        top = 0
        for row in b.layouts[now.out_channel]:
            x0 = cell
            for pid in row:
                title, room = plain(b.grids[pid].title), shapes[pid][1] * cell
                while len(title) > 1 and title_font.getlength(title) > room:  # cut to its grid's width
                    title = title[:-2] + "…"
                draw.text((x0, top + 3), title, fill=_INK, font=title_font)
                draw_grid(draw, x0, top + header, pid, values[pid], marks)
                x0 += (shapes[pid][1] + 1) * cell
            top += header + (max(shapes[pid][0] for pid in row) + 1) * cell
        bar = int((width - 2 * cell) * (index + 1) / frames)  # a progress bar also keeps every frame distinct
        draw.rectangle([cell, height - 6, cell + bar, height - 3], fill=_INK)
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
