"""Pictures of a network's insides: filter mosaics, feature-map grids and the stage diagram (the overview is
:mod:`cnnviz.network.overview`). Grids meant for looking are images (small and fast); those meant for reading values
are Plotly heatmaps with the values on hover."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from cnnviz.charts import readable
from cnnviz.fonts import label_font
from cnnviz.network.architecture import Summary
from cnnviz.overlay import colourise, plotly_colorscale, scaled_between

CLEAR = "rgba(0, 0, 0, 0)"
"""Figure backgrounds: transparent, so the light or dark theme shows through instead of a white block."""


def _mosaic(tiles: np.ndarray, columns: int | None = None, gap: int = 1, fill: float = np.nan) -> np.ndarray:
    """Tiles (n, h, w[, c]) laid out row by row with ``gap`` cells of ``fill`` between them."""
    n, h, w = tiles.shape[:3]
    columns = columns or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / columns)
    shape = (rows * (h + gap) - gap, columns * (w + gap) - gap, *tiles.shape[3:])
    grid = np.full(shape, fill, dtype=float if np.isnan(fill) else tiles.dtype)
    for i in range(n):
        r, c = divmod(i, columns)
        grid[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = tiles[i]
    return grid


def filter_figure(tiles: np.ndarray, labels: list[str], title: str) -> go.Figure:
    """Kernel slices (n, kh, kw) as a mosaic heatmap, diverging and centred at zero, values on hover."""
    n, kh, kw = tiles.shape
    columns = max(1, math.ceil(math.sqrt(n)))
    grid = _mosaic(tiles.astype(np.float32), columns)
    which = _mosaic(np.repeat(np.arange(n)[:, None, None], kh * kw, 1).reshape(n, kh, kw).astype(float), columns)
    names = np.array([*labels, ""])[np.nan_to_num(which, nan=n).astype(int)]
    limit = float(np.nanmax(np.abs(grid))) or 1.0
    figure = go.Figure(
        go.Heatmap(
            z=grid,
            customdata=names,
            colorscale="RdBu",
            zmid=0,
            zmin=-limit,
            zmax=limit,
            hovertemplate="%{customdata}<br>weight %{z:.4f}<extra></extra>",
            xgap=0,
            ygap=0,
            colorbar={"title": "weight"},
        )
    )
    side = min(900, max(300, 14 * grid.shape[0]))
    figure.update_layout(
        title=title,
        height=side + 80,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        plot_bgcolor=CLEAR,
        paper_bgcolor=CLEAR,
    )
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    return readable(figure)


def rgb_filters_image(weight: np.ndarray, cell: int = 64) -> Image.Image:
    """First-layer filters (out, 3, kh, kw) as RGB composites on one shared scale (0 is mid grey), each tile
    enlarged to about ``cell`` px and labelled with its filter number."""
    limit = float(np.abs(weight).max()) or 1.0
    tiles = np.clip((weight / (2 * limit) + 0.5) * 255, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    tiles = np.repeat(np.repeat(tiles, max(1, cell // tiles.shape[1]), 1), max(1, cell // tiles.shape[2]), 2)
    font, label = label_font(13), 17
    labelled = []
    for i, tile in enumerate(tiles):
        canvas = Image.new("RGB", (tile.shape[1], tile.shape[0] + label), "white")
        canvas.paste(Image.fromarray(tile), (0, label))
        ImageDraw.Draw(canvas).text(
            (1, 1), f"filter {i}" if tile.shape[1] >= 48 else str(i), fill=(40, 40, 40), font=font
        )
        labelled.append(np.asarray(canvas))
    return Image.fromarray(_mosaic(np.stack(labelled), gap=4, fill=255).astype(np.uint8))


def feature_grid_image(
    maps: np.ndarray, order: list[int], low: np.ndarray, high: np.ndarray, cmap: str = "viridis"
) -> Image.Image:
    """Channels ``order`` of ``maps`` (C, H, W) as a labelled grid; ``low``/``high`` give each channel's
    colour range (per channel, per layer or across layers, as the caller chose). Tiles shrink as the count
    grows, so even 2048 channels make a picture of a few thousand pixels."""
    n = len(order)
    tile, columns = (64, 12) if n <= 48 else (40, 16) if n <= 256 else (24, 24)
    font = label_font(11 if tile > 24 else 9)
    label = 14 if tile > 24 else 11
    tiles = []
    for c in order:
        coloured = Image.fromarray(colourise(scaled_between(maps[c], float(low[c]), float(high[c])), cmap))
        resample = Image.Resampling.NEAREST if maps.shape[-1] < tile else Image.Resampling.BILINEAR
        canvas = Image.new("RGB", (tile, tile + label), "white")
        canvas.paste(coloured.resize((tile, tile), resample), (0, label))
        ImageDraw.Draw(canvas).text((1, 1), str(c) if tile <= 24 else f"ch {c}", fill=(40, 40, 40), font=font)
        tiles.append(np.asarray(canvas))
    if not tiles:
        return Image.new("RGB", (tile, tile), "white")
    return Image.fromarray(_mosaic(np.stack(tiles), min(columns, n), gap=4, fill=255).astype(np.uint8))


def channel_figure(values: np.ndarray, title: str, cmap: str = "viridis") -> go.Figure:
    """One channel enlarged, values on hover."""
    figure = go.Figure(
        go.Heatmap(
            z=values.astype(np.float32),
            colorscale=plotly_colorscale(cmap),
            hovertemplate="row %{y}, col %{x}: %{z:.4f}<extra></extra>",
        )
    )
    figure.update_layout(title=title, height=420, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    return readable(figure)


def _stages(summary: Summary) -> list[tuple[str, list]]:
    """Group the layer table into stages: top-level modules, a long plain stack split at its pools."""
    groups: dict[str, list] = {}
    for layer in summary.layers:
        parts = layer.name.split(".")
        groups.setdefault(parts[0], []).append(layer)
    stages: list[tuple[str, list]] = []
    for name, layers in groups.items():
        if len(layers) <= 8:
            stages.append((name, layers))
            continue
        if any("Pool" in layer.kind for layer in layers[:-1]):
            block, current = 1, []
            for layer in layers:
                current.append(layer)
                if "Pool" in layer.kind:
                    stages.append((f"{name} block {block}", current))
                    block, current = block + 1, []
            if current:
                stages.append((f"{name} block {block}", current))
            continue
        sub: dict[str, list] = {}
        for layer in layers:
            parts = layer.name.split(".")
            sub.setdefault(".".join(parts[:2]), []).append(layer)
        stages.extend(sub.items())
    return stages


STAGES_PER_ROW = 4
"""Stage boxes to a row of the diagram: at 1024 px (a projector, the sidebar open) each is ~170 px wide, room for
its name, shape and parameter count at 16 px; a longer network takes more rows."""
STAGE_ROW_PX = 120
"""Each row's height: its smallest box (0.6 of it) holds the three lines of 16 px text."""


