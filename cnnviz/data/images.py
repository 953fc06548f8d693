"""Safe image decoding: any bytes in, an 8-bit RGB image out, or one clear :class:`ImageError`.

Applies EXIF orientation, converts every mode Pillow can decode (L, LA, P with transparency, RGBA, CMYK,
16-bit and float images) to RGB on a white background, takes the first frame of animations, and
refuses decompression bombs and truncated or non-image files before they cost memory: what decoding and the
conversion will hold (:func:`decode_cost`: the pixels as Pillow keeps them, one tile's conversion, the RGB result)
is checked against a byte budget before a single pixel is decoded, so a small file that declares a large float
image is refused as cheaply as a huge one, and a palette or grey image never grows into full-size RGBA copies.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

MAX_PIXELS = 50_000_000
"""Largest image (width x height) accepted; larger ones are refused before decoding."""

MAX_DECODED_BYTES = 160 * 1024 * 1024
"""The most memory decoding one image may hold at once (:func:`decode_cost`): the decoded pixels as Pillow holds
them (4 bytes a pixel for RGB, RGBA, CMYK, 32-bit integer and float images; 2 for 16-bit; 1 for grey, palette and
bilevel ones), one tile's conversion to RGB, and the RGB image returned when it is not those pixels themselves.
About 38 megapixels of colour fit, with ``max_side``; larger JPEGs are decoded at a reduced scale."""

MAX_BYTES = 25 * 1024 * 1024
"""Largest encoded file accepted (25 MiB)."""

TILE_PIXELS = 1 << 19
"""Pixels converted to RGB at a time: the widest conversion (a palette image with transparency through RGBA onto
white, or float pixels through float32 arithmetic) holds at most :data:`TILE_BYTES_PER_PIXEL` bytes a pixel of one
tile, 16 MiB, never a full-size intermediate."""
TILE_BYTES_PER_PIXEL = 32
REDUCING_GAP = 2.0
"""As Pillow's ``thumbnail``: the image is first reduced by whole factors (a box filter, tile by tile) to no less
than twice the final size, then resampled with Lanczos."""

_ONE_BYTE_MODES = {"1", "L", "P"}
_WIDE_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""EXIF orientation -> the transposition that shows the image upright (as ``ImageOps.exif_transpose``)."""


class ImageError(ValueError):
    """The input cannot be used as an image. The message is written for the user."""


def decoded_bytes(mode: str, size: tuple[int, int]) -> int:
    """Bytes Pillow needs to hold an image of ``mode`` and ``size`` (multi-band modes use 4 bytes a pixel)."""
    per_pixel = 1 if mode in _ONE_BYTE_MODES else 2 if mode.startswith("I;16") else 4
    return size[0] * size[1] * per_pixel


def fitted_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """``size`` scaled to at most ``max_side`` on its long side, aspect kept (``Image.thumbnail`` may round the
    short side the other way)."""
    width, height = size
    if max_side is None or max(size) <= max_side:
        return size
    if width >= height:
        return max_side, max(1, round(height * max_side / width))
    return max(1, round(width * max_side / height)), max_side


