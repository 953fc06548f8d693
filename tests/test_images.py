"""cnnviz.data.images: every file is generated here; expected pixels are worked out by hand."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from cnnviz.data.images import (
    MAX_DECODED_BYTES,
    ImageError,
    decode_cost,
    decoded_bytes,
    fit_within,
    load_image,
    png_bytes,
)
from tests.badinputs import float_tiff, small_bomb
from tests.conftest import encode
from tests.peak import peak_rss_mib


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    return tuple(int(v) for v in image.getpixel(xy))


def test_rgb_png_round_trips_exactly(rng):
    pixels = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    image = load_image(encode(Image.fromarray(pixels)))
    assert image.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(image), pixels)


def test_accepts_paths_and_file_objects(tmp_path):
    path = tmp_path / "a.png"
    Image.new("RGB", (3, 2), (10, 20, 30)).save(path)
    assert pixel(load_image(path), (2, 1)) == (10, 20, 30)
    with path.open("rb") as handle:
        assert load_image(handle).size == (3, 2)


def test_exif_orientation_is_applied():
    # Left half red, right half blue, 40x20. Orientation 6 means "rotate 90 degrees clockwise to view".
    raw = Image.new("RGB", (40, 20), (255, 0, 0))
    raw.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    image = load_image(encode(raw, "JPEG", quality=95, exif=exif.tobytes()))
    assert image.size == (20, 40)
    # After a clockwise quarter turn the left (red) half is on top, the blue half at the bottom.
    top, bottom = pixel(image, (10, 5)), pixel(image, (10, 35))
    assert top[0] > 200 and top[2] < 50
    assert bottom[2] > 200 and bottom[0] < 50


def test_grayscale_becomes_equal_channels():
    image = load_image(encode(Image.new("L", (4, 4), 77)))
    assert image.mode == "RGB" and pixel(image, (0, 0)) == (77, 77, 77)


def test_one_bit_image():
    image = load_image(encode(Image.new("1", (4, 4), 1)))
    assert pixel(image, (1, 1)) == (255, 255, 255)


def test_la_transparency_goes_on_white():
    data = np.array([[[50, 0], [50, 255]]], dtype=np.uint8)  # 1x2: transparent, then opaque grey 50
    image = load_image(encode(Image.fromarray(data, mode="LA")))
    assert pixel(image, (0, 0)) == (255, 255, 255)
    assert pixel(image, (1, 0)) == (50, 50, 50)


def test_rgba_half_transparent_is_blended_on_white():
    image = load_image(encode(Image.new("RGBA", (2, 2), (0, 100, 200, 128))))
    alpha = 128 / 255
    expected = [round(255 * (1 - alpha) + c * alpha) for c in (0, 100, 200)]
    assert all(abs(a - b) <= 1 for a, b in zip(pixel(image, (0, 0)), expected, strict=True))


def test_palette_with_transparent_index():
    palette_image = Image.new("P", (2, 1))
    palette_image.putpalette([255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 6))
    palette_image.putpixel((0, 0), 0)
    palette_image.putpixel((1, 0), 1)
    palette_image.info["transparency"] = 0
    image = load_image(encode(palette_image, transparency=0))
    assert pixel(image, (0, 0)) == (255, 255, 255)  # index 0 is transparent
    assert pixel(image, (1, 0)) == (0, 255, 0)


def test_cmyk_jpeg_is_converted_to_rgb():
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # full magenta + yellow = red
    image = load_image(encode(cmyk, "JPEG", quality=100))
    r, g, b = pixel(image, (8, 8))
    assert image.mode == "RGB" and r > 240 and g < 15 and b < 15


def test_sixteen_bit_png_is_scaled_to_eight_bits():
    levels = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    data = encode(Image.fromarray(levels))
    assert Image.open(__import__("io").BytesIO(data)).mode.startswith("I")  # really a 16-bit file
    image = load_image(data)
    assert [pixel(image, (x, 0)) for x in range(3)] == [(0, 0, 0), (100, 100, 100), (255, 255, 255)]


def test_float_tiff_in_unit_range():
    image = load_image(encode(Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32)), "TIFF"))
    assert [pixel(image, (x, 0))[0] for x in range(3)] == [0, 128, 255]


def test_animated_gif_gives_first_frame():
    frames = [Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(__import__("io").BytesIO(data)).n_frames == 2
    assert pixel(load_image(data), (4, 4)) == (255, 0, 0)


@pytest.mark.parametrize("fmt", ["WEBP", "TIFF", "BMP"])
def test_other_formats(fmt):
    image = load_image(
        encode(Image.new("RGB", (6, 6), (0, 128, 255)), fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    )
    assert pixel(image, (3, 3)) == (0, 128, 255)


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims huge dimensions: a decompression bomb's header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding():
    data = _png_header_only(100_000, 100_000)
    assert len(data) < 100
    with pytest.raises(ImageError, match="too large"):
        load_image(data)


def test_own_pixel_limit():
    with pytest.raises(ImageError, match="megapixels"):
        load_image(_png_header_only(8_000, 7_000))  # 56 MP: under Pillow's bomb error, over our limit
    with pytest.raises(ImageError, match="100×100"):
        load_image(encode(Image.new("RGB", (100, 100))), max_pixels=5_000)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_are_rejected(rng, fmt):
    noise = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = encode(noise, fmt)
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, this is plain text pretending to be a PNG", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image|damaged"),
    ],
)
def test_non_images_are_rejected(data, message):
    with pytest.raises(ImageError, match=message):
        load_image(data)


def test_file_size_limit_and_missing_path(tmp_path):
    with pytest.raises(ImageError, match=r"MiB; the limit is 0 MiB"):
        load_image(encode(Image.new("RGB", (50, 50))), max_bytes=10)
    with pytest.raises(ImageError, match=r"^The file is 24.0 MiB; the limit is 20 MiB\.$"):
        load_image(b"\x00" * (24 * 2**20), max_bytes=20 * 2**20)
    with pytest.raises(ImageError, match="No such image"):
        load_image(tmp_path / "missing.png")


def test_image_error_is_a_value_error():
    assert issubclass(ImageError, ValueError)


def test_fit_within_keeps_aspect_and_small_images():
    small = Image.new("RGB", (30, 20))
    assert fit_within(small, 100) is small
    big = fit_within(Image.new("RGB", (3000, 1000)), 600)
    assert big.size == (600, 200)


@pytest.mark.parametrize(
    ("mode", "size", "expected"),
    [
        ("RGB", (10, 20), 800),
        ("F", (10, 20), 800),
        ("I;16", (10, 20), 400),
        ("L", (10, 20), 200),
        ("P", (3, 3), 9),
        ("CMYK", (2, 2), 16),
        ("LA", (2, 2), 16),
    ],
)
def test_decoded_bytes_is_what_pillow_holds(mode, size, expected):
    assert decoded_bytes(mode, size) == expected


def test_decoding_budget_counts_bytes_not_only_pixels():
    """The same pixel count passes as 8-bit grey and is refused as float."""
    side = 1000
    grey = encode(Image.new("L", (side, side)), "TIFF")
    budget = decode_cost("L", (side, side))
    assert budget == side * side + 4 * side * side + 32 * 2**19  # grey pixels, the RGB result, one tile's work
    assert load_image(grey, max_decoded_bytes=budget).size == (side, side)
    with pytest.raises(ImageError, match=r"mode F and would take 24 MiB to decode; the limit is 21 MiB"):
        load_image(float_tiff(side, side), max_decoded_bytes=budget)


@pytest.mark.slow
def test_small_float_tiff_cannot_make_the_server_allocate():
    """A 190 KB TIFF declaring 7000 × 7000 float pixels: Pillow alone would take 187 MiB and more; cnnviz
    refuses it before decoding."""
    data = float_tiff()
    assert len(data) < 300_000
    with pytest.raises(ImageError, match="mode F and would take 390 MiB to decode; the limit is 160 MiB"):
        load_image(data)  # 187 MiB of float pixels, as much again of RGB result, and a tile's conversion
    setup = (
        "import io\nfrom PIL import Image\nfrom cnnviz.data.images import ImageError, load_image\n"
        "from tests.badinputs import float_tiff\ndata = float_tiff()"
    )
    guarded = peak_rss_mib(setup, "try:\n    load_image(data)\nexcept ImageError:\n    pass")
    unguarded = peak_rss_mib(setup, "Image.open(io.BytesIO(data)).load()")  # the attack is real
    assert guarded < 16 and unguarded > 180, (guarded, unguarded)


def test_large_jpeg_decodes_at_a_reduced_scale_when_asked():
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (1500, 2000, 3), dtype=np.uint8))
    data = encode(photo, "JPEG", quality=80)
    assert load_image(data).size == (2000, 1500)
    assert load_image(data, max_side=900).size == (900, 675)
    assert load_image(data, max_side=400).size == (400, 300)
    # Decoded at the 1/2 scale (the smallest that keeps at least 900 pixels), then resampled: the budget is that.
    assert decode_cost("RGB", (1000, 750), 900) == 4 * (1000 * 750 + 900 * 750 + 900 * 675)  # rows, then columns
    assert load_image(data, max_decoded_bytes=decode_cost("RGB", (1000, 750), 900), max_side=900).size == (900, 675)
    with pytest.raises(ImageError, match="to decode"):
        load_image(data, max_decoded_bytes=4 * 1000 * 750)


def test_png_bytes_round_trip():
    image = Image.new("RGB", (5, 3), (10, 200, 30))
    assert load_image(png_bytes(image)).tobytes() == image.tobytes()


def reference_rgb(image: Image.Image, max_side: int) -> Image.Image:
    """What Pillow alone makes of an image: converted whole (transparency onto white), then a Lanczos thumbnail."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    rgb = image.convert("RGB")
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return rgb


