"""A drawing as an image: the strokes a visitor drew on the sidebar's canvas (brush size, colour, points), checked
and drawn into a picture with Pillow. The browser sends strokes, never a picture, so nothing it sends is decoded
as an image; what it sends is hostile all the same, and anything out of bounds is refused before any drawing."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

CANVAS_SIZE = 256
"""The canvas's side in pixels (the picture the model is given; it is resized as any image is)."""
BACKGROUND = "#ffffff"
MAX_STROKES = 500
MAX_POINTS = 20_000
"""Points over all strokes: a stroke records a point per pixel moved, so minutes of drawing stay under it."""
BRUSH_SIZES = (2, 60)
"""The smallest and largest brush, in canvas pixels."""
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


class DrawingError(ValueError):
    """The strokes are not a drawing this canvas could have made."""


@dataclass(frozen=True)
class Stroke:
    size: float
    colour: str  # "#rrggbb"
    points: tuple[tuple[float, float], ...]


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DrawingError("a stroke holds something that is not a finite number")
    return float(value)


def parse_strokes(value: Any) -> list[Stroke]:
    """The strokes in the canvas's state ``value`` (a list of ``{"size", "colour", "points": [[x, y], ...]}``),
    checked: at most :data:`MAX_STROKES` strokes and :data:`MAX_POINTS` points in all, sizes within
    :data:`BRUSH_SIZES`, colours ``#rrggbb``, points on the canvas.

    Raises:
        DrawingError: anything else (counted before anything is converted).
    """
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_STROKES:
        raise DrawingError(f"a drawing is a list of at most {MAX_STROKES} strokes")
    total = 0
    strokes = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("points"), list):
            raise DrawingError("a stroke has a size, a colour and a list of points")
        points = item["points"]
        total += len(points)
        if total > MAX_POINTS:
            raise DrawingError(f"a drawing has at most {MAX_POINTS} points")
        colour = item.get("colour")
        if not isinstance(colour, str) or not _COLOUR.fullmatch(colour):
            raise DrawingError("a stroke's colour is #rrggbb")
        size = _number(item.get("size"))
        if not BRUSH_SIZES[0] <= size <= BRUSH_SIZES[1] or not points:
            raise DrawingError(f"a stroke's brush is {BRUSH_SIZES[0]} to {BRUSH_SIZES[1]} pixels, with a point or more")
        xy = []
        for point in points:
            if not isinstance(point, list) or len(point) != 2:
                raise DrawingError("a point is [x, y]")
            x, y = _number(point[0]), _number(point[1])
            if not (0 <= x <= CANVAS_SIZE and 0 <= y <= CANVAS_SIZE):
                raise DrawingError("a point lies off the canvas")
            xy.append((x, y))
        strokes.append(Stroke(size, colour.lower(), tuple(xy)))
    return strokes


def render(strokes: Sequence[Stroke], size: int = CANVAS_SIZE, background: str = BACKGROUND) -> Image.Image:
    """The strokes drawn as the canvas draws them (round caps and joins) on a ``size``-pixel square."""
    picture = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(picture)
    scale = size / CANVAS_SIZE
    for stroke in strokes:
        width = stroke.size * scale
        points = [(x * scale, y * scale) for x, y in stroke.points]
        if len(points) > 1:
            draw.line(points, fill=stroke.colour, width=max(1, round(width)), joint="curve")
        r = width / 2
        for x, y in points:  # round caps and joins, with no pinholes where the line turns
            draw.ellipse((x - r, y - r, x + r - 1, y + r - 1), fill=stroke.colour)  # (Pillow's box is inclusive)
    return picture
