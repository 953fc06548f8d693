"""Colour maps and heat maps laid over a picture, on exactly the pixels a model saw."""

from __future__ import annotations

import functools

import numpy as np
import plotly.colors
from PIL import Image

COLORMAPS = ("viridis", "cividis", "inferno", "magma")
"""Sequential colour maps for activations; cividis is designed for colour-vision deficiencies."""


@functools.lru_cache(maxsize=16)
def colormap(name: str) -> np.ndarray:
    """A 256×3 uint8 lookup table of Plotly's colour scale ``name`` (read-only, cached)."""
    samples = plotly.colors.sample_colorscale(name.capitalize(), list(np.linspace(0, 1, 256)))
    rgb = [plotly.colors.unlabel_rgb(c) if c.startswith("rgb") else plotly.colors.hex_to_rgb(c) for c in samples]
    table = np.clip(np.rint(np.array(rgb, dtype=float)), 0, 255).astype(np.uint8)
    table.flags.writeable = False
    return table


def plotly_colorscale(name: str, stops: int = 16) -> list[list]:
    """Colour map ``name`` as a Plotly colorscale of ``rgb(…)`` stops.

    Not Plotly's named scale: Streamlit's chart theme treats the hex colours ``#000001`` … ``#000030`` as
    placeholders and swaps them for theme colours in the browser, and inferno and magma start at ``#000004``
    (their lowest values were drawn pink)."""
    table = colormap(name)
    positions = np.linspace(0, 1, stops)
    return [[float(p), "rgb({}, {}, {})".format(*table[round(p * 255)])] for p in positions]


def scaled_between(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Values mapped to [0, 1] between ``low`` and ``high``, clipped (a constant map becomes 0)."""
    span = high - low
    return np.clip((values - low) / span, 0, 1) if span > 0 else np.zeros_like(values, dtype=float)


def colourise(values01: np.ndarray, cmap: str = "viridis") -> np.ndarray:
    """[0, 1] values to RGB uint8 through a colour map."""
    return colormap(cmap)[np.clip(np.rint(values01 * 255), 0, 255).astype(int)]


def overlay(image: Image.Image, values: np.ndarray, opacity: float = 0.5, cmap: str = "viridis") -> Image.Image:
    """A map (any size) stretched bilinearly over ``image``, coloured with ``cmap``, and laid on it with each
    pixel's opacity rising with its value: ``opacity`` at the map's maximum, none at its minimum, so the
    photo shows through where the map is low instead of being tinted all over."""
    heat = Image.fromarray((scaled_between(values, float(values.min()), float(values.max())) * 255).astype(np.uint8))
    heat = heat.resize(image.size, Image.Resampling.BILINEAR)
    coloured = Image.fromarray(colourise(np.asarray(heat) / 255.0, cmap))
    alpha = Image.fromarray((np.asarray(heat, dtype=np.float64) * opacity).round().astype(np.uint8))
    return Image.composite(coloured, image.convert("RGB"), alpha)


MARGIN_GREY = (128, 128, 128)


def overlay_seen(
    image: Image.Image,
    values: np.ndarray,
    box: tuple[float, float, float, float],
    opacity: float = 0.5,
    cmap: str = "viridis",
) -> Image.Image:
    """A map of the model's input laid on exactly the pixels the model saw: ``box`` (left, top, right,
    bottom, as :meth:`LoadedModel.seen_box` gives it); the margins its crop cut away are greyed."""
    rgb = image.convert("RGB")
    left, top = round(box[0]), round(box[1])
    width, height = max(1, round(box[2]) - left), max(1, round(box[3]) - top)
    seen = Image.new("RGB", (width, height), MARGIN_GREY)  # beyond the image: the crop's padding
    seen.paste(rgb, (-left, -top))
    out = Image.blend(rgb, Image.new("RGB", rgb.size, MARGIN_GREY), 0.65)
    out.paste(overlay(seen, values, opacity, cmap), (left, top))  # pasting clips to the image
    return out
