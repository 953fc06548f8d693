"""The network overview (CNN Explainer's): a column per stage of the network with its feature maps, for any model
— every stage of a small one, a chosen range of a deep one — and what a unit of a map looked at: its receptive
field drawn on the input the model saw.

Maps travel to the browser as small palette PNGs (one byte per activation before compression), so a column of ten
64×64 maps is a few kilobytes."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from cnnviz.network.architecture import FieldPair, Summary
from cnnviz.network.features import activations
from cnnviz.overlay import colormap, scaled_between

STAGE_KINDS = (
    "Conv2d",
    "Conv2dSame",
    "BatchNorm2d",
    "BatchNormAct2d",
    "ReLU",
    "ReLU6",
    "SiLU",
    "Hardswish",
    "GELU",
    "LeakyReLU",
    "MaxPool2d",
    "AvgPool2d",
)
"""Layer kinds that make a column: the convolutions, normalisations, activations and pools between them."""
SHOWN_PER_STAGE = 10
"""Maps a column shows, as in CNN Explainer: every channel of a layer this narrow, else its strongest (by mean
activation)."""
MAX_STAGES = 15
"""Columns shown at once: every stage of TinyVGG; a range of a deep model's stages, chosen on the page."""


def stage_names(table: Summary) -> list[str]:
    """The layers of ``table`` the overview can show as columns, in order: 3-D outputs of :data:`STAGE_KINDS`."""
    return [layer.name for layer in table.layers if len(layer.output_shape) == 3 and layer.kind in STAGE_KINDS]


def short_name(name: str, most: int = 14) -> str:
    """A column's title: the layer's name without its leading parts while it is longer than ``most``
    (``blocks.1.0.conv_pw`` → ``1.0.conv_pw``); the full name shows on hover."""
    parts = name.split(".")
    while len(parts) > 1 and len(".".join(parts)) > most:
        parts.pop(0)
    return ".".join(parts)


@dataclass(frozen=True)
class Stage:
    """One column: a layer's maps for the input, the channels shown (in order) and the colour range they share."""

    name: str
    maps: np.ndarray  # (C, H, W) float32
    shown: tuple[int, ...]
    low: float
    high: float


def overview_stages(
    module: nn.Module, x: torch.Tensor, names: list[str], per_stage: int = SHOWN_PER_STAGE
) -> list[Stage]:
    """The columns for layers ``names`` of ``module`` on input batch ``x`` (one forward pass): every channel where
    a layer has ``per_stage`` or fewer, else its ``per_stage`` channels of highest mean activation; each column on
    its own colour range (CNN Explainer's "module" range)."""
    maps = activations(module, x, names)
    stages = []
    for name in names:
        values = maps[name][0].float().numpy()
        count = values.shape[0]
        if count <= per_stage:
            shown = tuple(range(count))
        else:
            means = values.reshape(count, -1).mean(1)
            shown = tuple(int(c) for c in np.argsort(-means, kind="stable")[:per_stage])
        stages.append(Stage(name, values, shown, float(values.min()), float(values.max())))
    return stages


def map_png(values: np.ndarray, low: float, high: float, cmap: str = "viridis") -> str:
    """One map as a palette PNG data URL (``low`` … ``high`` over the colour map's 256 levels)."""
    levels = np.clip(np.rint(scaled_between(values, low, high) * 255), 0, 255).astype(np.uint8)
    picture = Image.fromarray(levels, mode="L").convert("P")
    picture.putpalette(colormap(cmap).reshape(-1).tolist())
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=False, compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def input_png(pixels: np.ndarray) -> str:
    """The input the model saw, ``(3, H, W)`` in [0, 1], as a PNG data URL."""
    picture = Image.fromarray(np.clip(np.rint(pixels.transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def field_box(field: FieldPair, row: int, column: int) -> tuple[float, float, float, float] | None:
    """The input pixels unit ``(row, column)`` of a layer sees: (top, left, bottom, right), inclusive pixel
    indices (possibly past the image's edge, where padding was read), or None for a global or unknown field."""
    if isinstance(field, str):
        return None
    rows, cols = field
    top, bottom = rows.span(row)
    left, right = cols.span(column)
    return top, left, bottom, right


def field_picture(pixels: np.ndarray, box: tuple[float, float, float, float] | None, side: int = 320) -> Image.Image:
    """The input the model saw (``(3, H, W)`` in [0, 1]) enlarged to about ``side`` px, the receptive field
    ``box`` framed in orange (clipped to the image; a dashed edge where it runs past it) and the rest dimmed."""
    h, w = pixels.shape[1:]
    scale = max(1, round(side / max(h, w)))
    rgb = np.clip(np.rint(pixels.transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)
    picture = Image.fromarray(rgb).resize((w * scale, h * scale), Image.Resampling.NEAREST)
    if box is None:
        return picture
    top, left, bottom, right = box
    clipped = (max(0.0, left), max(0.0, top), min(w - 1.0, right), min(h - 1.0, bottom))
    x0, y0 = clipped[0] * scale, clipped[1] * scale
    x1, y1 = (clipped[2] + 1) * scale - 1, (clipped[3] + 1) * scale - 1
    dim = Image.new("RGBA", picture.size, (0, 0, 0, 140))
    ImageDraw.Draw(dim).rectangle((x0, y0, x1, y1), fill=(0, 0, 0, 0))
    picture = Image.alpha_composite(picture.convert("RGBA"), dim).convert("RGB")
    ImageDraw.Draw(picture).rectangle((x0, y0, x1, y1), outline=(255, 127, 14), width=max(2, scale // 2))
    return picture
