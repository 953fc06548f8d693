"""Text drawn into images (feature-map mosaics, GIFs) shows every character and no title meets another."""

from __future__ import annotations

import pytest
from PIL import ImageDraw

from cnnviz.arithmetic import geometry as ar
from cnnviz.arithmetic.animation import gif_bytes
from cnnviz.arithmetic.board import board
from cnnviz.arithmetic.steps import make_scene, random_values
from cnnviz.fonts import label_font, plain
from tests.reference import missing_glyphs


@pytest.fixture
def drawn(monkeypatch):
    """Every text drawn with Pillow during the test, with its position and font."""
    calls = []
    original = ImageDraw.ImageDraw.text

    def text(self, xy, content, *args, **kwargs):
        calls.append((xy, content, kwargs.get("font"), kwargs.get("anchor")))
        return original(self, xy, content, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", text)
    return calls


def test_the_check_sees_the_missing_glyph_box():
    font = label_font(12)
    assert missing_glyphs("3×64×64", font) == {"×"}  # the "3□64□64"
    assert missing_glyphs("−∞ 64²", font) == {"−", "∞", "²"}
    assert missing_glyphs(plain("3×64×64 −∞ 64² →"), font) == set()


def test_gif_labels_and_numbers_show_every_character(drawn):
    geo = ar.geometry("maxpool", 4, 2, 2, 1, 1, 0, True)  # ceil mode: a window of padding only gives −∞
    x, _, _ = random_values(geo, 1, 1, 0, False)
    gif_bytes(board(make_scene(geo, x - 20)))
    assert drawn
    assert all(missing_glyphs(text, font) == set() for _, text, font, _ in drawn if font is not None)
