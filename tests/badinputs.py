"""The bad-input corpus of issue 6, generated here: odd, broken and hostile files a class might upload.

Each case says what a correct app does with it: ``size`` is the (width, height) the decoded image must have
(the sidebar keeps images at most ``cnnviz.ui.MAX_SIDE`` on their long side), or ``None`` when the upload
must be refused with a clear message.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

from tests.conftest import encode


@dataclass(frozen=True)
class Case:
    name: str  # the uploaded file's name
    data: bytes
    mime: str
    size: tuple[int, int] | None  # expected decoded size (after fitting into 1024 px), None: refused


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def decompression_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header announcing width × height 8-bit grey pixels, with one short row of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


BOMB_MODES = {"P+transparency": (8, 3), "LA": (8, 4), "RGBA": (8, 6), "L": (8, 0), "P": (8, 3), "1": (1, 0)}
"""The issue's small bombs: PNG bit depth and colour type of each."""


def small_bomb(mode: str = "P+transparency", side: int = 7071) -> bytes:
    """A complete, valid PNG of ``side`` × ``side`` pixels of one colour in ``mode`` (see :data:`BOMB_MODES`):
    tens of kilobytes that decode to 1 byte a pixel (palette, grey, bilevel) or 2–4 (with alpha), written row by
    row without ever holding the image."""
    depth, colour = BOMB_MODES[mode]
    channels = {0: 1, 3: 1, 4: 2, 6: 4}[colour]
    row = b"\x00" + b"\x00" * (-(-side * depth * channels // 8))  # filter byte, then the pixels
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    chunks = [_png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, depth, colour, 0, 0, 0))]
    if colour == 3:
        chunks.append(_png_chunk(b"PLTE", bytes([200, 30, 30] * 4)))
        if mode == "P+transparency":
            chunks.append(_png_chunk(b"tRNS", b"\x80"))
    chunks += [_png_chunk(b"IDAT", data), _png_chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def float_tiff(width: int = 7000, height: int = 7000) -> bytes:
    """A real, deflate-compressed 32-bit float TIFF of width × height zeros: a few hundred KB that Pillow
    would decode into width × height × 4 bytes (196 MB for 7000 × 7000, and more to convert it)."""
    packer = zlib.compressobj(9)
    row_block = b"\x00" * (width * 4 * 64)
    data = b"".join(packer.compress(row_block[: width * 4 * min(64, height - y)]) for y in range(0, height, 64))
    data += packer.flush()
    tags = [  # (tag, type, value): type 3 SHORT, 4 LONG
        (256, 4, width),
        (257, 4, height),
        (258, 3, 32),
        (259, 3, 8),
        (262, 3, 1),
        (273, 4, 0),
        (277, 3, 1),
        (278, 4, height),
        (279, 4, len(data)),
        (339, 3, 3),
    ]
    ifd_size = 2 + 12 * len(tags) + 4
    data_offset = 8 + ifd_size
    ifd = struct.pack("<H", len(tags))
    for tag, kind, value in tags:
        value = data_offset if tag == 273 else value
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, 1) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + data


def _photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth colourful RGB image (compresses like a photo)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    channels = [127 + 120 * np.sin(xs / (7 + 5 * k) + ys / (11 + 3 * k) + rng.uniform(0, 6)) for k in range(3)]
    return Image.fromarray(np.stack(channels, axis=-1).astype(np.uint8))


def _animated_gif() -> bytes:
    frames = [Image.new("P", (40, 30), i * 60) for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def _exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view: a 80×40 file shows as 40×80
    return encode(_photo(80, 40), "JPEG", quality=90, exif=exif.tobytes())


def _palette_with_transparency() -> bytes:
    image = Image.new("P", (32, 32), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.paste(1, (8, 8, 24, 24))
    return encode(image, "PNG", transparency=0)


def corpus() -> list[Case]:
    """Every case of issue 6's bad-input corpus."""
    jpeg, png = encode(_photo(120, 90), "JPEG", quality=90), encode(_photo(120, 90))
    sixteen = Image.fromarray((np.arange(48 * 32, dtype=np.uint16).reshape(32, 48) * 40).astype(np.uint16))
    return [
        Case("empty.png", b"", "image/png", None),
        Case("notes.png", b"these are my lecture notes, not a picture\n" * 20, "image/png", None),
        Case("truncated.jpg", jpeg[: len(jpeg) // 2], "image/jpeg", None),
        Case("truncated.png", png[: len(png) // 2], "image/png", None),
        Case("bomb.png", decompression_bomb(), "image/png", None),
        Case("one_pixel.png", encode(Image.new("RGB", (1, 1), (200, 30, 30))), "image/png", (1, 1)),
        Case("sixteen_bit.png", encode(sixteen), "image/png", (48, 32)),
        Case("cmyk.jpg", encode(_photo(64, 48).convert("CMYK"), "JPEG", quality=90), "image/jpeg", (64, 48)),
        Case("palette_transparent.png", _palette_with_transparency(), "image/png", (32, 32)),
        Case("animated.gif", _animated_gif(), "image/gif", (40, 30)),
        Case("exif_rotated.jpg", _exif_rotated_jpeg(), "image/jpeg", (40, 80)),
        Case("grayscale.png", encode(_photo(50, 40).convert("L")), "image/png", (50, 40)),
        Case("panorama.jpg", encode(_photo(8000, 200), "JPEG", quality=80), "image/jpeg", (1024, 26)),
        Case("photo.webp", encode(_photo(60, 45), "WEBP", quality=80), "image/webp", (60, 45)),
        Case("scan.tiff", encode(_photo(30, 20), "TIFF"), "image/tiff", (30, 20)),
        Case("float.tiff", float_tiff(), "image/tiff", None),
        Case("photo.heic", b"\x00\x00\x00\x18ftypheic" + bytes(range(256)) * 4, "image/heic", None),
    ]


def valid_upload() -> Case:
    """A plain photo that every page handles: the upload after each bad one must work."""
    return Case("after.jpg", encode(_photo(96, 72, seed=1), "JPEG", quality=92), "image/jpeg", (96, 72))
