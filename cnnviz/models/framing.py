"""Which pixels of an image a model sees: its short-side resize and centre crop, as a box in the image.

Maps computed on the model's input (Grad-CAM, attributions, feature maps) belong to that box only; drawing
them over the whole image would stretch them over margins the model never saw.
"""

from __future__ import annotations

from dataclasses import dataclass


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
        short, long = min(width, height), max(width, height)
        new_long = int(self.resize * long / short)  # torchvision's rule for a short-side resize
        new_w, new_h = (self.resize, new_long) if width <= height else (new_long, self.resize)
        crop_h, crop_w = self.crop
        top, left = round((new_h - crop_h) / 2.0), round((new_w - crop_w) / 2.0)
        sx, sy = width / new_w, height / new_h
        return left * sx, top * sy, (left + crop_w) * sx, (top + crop_h) * sy
