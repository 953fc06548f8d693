"""cnnviz.data.samples: the shipped sample images."""

from __future__ import annotations

import numpy as np

from cnnviz.data.images import load_image
from cnnviz.data.samples import SAMPLES_DIR, list_samples, load_sample, write_synthetic_samples
from cnnviz.data.shapes import CLASSES


def test_photos_and_one_synthetic_image_per_class():
    samples = list_samples()
    photos = [s for s in samples if not s.synthetic]
    assert {p.path.stem for p in photos} >= {"cat", "coffee", "astronaut", "rocket"}
    assert sorted(s.path.stem for s in samples if s.synthetic) == sorted(CLASSES)


def test_every_photo_has_a_licence_entry():
    notes = (SAMPLES_DIR / "LICENSES.md").read_text()
    for sample in list_samples():
        if not sample.synthetic:
            assert f"`{sample.path.name}`" in notes


def test_shipped_synthetic_samples_are_reproducible(tmp_path):
    for path in write_synthetic_samples(tmp_path):
        shipped = SAMPLES_DIR / "synthetic" / path.name
        np.testing.assert_array_equal(np.asarray(load_image(path)), np.asarray(load_image(shipped)))


def test_load_sample_by_name():
    image = load_sample("photo: cat")
    assert image.mode == "RGB" and image.size == (451, 300)
