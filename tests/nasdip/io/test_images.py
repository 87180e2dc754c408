"""Image files: modes, bit depths, alpha, palettes, 16-bit colour PNGs, atomic writes, clear errors."""

from __future__ import annotations

import os
import stat
import struct
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from nasdip.errors import NasdipError
from nasdip.io import files
from nasdip.io.images import load_image, save_image
from nasdip.io.png16 import read_png16, write_png16


def test_grey_and_rgb(tmp_path):
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8)
    Image.fromarray(grey).save(tmp_path / "g.png")
    tensor, info = load_image(tmp_path / "g.png")
    assert tensor.shape == (1, 1, 6, 8) and (info.channels, info.bits) == (1, 8)
    assert tensor[0, 0, 1, 2].item() == pytest.approx(10 / 255)
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    tensor, info = load_image(tmp_path / "c.png")
    assert tensor.shape == (1, 3, 5, 7) and info.channels == 3
    np.testing.assert_array_equal((tensor[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), rgb)


def test_opaque_alpha_is_dropped_transparent_is_refused(tmp_path):
    rgba = np.full((4, 4, 4), 200, dtype=np.uint8)
    rgba[..., 3] = 255
    Image.fromarray(rgba).save(tmp_path / "opaque.png")
    assert load_image(tmp_path / "opaque.png")[0].shape == (1, 3, 4, 4)
    rgba[0, 0, 3] = 10
    Image.fromarray(rgba).save(tmp_path / "hole.png")
    with pytest.raises(NasdipError, match=r"hole\.png: has transparent pixels.*flatten it first"):
        load_image(tmp_path / "hole.png")


def test_palette_and_bilevel(tmp_path):
    colour = Image.fromarray(np.random.default_rng(1).integers(0, 256, (6, 6, 3), dtype=np.uint8)).convert("P")
    colour.save(tmp_path / "p.png")
    tensor, info = load_image(tmp_path / "p.png")
    assert info.channels == 3
    np.testing.assert_array_equal((tensor[0].permute(1, 2, 0) * 255).round().byte().numpy(), np.asarray(colour.convert("RGB")))
    Image.fromarray(np.arange(36, dtype=np.uint8).reshape(6, 6)).convert("P").save(tmp_path / "pg.png")
    assert load_image(tmp_path / "pg.png")[1].channels == 1
    Image.fromarray(np.eye(5, dtype=bool)).save(tmp_path / "b.png")
    tensor, info = load_image(tmp_path / "b.png")
    assert info.channels == 1 and tensor.max() == 1.0 and tensor.sum() == 5


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    tensor, info = load_image(tmp_path / "c.jpg")
    assert info.channels == 3 and tensor[0, 0].mean() > 0.9 and tensor[0, 1].mean() < 0.1


def test_16_bit_grey_round_trip(tmp_path):
    array = np.random.default_rng(2).integers(0, 65536, (9, 11), dtype=np.uint16)
    Image.fromarray(array).save(tmp_path / "g16.png")
    tensor, info = load_image(tmp_path / "g16.png")
    assert info.bits == 16 and info.channels == 1
    save_image(tmp_path / "out.png", tensor, bits=16)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out.png")), array)


def test_16_bit_colour_round_trip(tmp_path):
    array = np.random.default_rng(3).integers(0, 65536, (7, 5, 3), dtype=np.uint16)
    write_png16(tmp_path / "c16.png", array)
    tensor, info = load_image(tmp_path / "c16.png")
    assert (info.bits, info.channels) == (16, 3)
    np.testing.assert_array_equal((tensor[0].permute(1, 2, 0).double() * 65535).round().numpy().astype(np.uint16), array)
    save_image(tmp_path / "back.png", tensor, bits=16)
    np.testing.assert_array_equal(read_png16(tmp_path / "back.png"), array)


def test_errors_are_one_line(tmp_path):
    with pytest.raises(NasdipError, match=r"nope\.png: no such image file"):
        load_image(tmp_path / "nope.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(NasdipError, match=r"text\.png: not an image file nasdip can read"):
        load_image(tmp_path / "text.png")
    Image.fromarray(np.zeros((3, 3), dtype=np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(NasdipError, match="floating-point images are not supported"):
        load_image(tmp_path / "f.tif")


def png_claiming(width: int, height: int, depth: int = 8, colour: int = 2) -> bytes:
    """A PNG whose header claims ``width x height`` pixels, with a few bytes of pixel data."""

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def bmp_claiming(width: int, height: int) -> bytes:
    """A 24-bit BMP whose header claims ``width x height`` pixels, with no pixel data."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info


@pytest.mark.parametrize(
    ("name", "content"),
    [("bomb.png", png_claiming(20000, 20000)), ("bomb16.png", png_claiming(20000, 20000, depth=16)),
     ("bomb.bmp", bmp_claiming(20000, 20000))],
)
def test_decompression_bombs_are_refused_in_one_line(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(NasdipError) as caught:
        load_image(tmp_path / name)
    limit = 2 * Image.MAX_IMAGE_PIXELS / 1e6
    assert str(caught.value) == (f"{tmp_path / name}: claims 400 megapixels, more than nasdip reads ({limit:,.0f} "
                                 f"megapixels); the file may be damaged, otherwise downscale or crop it first")


def test_damaged_files_are_refused_in_one_line(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "a.png").read_bytes()[:400])
    with pytest.raises(NasdipError, match=r"^.*cut\.png: cannot read image \(.*truncated"):
        load_image(tmp_path / "cut.png")
    write_png16(tmp_path / "deep.png", np.zeros((4, 4, 3), dtype=np.uint16))
    deep = bytearray((tmp_path / "deep.png").read_bytes())
    start = deep.index(b"IDAT") + 4
    deep[start : start + 6] = b"\xff" * 6  # the compressed stream is no longer zlib
    (tmp_path / "deep.png").write_bytes(bytes(deep))
    with pytest.raises(NasdipError, match=r"^.*deep\.png: cannot read 16-bit PNG \("):
        load_image(tmp_path / "deep.png")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(NasdipError, match=r"^.*folder\.png: not a file$"):
        load_image(tmp_path / "folder.png")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads unreadable files")
def test_unreadable_file_is_one_line(tmp_path):
    save_image(tmp_path / "secret.png", torch.zeros(1, 3, 4, 4))
    (tmp_path / "secret.png").chmod(0)
    with pytest.raises(NasdipError, match=r"secret\.png: cannot read image \(Permission denied\)$"):
        load_image(tmp_path / "secret.png")


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_saved_images_honour_the_umask(tmp_path, mask):
    original = os.umask(mask)
    try:
        save_image(tmp_path / "out.png", torch.zeros(1, 3, 4, 4))
        save_image(tmp_path / "deep.png", torch.zeros(1, 3, 4, 4), bits=16)
    finally:
        os.umask(original)
    for name in ("out.png", "deep.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask


def test_rescued_save_says_where(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(files, "_rescue_dir", tmp_path / "rescued")
    (tmp_path / "file").write_text("in the way")
    saved = save_image(tmp_path / "file" / "out.png", torch.full((1, 3, 4, 4), 0.5), rescue=True)
    assert saved == tmp_path / "rescued" / "out.png"
    assert load_image(saved)[0].mul(255).round().unique().tolist() == [128.0]
    assert f"saved it to {saved} instead" in capsys.readouterr().err
    with pytest.raises(NotADirectoryError):
        save_image(tmp_path / "file" / "out.png", torch.zeros(1, 3, 4, 4))


def test_save_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    save_image(target, torch.zeros(1, 3, 4, 4))
    before = target.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", explode)
    with pytest.raises(OSError):
        save_image(target, torch.ones(1, 3, 4, 4))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]



@pytest.mark.parametrize(("orientation", "turn"), [(1, 0), (3, 2), (6, -1), (8, 1)])
def test_the_exif_orientation_is_applied(tmp_path, orientation, turn):
    # Stored: a wide grey ramp, dark on the left. Shown (and restored): rotated as the EXIF tag says; orientation 6
    # is a camera held upright, stored 90 degrees anticlockwise.
    stored = np.tile(np.linspace(0, 255, 24).astype(np.uint8), (12, 1))
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(tmp_path / "photo.jpg", exif=exif.tobytes(), quality=100)
    loaded, info = load_image(tmp_path / "photo.jpg")
    expected = torch.rot90(torch.from_numpy(stored / 255.0).float(), turn)
    assert loaded.shape[-2:] == expected.shape and info.channels == 1
    assert (loaded[0, 0] - expected).abs().max() < 0.05


def test_pillows_large_image_warning_is_silenced_where_nasdip_decides(tmp_path):
    # 100 megapixels: above Pillow's warning limit (89 MP), below nasdip's refusal (179 MP); the file holds no
    # pixels, so nasdip refuses it as damaged, in one line and without Pillow's warning before it.
    (tmp_path / "large.bmp").write_bytes(bmp_claiming(10000, 10000))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(NasdipError, match=r"large\.bmp: cannot read image \(image file is truncated"):
            load_image(tmp_path / "large.bmp")
    assert [str(warning.message) for warning in caught] == []