def stage_diagram(summary: Summary) -> go.Figure:
    """The network's stages as boxes, :data:`STAGES_PER_ROW` to a row read left to right and down, each with its
    output shape and parameter count, its height growing with its feature maps' side; arrows join the stages."""
    stages = _stages(summary)
    per_row = max(1, min(STAGES_PER_ROW, len(stages)))
    rows = max(1, math.ceil(len(stages) / per_row))
    shapes, annotations = [], []
    for i, (name, layers) in enumerate(stages):
        shape = layers[-1].output_shape
        spatial = shape[-1] if len(shape) == 3 else 1
        height = 0.6 + 0.3 * math.log2(spatial + 1) / math.log2(summary.input_size[0] + 1)
        params = sum(layer.params for layer in layers)
        colour = "#c6dbef" if len(shape) == 3 else "#fdd0a2"
        x, y = i % per_row, -(i // per_row)  # column, and row downwards
        shapes.append(
            {
                "type": "rect",
                "x0": x + 0.06,
                "x1": x + 0.94,
                "y0": y - height / 2,
                "y1": y + height / 2,
                "fillcolor": colour,
                "line": {"color": "#4c78a8"},
            }
        )
        text = f"<b>{name}</b><br>{'×'.join(map(str, shape))}<br>{params:,} params"
        annotations.append({"x": x + 0.5, "y": y, "text": text, "showarrow": False})
        if x:  # an arrow from the stage before, on the same row (a new row continues the reading order)
            annotations.append(
                {
                    "x": x + 0.06,
                    "y": y,
                    "ax": x - 0.06,
                    "ay": y,
                    "xref": "x",
                    "yref": "y",
                    "axref": "x",
                    "ayref": "y",
                    "showarrow": True,
                    "arrowhead": 2,
                    "text": "",
                }
            )
    figure = go.Figure()
    figure.update_layout(
        shapes=shapes,
        annotations=annotations,
        height=STAGE_ROW_PX * rows + 20,
        plot_bgcolor=CLEAR,
        paper_bgcolor=CLEAR,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    figure.update_xaxes(visible=False, range=[0, per_row])
    figure.update_yaxes(visible=False, range=[-rows + 0.5, 0.5])
    return readable(figure)


def score_note(layer: str, scores: list[float]) -> str:
    """What the scores under the most exciting images mean, and why they may all be negative."""
    note = (
        f"Each image's score is the channel's mean output at {layer} over the whole image, before any ReLU: "
        "higher means the channel responds more."
    )
    if scores and max(scores) < 0:
        note += (
            " All are negative here: even on these images the channel is mostly below zero, so a ReLU after it "
            "would keep only a few spots; it fires on small parts of an image, not on whole ones."
        )
    return note
