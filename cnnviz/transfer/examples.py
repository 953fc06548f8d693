"""Example classes the embedded TinyVGG never saw: hexagons, square frames and zigzag lines, drawn at random positions,
sizes, rotations and colours on noisy backgrounds. They stand in for a user's photos in tests, benchmarks and
the page's "try it without a camera" button."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

NOVEL_CLASSES = ("hexagon", "frame", "zigzag")
_HEXAGON = [(math.cos(a), math.sin(a)) for a in np.linspace(0, 2 * math.pi, 7)[:-1]]
_SQUARE = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
_ZIGZAG = [(-1, -0.6), (-0.5, 0.6), (0, -0.6), (0.5, 0.6), (1, -0.6)]


def novel_image(name: str, rng: np.random.Generator, size: int = 64) -> Image.Image:
    """One image of class ``name``: the outline rotated, scaled and placed at random, two random colours."""
    background, colour = (tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(2))
    while sum(abs(a - b) for a, b in zip(background, colour, strict=True)) < 200:
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    image = Image.new("RGB", (size, size), background)
    angle, scale = rng.uniform(0, 2 * math.pi), rng.uniform(0.25, 0.4) * size
    cx, cy = rng.uniform(0.4, 0.6, 2) * size

    def placed(outline: Sequence[tuple[float, float]], factor: float = 1.0) -> list[tuple[float, float]]:
        return [
            (
                cx + factor * scale * (x * math.cos(angle) - y * math.sin(angle)),
                cy + factor * scale * (x * math.sin(angle) + y * math.cos(angle)),
            )
            for x, y in outline
        ]

    draw = ImageDraw.Draw(image)
    if name == "hexagon":
        draw.polygon(placed(_HEXAGON), fill=colour)
    elif name == "frame":  # a square outline: the inside keeps the background
        draw.polygon(placed(_SQUARE, 0.85), fill=colour)
        draw.polygon(placed(_SQUARE, 0.5), fill=background)
    else:
        draw.line(placed(_ZIGZAG), fill=colour, width=max(2, round(scale / 5)), joint="curve")
    noisy = np.asarray(image, dtype=np.float64) + rng.normal(0, 12, (size, size, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def novel_examples(per_class: int, seed: int = 0, size: int = 64) -> tuple[list[Image.Image], list[int]]:
    """``per_class`` images of each of :data:`NOVEL_CLASSES` and their labels, the same for the same seed."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, name in enumerate(NOVEL_CLASSES):
        for _ in range(per_class):
            images.append(novel_image(name, rng, size))
            labels.append(label)
    return images, labels
