"""Pictures for the Learn section: maps as grayscale or colour images, gradient orientation as hue,
corners and a detector's grid drawn on an image. Everything is enlarged with nearest-neighbour sampling,
so each pixel stays a visible square."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from cnnviz.overlay import colourise, scaled_between

CORNER_COLOUR = (255, 40, 40)


def enlarged(image: Image.Image, width: int) -> Image.Image:
    """``image`` scaled to ``width`` pixels wide with nearest-neighbour sampling (never shrunk)."""
    factor = max(1, round(width / image.width))
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)


def gray_picture(values: np.ndarray, low: float | None = None, high: float | None = None) -> Image.Image:
    """A 2-D map as grayscale, ``low`` black and ``high`` white (the map's own range by default)."""
    low = float(values.min()) if low is None else low
    high = float(values.max()) if high is None else high
    return Image.fromarray(np.round(scaled_between(values, low, high) * 255).astype(np.uint8), "L")


def rgb_picture(values: np.ndarray) -> Image.Image:
    """An (H, W, 3) array in [0, 1] as an RGB picture."""
    return Image.fromarray(np.round(np.clip(values, 0, 1) * 255).astype(np.uint8), "RGB")


def map_picture(values: np.ndarray, cmap: str = "RdBu", symmetric: bool = True) -> Image.Image:
    """A 2-D map in colour: diverging and centred at zero when ``symmetric``, else its own range."""
    if symmetric:
        bound = float(np.abs(values).max()) or 1.0
        low, high = -bound, bound
    else:
        low, high = float(values.min()), float(values.max())
    return Image.fromarray(colourise(scaled_between(values, low, high), cmap), "RGB")


def orientation_picture(magnitude: np.ndarray, orientation: np.ndarray) -> Image.Image:
    """Gradient orientation as hue (a full turn round the colour wheel) and magnitude as brightness."""
    hue = np.round((orientation % (2 * np.pi)) / (2 * np.pi) * 255).astype(np.uint8)
    value = np.round(scaled_between(magnitude, 0.0, float(magnitude.max()) or 1.0) * 255).astype(np.uint8)
    channels = [Image.fromarray(a, "L") for a in (hue, np.full_like(hue, 255), value)]
    return Image.merge("HSV", channels).convert("RGB")


def corners_picture(gray: np.ndarray, corners: np.ndarray, width: int = 480) -> Image.Image:
    """The grayscale image enlarged to about ``width`` pixels, each (row, column) corner ringed in red."""
    picture = enlarged(gray_picture(gray, 0.0, 1.0).convert("RGB"), width)
    scale = picture.width / gray.shape[1]
    draw = ImageDraw.Draw(picture)
    radius = max(4.0, scale * 1.5)
    for row, col in corners:
        x, y = (col + 0.5) * scale, (row + 0.5) * scale
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=CORNER_COLOUR, width=3)
    return picture


def grid_picture(
    image: Image.Image, cells: tuple[int, int], colour: tuple[int, int, int] = (255, 255, 0)
) -> Image.Image:
    """``image`` with a ``cells`` (rows, columns) grid drawn over it: a detector's output grid."""
    picture = image.convert("RGB")
    draw = ImageDraw.Draw(picture)
    rows, cols = cells
    for r in range(1, rows):
        y = round(r * picture.height / rows)
        draw.line((0, y, picture.width, y), fill=colour, width=2)
    for c in range(1, cols):
        x = round(c * picture.width / cols)
        draw.line((x, 0, x, picture.height), fill=colour, width=2)
    return picture
