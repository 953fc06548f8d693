"""cnnviz.data.shapes: determinism, balance, and masks that really cover the drawn object."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.data.shapes import CLASSES, IMAGE_SIZE, generate, make_sample


def test_at_least_eight_classes_of_shapes_and_textures():
    assert len(CLASSES) >= 8 and len(set(CLASSES)) == len(CLASSES)
    assert {"stripes", "checkerboard", "dots"} <= set(CLASSES)


def test_same_seed_and_index_give_the_same_sample():
    a, b = make_sample(7, 13), make_sample(7, 13)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert a.label == b.label == 13 % len(CLASSES)


def test_other_seeds_give_other_images():
    assert not np.array_equal(make_sample(0, 3).image, make_sample(1, 3).image)


def test_batch_is_balanced_and_typed():
    batch = generate(3 * len(CLASSES), seed=5)
    assert batch.images.shape == (3 * len(CLASSES), IMAGE_SIZE, IMAGE_SIZE, 3) and batch.images.dtype == np.uint8
    assert batch.masks.shape == (3 * len(CLASSES), IMAGE_SIZE, IMAGE_SIZE) and batch.masks.dtype == bool
    assert np.bincount(batch.labels).tolist() == [3] * len(CLASSES)
    np.testing.assert_array_equal(generate(4, seed=5, start=2).images, batch.images[2:6])


def test_masks_have_plausible_areas():
    batch = generate(10 * len(CLASSES), seed=11)
    share = batch.masks.mean(axis=(1, 2))
    assert share.min() > 0.01 and share.max() < 0.6


def _erode(mask: np.ndarray, steps: int = 2) -> np.ndarray:
    inner = mask.copy()
    for _ in range(steps):
        inner[1:-1, 1:-1] &= inner[:-2, 1:-1] & inner[2:, 1:-1] & inner[1:-1, :-2] & inner[1:-1, 2:]
        inner[[0, -1], :] = False
        inner[:, [0, -1]] = False
    return inner


@pytest.mark.parametrize("label", range(7))
def test_solid_shape_masks_cover_one_uniform_colour(label):
    # Solid shapes are one colour with mild shading and noise: inside the (eroded) mask the colour barely
    # varies, while the same number of pixels outside it (background plus clutter) differ clearly.
    for index in range(label, 20 * len(CLASSES), len(CLASSES)):
        sample = make_sample(3, index)
        inner = _erode(sample.mask)
        if inner.sum() < 20:
            continue
        inside = sample.image[inner].astype(float)
        outside = sample.image[~sample.mask].astype(float)
        inside_spread = np.abs(inside - np.median(inside, axis=0)).mean()
        difference = np.abs(outside.mean(axis=0) - inside.mean(axis=0)).max()
        assert inside_spread < 30, (index, inside_spread)
        assert difference > 3 * inside_spread or difference > 40, (index, difference, inside_spread)


@pytest.mark.parametrize("label", range(7, 10))
def test_texture_masks_hold_two_colours(label):
    # Textures alternate two clearly different colours inside their mask.
    sample = make_sample(3, label)
    inside = sample.image[_erode(sample.mask)].astype(float)
    grey = inside.mean(axis=1)
    low, high = np.percentile(grey, 10), np.percentile(grey, 90)
    assert high - low > 20
