"""The font cnnviz draws text with in images it makes (GIFs, overviews), and what that font can show.

Pillow's built-in font (Aileron) has no ×, ², −, ∞ or →; text drawn with it passes through :func:`plain`, which
writes those in ASCII, so no label ever shows a missing-glyph box.
"""

from __future__ import annotations

import functools

from PIL import ImageFont

ASCII_FOR = {"×": "x", "²": "^2", "−": "-", "∞": "inf", "→": "->", "…": "..."}


@functools.cache
def label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in font at ``size`` px (the same on every machine: nothing is read from the system)."""
    return ImageFont.load_default(size=size)


def plain(text: str) -> str:
    """``text`` with the symbols the label font lacks written in ASCII."""
    return "".join(ASCII_FOR.get(ch, ch) for ch in text)
