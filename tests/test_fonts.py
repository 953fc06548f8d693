"""Text drawn into images (overview, feature-map mosaics, GIFs) shows every character and no title meets another."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageDraw

from cnnviz.arithmetic import geometry as ar
from cnnviz.arithmetic.animation import gif_bytes
from cnnviz.arithmetic.board import board
from cnnviz.arithmetic.steps import make_scene, random_values
from cnnviz.fonts import label_font, plain
from cnnviz.network.figures import overview_image
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


def test_overview_titles_show_every_character_and_never_overlap(drawn):
    image = np.random.default_rng(0).random((3, 64, 64))
    stages = [
        ("features.conv_block_1.relu", np.random.rand(10, 64, 64)),
        ("features.conv_block_1.maxpool", np.random.rand(10, 32, 32)),
        ("classifier.avgpool_and_flatten", np.random.rand(3, 1, 1)),
    ]
    picture = overview_image(image, stages + stages + stages, max_width=300)
    assert picture.size[0] <= 300 + 16 and picture.size[1] > 3 * 16 * 24  # wrapped onto more bands
    boxes = []
    for (x, y), text, font, _ in drawn:
        assert missing_glyphs(text, font) == set(), text
        left, top, right, bottom = font.getbbox(text)
        boxes.append((x + left, y + top, x + right, y + bottom, text))
        assert x + right <= picture.size[0]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, f"{a[4]!r} overlaps {b[4]!r}"


def test_gif_labels_and_numbers_show_every_character(drawn):
    geo = ar.geometry("maxpool", 4, 2, 2, 1, 1, 0, True)  # ceil mode: a window of padding only gives −∞
    x, _, _ = random_values(geo, 1, 1, 0, False)
    gif_bytes(board(make_scene(geo, x - 20)))
    assert drawn
    assert all(missing_glyphs(text, font) == set() for _, text, font, _ in drawn if font is not None)
