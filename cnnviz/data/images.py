"""Safe image decoding: any bytes in, an 8-bit RGB image out, or one clear :class:`ImageError`.

Applies EXIF orientation, converts every mode Pillow can decode (L, LA, P with transparency, RGBA, CMYK,
16-bit and float images) to RGB on a white background, takes the first frame of animations, and
refuses decompression bombs and truncated or non-image files before they cost memory: the decoded size
(width × height × bytes per pixel, as Pillow keeps it in memory) is checked against a byte budget before a
single pixel is decoded, so a small file that declares a large float image is refused as cheaply as a huge one.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

logger = logging.getLogger(__name__)

MAX_PIXELS = 50_000_000
"""Largest image (width x height) accepted; larger ones are refused before decoding."""

MAX_DECODED_BYTES = 128 * 1024 * 1024
"""Largest decoded image accepted, in bytes as Pillow holds it (4 per pixel for RGB, RGBA, CMYK, 32-bit
integer and float images; 2 for 16-bit; 1 for grey, palette and bilevel ones): 33 megapixels of colour.
Larger JPEGs are decoded at a reduced scale when ``load_image`` is given ``max_side``."""

MAX_BYTES = 25 * 1024 * 1024
"""Largest encoded file accepted (25 MiB)."""

_ONE_BYTE_MODES = {"1", "L", "P"}
_ROWS_PER_CHUNK = 256

_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}


class ImageError(ValueError):
    """The input cannot be used as an image. The message is written for the user."""


def decoded_bytes(mode: str, size: tuple[int, int]) -> int:
    """Bytes Pillow needs to hold an image of ``mode`` and ``size`` (multi-band modes use 4 bytes a pixel)."""
    per_pixel = 1 if mode in _ONE_BYTE_MODES else 2 if mode.startswith("I;16") else 4
    return size[0] * size[1] * per_pixel


def load_image(
    source: bytes | BinaryIO | str | Path,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_BYTES,
    max_decoded_bytes: int = MAX_DECODED_BYTES,
    max_side: int | None = None,
) -> Image.Image:
    """Decode ``source`` (bytes, a binary file object or a path) into an RGB ``PIL.Image``.

    With ``max_side``, a JPEG is decoded at the smallest of its reduced scales (1/2, 1/4, 1/8) that keeps at
    least ``max_side`` pixels on its long side, which costs a fraction of the memory; the image is not
    otherwise resized.

    Raises:
        ImageError: empty, too large (file, pixels or decoded bytes), truncated, not an image, or in a mode
            that cannot be converted.
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
            if max_side is not None and image.format == "JPEG":
                scale = max(width, height) / max_side
                image.draft(image.mode, (int(width / scale) + 1, int(height / scale) + 1))
            needed = decoded_bytes(image.mode, image.size)
            if needed > max_decoded_bytes:
                raise ImageError(
                    f"The image is {width}×{height} pixels in mode {image.mode} and would take "
                    f"{needed / 2**20:.0f} MiB to decode; the limit is {max_decoded_bytes / 2**20:.0f} MiB."
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
        _check_file_size(path.stat().st_size, max_bytes)
        return path.read_bytes()
    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else source.read(max_bytes + 1)
    _check_file_size(len(data), max_bytes)
    return data


def _check_file_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ImageError(f"The file is {size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB.")


def _apply_orientation(image: Image.Image) -> Image.Image:
    """Rotate or mirror as the EXIF orientation tag says; a damaged EXIF block is ignored."""
    try:
        return ImageOps.exif_transpose(image) or image
    except Exception:
        logger.debug("EXIF orientation ignored", exc_info=True)
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        return Image.fromarray(_wide_to_uint8(image), mode="L").convert("RGB")
    if (mode == "P" and "transparency" in image.info) or mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise ImageError(f"Images in colour mode {mode} are not supported.") from exc


def _wide_to_uint8(image: Image.Image) -> np.ndarray:
    """16-bit, 32-bit integer or float pixels to 8-bit grey levels, a band of rows at a time, so no full-size
    copy of the wide pixels is ever made (the output is a quarter of the input's size, or half)."""
    width, height = image.size

    def bands() -> Iterator[tuple[int, np.ndarray]]:
        for top in range(0, height, _ROWS_PER_CHUNK):
            yield top, np.asarray(image.crop((0, top, width, min(top + _ROWS_PER_CHUNK, height))))

    mode = image.mode
    if mode == "F":
        top = max((np.max(band, where=np.isfinite(band), initial=-np.inf) for _, band in bands()), default=0.0)
        scale = 255.0 if top <= 1.0 else 1.0
    else:
        wide = mode.startswith("I;16") or max(int(band.max(initial=0)) for _, band in bands()) > 255
        scale = 1 / 257.0 if wide else 1.0  # 0..65535 -> 0..255
    out = np.empty((height, width), dtype=np.uint8)
    for row, band in bands():
        values = np.nan_to_num(band.astype(np.float32), nan=0.0) * np.float32(scale)
        out[row : row + len(band)] = np.clip(np.rint(values), 0, 255)
    return out


def fit_within(image: Image.Image, max_side: int) -> Image.Image:
    """A copy no larger than ``max_side`` on its long side (aspect kept); small images are returned as is."""
    if max(image.size) <= max_side:
        return image
    smaller = image.copy()
    smaller.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return smaller


def png_bytes(image: Image.Image) -> bytes:
    """``image`` encoded as PNG."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
