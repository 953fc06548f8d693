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


DEFAULT_OPACITY = 0.7
"""The opacity a heat map's strongest part is laid at unless the viewer picks another (one slider for the single
view and the Compare panels)."""
FULL_SHARE = 0.2
"""The visibility rule: the ``FULL_SHARE`` of a map's pixels with the highest values is laid at the full opacity
chosen (at the default, 0.7 ≥ 0.6: a class sees it on a projector) …"""
CLEAR_SHARE = 0.5
"""… the weaker ``CLEAR_SHARE`` of its pixels not at all (the photo shows through), and the opacity rises
linearly with the value in between."""


def overlay_opacity(heat01: np.ndarray, opacity: float) -> np.ndarray:
    """Each pixel's opacity under the visibility rule (:data:`FULL_SHARE`, :data:`CLEAR_SHARE`): ``opacity`` from
    the map's top-fifth quantile up, 0 up to its median, linear between. A map's minimum is never tinted, even
    where most pixels tie at it (a Grad-CAM that is zero over most of the image)."""
    low, high = np.quantile(heat01, [1 - CLEAR_SHARE, 1 - FULL_SHARE])
    floor = float(heat01.min())
    # where the weaker half and the top fifth tie, every pixel above the tie is in the top
    ramp = (heat01 > low).astype(np.float64) if high <= low else np.clip((heat01 - low) / (high - low), 0.0, 1.0)
    return np.where(heat01 > floor, ramp, 0.0) * opacity


def overlay(
    image: Image.Image, values: np.ndarray, opacity: float = DEFAULT_OPACITY, cmap: str = "viridis"
) -> Image.Image:
    """A map (any size) stretched bilinearly over ``image``, coloured with ``cmap`` by its value (min to max),
    and laid on it at each pixel's :func:`overlay_opacity`: the strongest fifth at ``opacity``, the weaker half
    untouched, so the photo shows through where the map is low and the peak stands out."""
    heat = Image.fromarray((scaled_between(values, float(values.min()), float(values.max())) * 255).astype(np.uint8))
    heat01 = np.asarray(heat.resize(image.size, Image.Resampling.BILINEAR), dtype=np.float64) / 255.0
    coloured = Image.fromarray(colourise(heat01, cmap))
    alpha = Image.fromarray((overlay_opacity(heat01, opacity) * 255).round().astype(np.uint8))
    return Image.composite(coloured, image.convert("RGB"), alpha)


MARGIN_GREY = (128, 128, 128)


def overlay_seen(
    image: Image.Image,
    values: np.ndarray,
    box: tuple[float, float, float, float],
    opacity: float = DEFAULT_OPACITY,
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