def _factors(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """The whole factors the image is box-reduced by before the final resampling (1, 1 when it already fits)."""
    target = fitted_size(size, max_side)
    if target == size:
        return 1, 1
    return max(1, int(size[0] / target[0] / REDUCING_GAP)), max(1, int(size[1] / target[1] / REDUCING_GAP))


def _reduced_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    fx, fy = _factors(size, max_side)
    return -(-size[0] // fx), -(-size[1] // fy)


def decode_cost(mode: str, size: tuple[int, int], max_side: int | None = None) -> int:
    """The most bytes :func:`load_image` holds at once for an image of ``mode`` and ``size``: its decoded pixels,
    one tile's conversion and the RGB images made from it (the reduced one, the resampling's intermediate and the
    one returned)."""
    width, height = size
    reduced, final = _reduced_size(size, max_side), fitted_size(size, max_side)
    converting = mode != "RGB"  # converted tile by tile into a new (reduced) RGB image
    tiles = TILE_BYTES_PER_PIXEL * min(width * height, TILE_PIXELS) if converting else 0
    made = reduced[0] * reduced[1] if converting or reduced != size else 0
    # Lanczos resamples rows, then columns: an image of the final width and the reduced height, then the final one.
    resampled = final[0] * reduced[1] + final[0] * final[1] if final != reduced else 0
    return decoded_bytes(mode, size) + tiles + 4 * (made + resampled)


def load_image(
    source: bytes | BinaryIO | str | Path,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_BYTES,
    max_decoded_bytes: int = MAX_DECODED_BYTES,
    max_side: int | None = None,
) -> Image.Image:
    """Decode ``source`` (bytes, a binary file object or a path) into an RGB ``PIL.Image``, at most ``max_side``
    pixels on its long side when given.

    With ``max_side``, a JPEG is decoded at the smallest of its reduced scales (1/2, 1/4, 1/8) that keeps at
    least ``max_side`` pixels on its long side, which costs a fraction of the memory. Every other mode is
    converted to RGB a tile at a time and reduced as it goes, so a small palette, grey or transparent file that
    declares a huge image costs its decoded pixels (1 byte each for palette and grey) and little more.

    Raises:
        ImageError: empty, too large (file, pixels or the memory decoding would take), truncated, not an image,
            or in a mode that cannot be converted.
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
            needed = decode_cost(image.mode, image.size, max_side)
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
    orientation = _orientation(image)
    rgb = _fitted_rgb(image, max_side)
    return rgb.transpose(_TRANSPOSE[orientation]) if orientation in _TRANSPOSE else rgb


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


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1, upright, when there is none); a damaged EXIF block is ignored."""
    try:
        return int(image.getexif().get(0x0112, 1))
    except Exception:
        logger.debug("EXIF orientation ignored", exc_info=True)
        return 1


def _tiles(size: tuple[int, int], factors: tuple[int, int]) -> Iterator[tuple[int, int, int, int]]:
    """Boxes of at most about :data:`TILE_PIXELS` covering ``size``, their edges on multiples of ``factors`` (so
    reducing each tile gives exactly the reduction of the whole)."""
    (width, height), (fx, fy) = size, factors
    tile_width = min(width, max(fx, int(TILE_PIXELS**0.5) // fx * fx))
    tile_height = min(height, max(fy, TILE_PIXELS // tile_width // fy * fy))
    for top in range(0, height, tile_height):
        for left in range(0, width, tile_width):
            yield left, top, min(left + tile_width, width), min(top + tile_height, height)


def _fitted_rgb(image: Image.Image, max_side: int | None) -> Image.Image:
    """``image`` as RGB within ``max_side``: converted and box-reduced tile by tile, then resampled."""
    factors = _factors(image.size, max_side)
    if image.mode == "RGB":  # no conversion: reduced at once (Pillow's reduce makes the smaller copy only)
        reduced = image.reduce(factors) if factors != (1, 1) else image
    else:
        convert = _converter(image)
        reduced = Image.new("RGB", _reduced_size(image.size, max_side))
        for box in _tiles(image.size, factors):
            tile = convert(image.crop(box))
            where = (box[0] // factors[0], box[1] // factors[1])
            reduced.paste(tile.reduce(factors) if factors != (1, 1) else tile, where)
    if max_side is not None and max(reduced.size) > max_side:
        reduced.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)  # in place: this image is ours, no copy
    return reduced


def _converter(image: Image.Image) -> Callable[[Image.Image], Image.Image]:
    """How one tile of ``image`` becomes RGB: wide (16-bit, 32-bit, float) pixels scaled to 8 bits as the whole
    image's range says, transparency laid on white, every other mode converted by Pillow."""
    mode = image.mode
    if mode in _WIDE_MODES:
        scale = _wide_scale(image)

        def wide(tile: Image.Image) -> Image.Image:
            values = np.nan_to_num(np.asarray(tile, dtype=np.float32), nan=0.0) * np.float32(scale)
            return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L").convert("RGB")

        return wide
    if (mode == "P" and "transparency" in image.info) or mode in _ALPHA_MODES:

        def on_white(tile: Image.Image) -> Image.Image:
            rgba = tile.convert("RGBA")
            return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")

        return on_white

    def plain(tile: Image.Image) -> Image.Image:
        try:
            return tile.convert("RGB")
        except ValueError as exc:
            raise ImageError(f"Images in colour mode {mode} are not supported.") from exc

    return plain


def _wide_scale(image: Image.Image) -> float:
    """The factor that brings 16-bit, 32-bit integer or float pixels to 8-bit levels: floats in [0, 1] and
    integers above 255 (16-bit ones always) are stretched or squeezed to 0..255; the range is read a tile at a
    time."""
    tiles = (np.asarray(image.crop(box)) for box in _tiles(image.size, (1, 1)))
    if image.mode == "F":
        top = max((np.max(tile, where=np.isfinite(tile), initial=-np.inf) for tile in tiles), default=0.0)
        return 255.0 if top <= 1.0 else 1.0
    wide = image.mode.startswith("I;16") or max(int(tile.max(initial=0)) for tile in tiles) > 255
    return 1 / 257.0 if wide else 1.0  # 0..65535 -> 0..255


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


def npy_bytes(values: np.ndarray) -> bytes:
    """``values`` as a NumPy ``.npy`` file (what ``np.load`` reads back)."""
    out = io.BytesIO()
    np.save(out, values, allow_pickle=False)
    return out.getvalue()
