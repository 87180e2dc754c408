"""16-bit PNGs: headers, lossless round trips, every row filter, Pillow's view of the files, clear refusals."""

from __future__ import annotations

import itertools
import re
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from nasdip.io.png16 import png_header, read_png16, write_png16

COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)
NOT_16_BIT = "not a non-interlaced 16-bit grey/RGB/RGBA PNG"


def chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


def png_file(width: int, height: int, colour: int, raw: bytes, depth: int = 16, interlace: int = 0,
             idat_parts: int = 1) -> bytes:
    """A PNG holding the (already filtered) scanlines ``raw``, the compressed stream split over ``idat_parts``."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace)
    stream = zlib.compress(raw)
    cuts = np.linspace(0, len(stream), idat_parts + 1).astype(int)
    idats = b"".join(chunk(b"IDAT", stream[a:b]) for a, b in itertools.pairwise(cuts))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + idats + chunk(b"IEND", b"")


def encode_filtered(array: np.ndarray, kinds: list[int]) -> bytes:
    """A 16-bit PNG whose row ``y`` uses filter ``kinds[y % len(kinds)]`` (an encoder written from the PNG spec)."""
    height, width, channels = array.shape
    bpp = 2 * channels
    rows = array.astype(">u2").reshape(height, -1).view(np.uint8).astype(np.int32)
    raw = bytearray()
    previous = np.zeros(rows.shape[1], dtype=np.int32)
    for y, row in enumerate(rows):
        kind = kinds[y % len(kinds)]
        left = np.concatenate([np.zeros(bpp, np.int32), row[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int32), previous[:-bpp]])
        if kind == 0:
            predictor = np.zeros_like(row)
        elif kind == 1:
            predictor = left
        elif kind == 2:
            predictor = previous
        elif kind == 3:
            predictor = (left + previous) // 2
        else:
            p = left + previous - upleft
            pa, pb, pc = abs(p - left), abs(p - previous), abs(p - upleft)
            predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, previous, upleft))
        raw.append(kind)
        raw.extend(((row - predictor) % 256).astype(np.uint8).tobytes())
        previous = row
    return png_file(width, height, COLOUR_TYPES[channels], bytes(raw))


def random_uint16(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, shape, dtype=np.uint16)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_write_then_read_is_lossless(tmp_path, channels):
    array = random_uint16((7, 5, channels), channels)
    write_png16(tmp_path / "a.png", array)
    decoded = read_png16(tmp_path / "a.png")
    assert decoded.dtype == np.uint16
    np.testing.assert_array_equal(decoded, array)


def test_a_two_dimensional_array_is_written_as_grey(tmp_path):
    array = random_uint16((6, 9), 0)
    write_png16(tmp_path / "g.png", array)
    assert png_header(tmp_path / "g.png") == (9, 6, 16, 0, 0)
    np.testing.assert_array_equal(read_png16(tmp_path / "g.png"), array[:, :, None])


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_header_of_a_written_file(tmp_path, channels):
    write_png16(tmp_path / "a.png", np.zeros((3, 11, channels), dtype=np.uint16))
    assert png_header(tmp_path / "a.png") == (11, 3, 16, COLOUR_TYPES[channels], 0)


def test_header_of_files_that_are_not_pngs(tmp_path):
    (tmp_path / "short.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "text.png").write_text("not a PNG, but long enough to hold a whole header........")
    Image.new("RGB", (4, 4)).save(tmp_path / "photo.jpg")
    for name in ("short.png", "text.png", "photo.jpg"):
        assert png_header(tmp_path / name) is None, name


def test_header_of_a_real_png_agrees_with_pillow(shared_data):
    path = shared_data / "sr" / "set5" / "woman.png"
    with Image.open(path) as image:
        size, mode = image.size, image.mode
    width, height, depth, colour, interlace = png_header(path)
    assert (width, height) == size == (228, 344)
    assert (depth, colour, interlace, mode) == (8, 2, 0, "RGB")


def test_pillow_reads_written_grey_exactly_and_colour_as_its_high_bytes(tmp_path):
    grey, colour = random_uint16((5, 7), 1), random_uint16((5, 7, 3), 2)
    write_png16(tmp_path / "g.png", grey)
    write_png16(tmp_path / "c.png", colour)
    with Image.open(tmp_path / "g.png") as image:
        assert image.mode == "I;16"
        np.testing.assert_array_equal(np.asarray(image), grey)
    with Image.open(tmp_path / "c.png") as image:  # Pillow keeps 8 bits of 16-bit colour
        assert image.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(image), (colour >> 8).astype(np.uint8))


def test_reads_16_bit_grey_written_by_pillow(tmp_path):
    array = random_uint16((13, 10), 3)
    Image.fromarray(array).save(tmp_path / "pillow.png")
    assert png_header(tmp_path / "pillow.png")[2:4] == (16, 0)
    np.testing.assert_array_equal(read_png16(tmp_path / "pillow.png"), array[:, :, None])


def test_a_real_photo_survives_the_round_trip(tmp_path, shared_data):
    with Image.open(shared_data / "sr" / "set5" / "butterfly.png") as image:
        eight = np.asarray(image.convert("RGB"))[100:132, 60:92]
    deep = eight.astype(np.uint16) * 257  # 0-255 -> 0-65535, high byte = low byte = the 8-bit value
    write_png16(tmp_path / "b16.png", deep)
    np.testing.assert_array_equal(read_png16(tmp_path / "b16.png"), deep)
    with Image.open(tmp_path / "b16.png") as image:
        np.testing.assert_array_equal(np.asarray(image), eight)


@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_reader_undoes_every_filter(tmp_path, kind, channels):
    array = random_uint16((6, 9, channels), 10 * kind + channels)
    (tmp_path / "f.png").write_bytes(encode_filtered(array, [kind]))
    np.testing.assert_array_equal(read_png16(tmp_path / "f.png"), array)


def test_reader_undoes_a_different_filter_on_every_row(tmp_path):
    array = random_uint16((11, 7, 3), 5)
    (tmp_path / "mixed.png").write_bytes(encode_filtered(array, [4, 0, 3, 1, 2, 2, 4, 4, 3]))
    np.testing.assert_array_equal(read_png16(tmp_path / "mixed.png"), array)


def test_reader_joins_split_image_data_chunks(tmp_path):
    array = random_uint16((8, 8, 3), 6)
    raw = np.concatenate([np.zeros((8, 1), np.uint8), array.astype(">u2").reshape(8, -1).view(np.uint8)], axis=1)
    (tmp_path / "split.png").write_bytes(png_file(8, 8, 2, raw.tobytes(), idat_parts=3))
    np.testing.assert_array_equal(read_png16(tmp_path / "split.png"), array)


def test_unknown_filter_type_is_refused(tmp_path):
    raw = bytes([5]) + bytes(6) + bytes([0]) + bytes(6)  # two rows of one RGB pixel, the first with filter 5
    (tmp_path / "bad.png").write_bytes(png_file(1, 2, 2, raw))
    with pytest.raises(ValueError, match=r"^corrupt PNG \(filter type 5\)$"):
        read_png16(tmp_path / "bad.png")


@pytest.mark.parametrize(
    ("depth", "colour", "interlace"),
    [(8, 2, 0), (16, 2, 1), (16, 3, 0), (16, 5, 0)],
    ids=["8-bit", "interlaced", "palette", "unknown-colour"],
)
def test_files_it_cannot_decode_are_refused(tmp_path, depth, colour, interlace):
    path = tmp_path / "x.png"
    path.write_bytes(png_file(2, 2, colour, bytes(2 * 13), depth=depth, interlace=interlace))
    with pytest.raises(ValueError, match=f"^{re.escape(f'{path}: {NOT_16_BIT}')}$"):
        read_png16(path)


def test_a_file_that_is_not_a_png_is_refused(tmp_path):
    path = tmp_path / "text.png"
    path.write_text("hello " * 10)
    with pytest.raises(ValueError, match=re.escape(NOT_16_BIT)):
        read_png16(path)
