"""Safe image decoding: any bytes in, an 8-bit RGB image out, or one clear :class:`ImageError`.

Applies EXIF orientation, converts every mode Pillow can decode (L, LA, P with transparency, RGBA, CMYK,
16-bit and float images) to RGB on a white background, takes the first frame of animations, and
refuses decompression bombs and truncated or non-image files before they cost memory.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 50_000_000
"""Largest image (width x height) accepted; larger ones are refused before decoding."""

MAX_BYTES = 25 * 1024 * 1024
"""Largest encoded file accepted, the same as the app's upload limit."""

_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}


class ImageError(ValueError):
    """The input cannot be used as an image. The message is written for the user."""


def load_image(
    source: bytes | BinaryIO | str | Path, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES
) -> Image.Image:
    """Decode ``source`` (bytes, a binary file object or a path) into an RGB ``PIL.Image``.

    Raises:
        ImageError: empty, too large, truncated, not an image, or in a mode that cannot be converted.
    """
    data = _read_bytes(source, max_bytes)
    if not data:
        raise ImageError("The file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width < 1 or height < 1:
                raise ImageError("The image has no pixels.")
            if width * height > max_pixels:
                raise ImageError(
                    f"The image is {width}×{height} pixels; the limit is {max_pixels / 1e6:.0f} megapixels."
                )
            image.seek(0)  # the first frame of an animation
            image.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("The image's dimensions are too large to decode safely.") from exc
    except UnidentifiedImageError as exc:
        raise ImageError("This file is not an image that can be read (try PNG, JPEG, GIF, WebP or TIFF).") from exc
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageError(f"The image file is damaged or truncated and cannot be decoded ({exc}).") from exc
    image = _apply_orientation(image)
    return _to_rgb(image)


def _read_bytes(source: bytes | BinaryIO | str | Path, max_bytes: int) -> bytes:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"No such image file: {path.name}")
        if path.stat().st_size > max_bytes:
            raise ImageError(f"The file is larger than {max_bytes / 2**20:.0f} MB.")
        return path.read_bytes()
    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else source.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageError(f"The file is larger than {max_bytes / 2**20:.0f} MB.")
    return data


def _apply_orientation(image: Image.Image) -> Image.Image:
    """Rotate or mirror as the EXIF orientation tag says; a damaged EXIF block is ignored."""
    try:
        return ImageOps.exif_transpose(image) or image
    except Exception:  # noqa: BLE001 - broken metadata must not make a decodable image unusable
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        return Image.fromarray(_wide_to_uint8(np.asarray(image), mode), mode="L").convert("RGB")
    if (mode == "P" and "transparency" in image.info) or mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise ImageError(f"Images in colour mode {mode} are not supported.") from exc


def _wide_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """16-bit, 32-bit integer or float pixels to 8-bit grey levels."""
    values = values.astype(np.float64)
    if mode == "F":
        finite = values[np.isfinite(values)]
        top = float(finite.max()) if finite.size else 1.0
        scale = 255.0 if top <= 1.0 else 1.0
        values = np.nan_to_num(values, nan=0.0) * scale
    elif mode.startswith("I;16") or float(values.max(initial=0)) > 255:
        values = values / 257.0  # 0..65535 -> 0..255
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def fit_within(image: Image.Image, max_side: int) -> Image.Image:
    """A copy no larger than ``max_side`` on its long side (aspect kept); small images are returned as is."""
    if max(image.size) <= max_side:
        return image
    smaller = image.copy()
    smaller.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return smaller
