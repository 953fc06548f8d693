"""Which pixels of an image a model sees: its short-side resize and centre crop, as a box in the image.

Maps computed on the model's input (Grad-CAM, attributions, feature maps) belong to that box only; drawing
them over the whole image would stretch them over margins the model never saw. The framing is read from the
preprocessing transform itself (:func:`framing_of`), never assumed, and the box is worked out by torchvision's
own resize and crop rules, applied to a box instead of to pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torchvision.transforms.v2.functional as TF
from torchvision import tv_tensors
from torchvision.transforms import v2


@dataclass(frozen=True)
class Framing:
    """Resize the short side to ``resize`` pixels, then centre-crop ``crop`` = (height, width): what
    ``crop_transform`` and torchvision's ``ImageClassification`` presets both do."""

    resize: int
    crop: tuple[int, int]

    def seen_box(self, size: tuple[int, int]) -> tuple[float, float, float, float]:
        """(left, top, right, bottom), in pixels of an image of ``size`` = (width, height), of what the model
        sees; it reaches outside the image where the crop is larger than the resized image (padding)."""
        width, height = size
        whole = tv_tensors.BoundingBoxes(
            [[0, 0, width, height]], format="XYXY", canvas_size=(height, width), dtype=torch.float64
        )
        new_h, new_w = TF.resize(whole, [self.resize], antialias=True).canvas_size  # torchvision's size rule
        # The resized image's centre lies inside the centred crop: where the crop puts it gives the crop's offset
        # (torchvision's rounding, and its padding where the crop is the larger).
        centre = tv_tensors.BoundingBoxes(
            [[new_w / 2, new_h / 2] * 2], format="XYXY", canvas_size=(new_h, new_w), dtype=torch.float64
        )
        moved = TF.center_crop(centre, list(self.crop))[0]
        left, top = new_w / 2 - float(moved[0]), new_h / 2 - float(moved[1])
        crop_h, crop_w = self.crop
        sx, sy = width / new_w, height / new_h
        return left * sx, top * sy, (left + crop_w) * sx, (top + crop_h) * sy


def framing_of(transform: Callable[[Any], torch.Tensor]) -> Framing:
    """The framing ``transform`` applies, read from it: a torchvision weights preset (``ImageClassification``:
    ``resize_size`` and ``crop_size``) or a ``v2.Compose`` holding one short-side ``Resize`` and one ``CenterCrop``.

    Raises:
        ValueError: ``transform`` frames images some other way (its maps could not be placed on the image).
    """
    resize_size, crop_size = getattr(transform, "resize_size", None), getattr(transform, "crop_size", None)
    if isinstance(transform, v2.Compose):
        resizes = [t for t in transform.transforms if isinstance(t, v2.Resize)]
        crops = [t for t in transform.transforms if isinstance(t, v2.CenterCrop)]
        if len(resizes) == 1 and len(crops) == 1:
            resize_size, crop_size = resizes[0].size, crops[0].size
    if resize_size is None or crop_size is None or len(resize_size) != 1:
        raise ValueError(f"{type(transform).__name__} does not resize the short side and centre-crop")
    crop = (int(crop_size[0]), int(crop_size[-1]))
    return Framing(int(resize_size[0]), crop)
