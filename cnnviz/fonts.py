"""The font cnnviz draws text with in images it makes (GIFs, overviews), and what that font can show.

Pillow's built-in font (Aileron) has no ×, ², −, ∞ or →; text drawn with it passes through :func:`plain`, which
writes those in ASCII, so no label ever shows a missing-glyph box.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import ImageFont

ASCII_FOR = {"×": "x", "²": "^2", "−": "-", "∞": "inf", "→": "->", "…": "..."}


@functools.cache
def label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in font at ``size`` px (the same on every machine: nothing is read from the system)."""
    return ImageFont.load_default(size=size)


def plain(text: str) -> str:
    """``text`` with the symbols the label font lacks written in ASCII."""
    return "".join(ASCII_FOR.get(ch, ch) for ch in text)


def missing_glyphs(text: str, font) -> set[str]:
    """Characters of ``text`` that ``font`` would draw as its missing-glyph box."""
    if not hasattr(font, "getmask2"):
        return {ch for ch in text if not ch.isascii()}
    box = np.asarray(font.getmask("\ue000")).tobytes()  # a private-use character: never in a font
    return {ch for ch in set(text) if not ch.isspace() and np.asarray(font.getmask(ch)).tobytes() == box}