@pytest.mark.parametrize("mode", ["P+transparency", "P", "L", "LA", "RGBA", "1", "CMYK", "RGB"])
@pytest.mark.parametrize("max_side", [256, 1024, 2000])
def test_tiled_conversion_matches_pillow_converting_the_whole_image(mode, max_side):
    """Converted and reduced tile by tile, the result is Pillow's whole-image conversion and thumbnail to within
    a grey level on average (the box reduction first is what Pillow's own thumbnail does with reducing_gap)."""
    rng = np.random.default_rng(7)
    blocks = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)  # coarse blocks: a picture, not noise
    rgba = Image.fromarray(blocks, "RGBA").resize((1590, 1110), Image.Resampling.NEAREST)
    if mode.startswith("P"):
        image = rgba.convert("RGB").quantize(64)
        data = encode(image, "PNG", **({"transparency": 5} if mode == "P+transparency" else {}))
    else:
        data = encode(rgba.convert(mode), "TIFF" if mode == "CMYK" else "PNG")
    source = Image.open(io.BytesIO(data))
    source.load()
    ours = np.asarray(load_image(data, max_side=max_side), dtype=np.int16)
    theirs = np.asarray(reference_rgb(source, max_side), dtype=np.int16)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).mean() < 1.0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "side", "max_side"),
    [
        ("P+transparency", 7071, 1024),
        ("P+transparency", 7071, 256),
        ("L", 7071, 1024),
        ("1", 7071, 256),
        ("RGBA", 4000, 1024),
        ("LA", 5792, 256),
    ],
)
def test_small_bombs_stay_within_their_counted_cost(mode, side, max_side):
    """The issue's bombs (tens of KB declaring 33–50 megapixels; Pillow's conversion to RGB took +418 to +813 MiB):
    decoding holds no more than decode_cost counted before it began, and that is within the budget."""
    data = small_bomb(mode, side)
    header = Image.open(io.BytesIO(data))
    cost = decode_cost(header.mode, header.size, max_side) / 2**20
    setup = (
        "from cnnviz.data.images import load_image\nfrom tests.badinputs import small_bomb\n"
        f"data = small_bomb({mode!r}, {side})"
    )
    peak = peak_rss_mib(setup, f"assert max(load_image(data, max_side={max_side}).size) == {max_side}")
    assert peak <= cost + 4 and cost <= MAX_DECODED_BYTES / 2**20, (peak, cost)


def test_bombs_over_the_budget_are_refused_before_decoding():
    data = small_bomb("LA", 5792)  # 128 MiB of grey and alpha pixels (Pillow keeps LA at 4 bytes a pixel)
    with pytest.raises(ImageError, match=r"5792×5792 pixels in mode LA and would take 191 MiB to decode"):
        load_image(data, max_side=1024)
