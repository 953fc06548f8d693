"""Maps are drawn where the model looked: the seen box of every registry preprocessing, checked against the
transforms themselves, and an overlay whose peak must land on a red square (issue 13, item 1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from torch import nn

from cnnviz.models import registry
from cnnviz.models.registry import ModelSpec, synthetic_model, with_weights_preprocessing
from cnnviz.overlay import overlay_seen


def embedded_like() -> registry.LoadedModel:
    return synthetic_model(ModelSpec("t", "t", "embedded"), nn.Identity(), (0.5,) * 3, (0.25,) * 3, 0.0, "", "")


def torchvision_like(key: str) -> registry.LoadedModel:
    weights = registry.default_weights(key)  # its transforms need no download
    return with_weights_preprocessing(
        ModelSpec(key, key, "torchvision"), key, nn.Identity(), weights, ("a",), None, "", ""
    )


MODELS = {"embedded": embedded_like, **{k: (lambda k=k: torchvision_like(k)) for k in registry.TORCHVISION_MODELS}}
SIZES = [(451, 300), (300, 451), (640, 200), (200, 640)]  # cat.jpg's landscape shape, portrait, and extremes


def red_square(size: tuple[int, int], box, where: tuple[float, float]) -> tuple[Image.Image, tuple[float, float]]:
    """A grey image with a red square at relative position ``where`` inside ``box``; returns it and the
    square's centre in image pixels."""
    image = Image.new("RGB", size, (90, 90, 90))
    left, top, right, bottom = box
    side = 0.12 * min(right - left, bottom - top)
    cx, cy = left + where[0] * (right - left), top + where[1] * (bottom - top)
    ImageDraw.Draw(image).rectangle([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], fill=(230, 20, 20))
    return image, (cx, cy)


def red_detector(x: torch.Tensor, model: registry.LoadedModel) -> np.ndarray:
    """A hand-built conv that responds only to red: 1×1 weights (1, −1, −1) on the un-normalised input,
    ReLU, then 8×8 average pooling, so its map is coarser than the input, as CAMs are."""
    conv = nn.Conv2d(3, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight[:] = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1)
        mean, std = torch.tensor(model.mean).view(1, 3, 1, 1), torch.tensor(model.std).view(1, 3, 1, 1)
        return nn.functional.avg_pool2d(torch.relu(conv(x * std + mean)), 8)[0, 0].numpy()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("which", list(MODELS))
def test_the_overlay_peak_lands_on_the_square_the_model_saw(which, size):
    model = MODELS[which]()
    box = model.seen_box(size)
    assert box[0] >= 0 and box[1] >= 0 and box[2] <= size[0] + 1e-6 and box[3] <= size[1] + 1e-6
    for where in ((0.2, 0.25), (0.8, 0.7)):
        image, (cx, cy) = red_square(size, box, where)
        heat = red_detector(model.preprocess(image), model)
        assert heat.max() > 0  # the model's input holds the square, so the box is inside what it sees
        laid = np.asarray(overlay_seen(image, heat, box, 1.0, "viridis")).astype(int)
        changed = np.abs(laid - np.asarray(image).astype(int)).sum(-1)
        inside = np.zeros_like(changed, dtype=bool)
        inside[round(box[1]) : round(box[3]), round(box[0]) : round(box[2])] = True
        changed[~inside] = 0  # the greyed margins change too, by design
        ys, xs = np.nonzero(changed >= 0.9 * changed.max())  # the peak (a plateau over the square's cells)
        py, px = ys.mean(), xs.mean()
        cell = (box[2] - box[0]) / heat.shape[1], (box[3] - box[1]) / heat.shape[0]
        assert abs(px - cx) <= cell[0] and abs(py - cy) <= cell[1], (which, size, where, (px, py), (cx, cy))


def test_the_margins_the_crop_cut_away_are_greyed_and_the_seen_part_is_not():
    model = torchvision_like("resnet18")
    image = Image.new("RGB", (451, 300), (200, 30, 30))
    left, top, right, bottom = model.seen_box(image.size)
    # By hand: 451×300 → short side to 256 gives 384×256; the centred 224×224 starts at (80, 16); × 451/384
    # and × 300/256 back: x 94–357 (the middle 58 % of the width, as the issue measured), y 18.75–281.25.
    assert (round(left), round(right)) == (94, 357) and (top, bottom) == (18.75, 281.25)
    laid = np.asarray(overlay_seen(image, np.zeros((7, 7)), (left, top, right, bottom), 0.5))
    assert tuple(laid[150, 225]) == (200, 30, 30)  # seen, and the map is 0 there: the photo itself
    assert tuple(laid[150, 10]) != (200, 30, 30) and abs(int(laid[150, 10][0]) - int(laid[150, 10][1])) < 80


@pytest.mark.parametrize("which", list(MODELS))
def test_the_framing_read_from_the_transform_is_where_the_transform_takes_its_pixels(which):
    """On random image sizes, a ramp image (red = column, green = row, one level per pixel) through the model's
    own transform: the first and last output cells read the image where the seen box says they lie."""
    model = MODELS[which]()
    rng = np.random.default_rng(0)
    mean, std = torch.tensor(model.mean).view(3, 1, 1), torch.tensor(model.std).view(3, 1, 1)
    for _ in range(6):
        width, height = (int(v) for v in rng.integers(40, 250, 2))
        ramp = np.zeros((height, width, 3), np.uint8)
        ramp[..., 0], ramp[..., 1] = np.arange(width)[None, :], np.arange(height)[:, None]
        seen = (model.transform(Image.fromarray(ramp)) * std + mean) * 255  # back to the image's levels
        left, top, right, bottom = model.seen_box((width, height))
        out_h, out_w = seen.shape[1:]
        sx, sy = (right - left) / out_w, (bottom - top) / out_h
        # the centre of output cell j lies at left + (j + 0.5)·sx in the image, where the ramp reads that − 0.5
        for j in (out_w // 4, 3 * out_w // 4):
            assert float(seen[0, out_h // 2, j]) == pytest.approx(left + (j + 0.5) * sx - 0.5, abs=1.0), (width, j)
        for i in (out_h // 4, 3 * out_h // 4):
            assert float(seen[1, i, out_w // 2]) == pytest.approx(top + (i + 0.5) * sy - 0.5, abs=1.0), (height, i)


def test_a_transform_that_does_not_say_its_framing_is_refused():
    from torchvision.transforms import v2

    from cnnviz.models.framing import framing_of

    assert framing_of(registry.crop_transform((0.5,) * 3, (0.2,) * 3, (64, 48))) == registry.Framing(48, (64, 48))
    with pytest.raises(ValueError, match="short side"):
        framing_of(v2.Compose([v2.PILToTensor(), v2.Resize((64, 64))]))  # squashes: no crop, no box
    with pytest.raises(ValueError, match="short side"):
        framing_of(lambda image: torch.zeros(3, 8, 8))
