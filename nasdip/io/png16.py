"""16-bit PNG reading and writing for the colour types Pillow handles only at 8 bits (16-bit RGB and RGBA).

Pillow reads 16-bit grey PNGs losslessly but truncates 16-bit colour PNGs to 8 bits and cannot write them, so
nasdip decodes and encodes those itself: non-interlaced, colour types 0 (grey), 2 (RGB), 4 (grey+alpha) and
6 (RGBA) at 16 bits per sample.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def png_header(path: str | Path) -> tuple[int, int, int, int, int] | None:
    """``(width, height, bit depth, colour type, interlace)`` of a PNG file, or ``None`` if it is not a PNG."""
    with open(path, "rb") as stream:
        head = stream.read(33)
    if len(head) < 33 or not head.startswith(SIGNATURE) or head[12:16] != b"IHDR":
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", head[16:29])
    return width, height, depth, colour, interlace


def _chunks(data: bytes):
    position = len(SIGNATURE)
    while position + 8 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        yield kind, data[position + 8 : position + 8 + length]
        position += 12 + length


def _unfilter_row(kind: int, line: np.ndarray, previous: np.ndarray, bpp: int) -> np.ndarray:
    """Undo one row's PNG filter (all arithmetic modulo 256)."""
    if kind == 0:
        return line
    if kind == 2:
        return (line + previous) & 0xFF
    if kind not in (1, 3, 4):
        raise ValueError(f"corrupt PNG (filter type {kind})")
    pixels, above = line.reshape(-1, bpp), previous.reshape(-1, bpp)
    out = np.zeros_like(pixels)
    left = upleft = np.zeros(bpp, dtype=np.int32)
    for i in range(pixels.shape[0]):  # these filters depend on the pixel just decoded
        up = above[i]
        if kind == 1:
            predictor = left
        elif kind == 3:
            predictor = (left + up) // 2
        else:
            estimate = left + up - upleft
            pa, pb, pc = np.abs(estimate - left), np.abs(estimate - up), np.abs(estimate - upleft)
            predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
        out[i] = (pixels[i] + predictor) & 0xFF
        left, upleft = out[i], up
    return out.reshape(-1)


def read_png16(path: str | Path) -> np.ndarray:
    """Decode a non-interlaced 16-bit PNG into a ``(H, W, C)`` uint16 array."""
    data = Path(path).read_bytes()
    width, height, depth, colour, interlace = png_header(path) or (0, 0, 0, 0, 0)
    if depth != 16 or colour not in _CHANNELS or interlace:
        raise ValueError(f"{path}: not a non-interlaced 16-bit grey/RGB/RGBA PNG")
    raw = zlib.decompress(b"".join(body for kind, body in _chunks(data) if kind == b"IDAT"))
    bpp = 2 * _CHANNELS[colour]
    rows = np.frombuffer(raw, dtype=np.uint8)[: height * (width * bpp + 1)].reshape(height, -1).astype(np.int32)
    out = np.zeros((height, width * bpp), dtype=np.int32)
    previous = np.zeros(width * bpp, dtype=np.int32)
    for y in range(height):
        out[y] = previous = _unfilter_row(int(rows[y, 0]), rows[y, 1:], previous, bpp)
    return out.astype(np.uint8).view(">u2").reshape(height, width, _CHANNELS[colour]).astype(np.uint16)


def write_png16(path: str | Path, array: np.ndarray) -> None:
    """Encode a ``(H, W)`` or ``(H, W, C)`` uint16 array (C = 1, 2, 3, 4) as a 16-bit PNG."""
    if array.ndim == 2:
        array = array[:, :, None]
    height, width, channels = array.shape
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = array.astype(">u2").reshape(height, width * channels).view(np.uint8)
    raw = np.concatenate([np.zeros((height, 1), dtype=np.uint8), rows], axis=1).tobytes()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, colour, 0, 0, 0)
    Path(path).write_bytes(SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
