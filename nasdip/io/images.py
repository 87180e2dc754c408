"""Image files <-> tensors: ``(1, C, H, W)`` float32 in [0, 1], C = 1 (grey) or 3 (RGB), 8- or 16-bit.

Unreadable, damaged or implausibly large files (Pillow's decompression-bomb limit) are refused in one line;
nasdip applies that limit itself, so Pillow's own warning about large images is silenced while it reads. A
photo's EXIF orientation is applied (a camera's portrait JPEG is restored as it is shown, not as it is stored).
Palette, 1-bit, CMYK and similar modes are converted to RGB or grey; an alpha channel is dropped when every
pixel is opaque and refused otherwise; 16-bit grey and colour PNGs keep their precision, and outputs are written
with the input's bit depth. Writes are atomic: a crash never leaves a half-written image.
"""

from __future__ import annotations

import re
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from nasdip.errors import NasdipError
from nasdip.io.files import atomic_write, atomic_write_or_rescue
from nasdip.io.png16 import png_header, read_png16, write_png16


@dataclass(frozen=True)
class ImageInfo:
    """Where an image came from and how to write results like it."""

    path: str | None
    channels: int
    bits: int

    @property
    def mode(self) -> str:
        return "L" if self.channels == 1 else "RGB"


def _from_array(array: np.ndarray, scale: float) -> torch.Tensor:
    if array.ndim == 2:
        array = array[:, :, None]
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32) / scale)
    return tensor.permute(2, 0, 1).unsqueeze(0).contiguous()


def _drop_opaque_alpha(array: np.ndarray, maximum: int, name: str) -> np.ndarray:
    alpha = array[..., -1]
    if (alpha < maximum).any():
        raise NasdipError(f"{name}: has transparent pixels; nasdip restores grey or RGB images, flatten it first")
    return array[..., :-1]


def _pixel_limit() -> int | None:
    """Largest image, in pixels, nasdip reads: Pillow's decompression-bomb limit (``None``: no limit)."""
    return None if Image.MAX_IMAGE_PIXELS is None else 2 * Image.MAX_IMAGE_PIXELS


def _too_large(name: str, pixels: int | None, limit: int) -> NasdipError:
    claims = f"claims {pixels / 1e6:,.0f} megapixels" if pixels else "is too large"
    return NasdipError(f"{name}: {claims}, more than nasdip reads ({limit / 1e6:,.0f} megapixels); "
                       "the file may be damaged, otherwise downscale or crop it first")


def load_image(path: str | Path) -> tuple[torch.Tensor, ImageInfo]:
    """Read an image file into a ``(1, C, H, W)`` tensor in [0, 1] and its :class:`ImageInfo`.

    Anything wrong with the file (missing, unreadable, not an image, damaged, implausibly large) raises one
    :class:`NasdipError` line naming it.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise NasdipError(f"{name}: no such image file" if not path.exists() else f"{name}: not a file")
    try:
        header = png_header(path)
    except OSError as error:
        raise NasdipError(f"{name}: cannot read image ({error.strerror or error})") from None
    limit = _pixel_limit()
    if header and limit is not None and header[0] * header[1] > limit:
        raise _too_large(name, header[0] * header[1], limit)
    if header and header[2] == 16 and header[3] in (2, 4, 6):  # 16-bit colour: Pillow would truncate it
        try:
            array = read_png16(path)
        except (ValueError, OSError, IndexError, struct.error, zlib.error) as error:
            raise NasdipError(f"{name}: cannot read 16-bit PNG ({error})") from None
        if header[3] in (4, 6):
            array = _drop_opaque_alpha(array, 65535, name)
        return _from_array(array, 65535.0), ImageInfo(name, array.shape[-1] if array.ndim == 3 else 1, 16)
    try:
        array, mode, bits = _decode(path, name)
    except NasdipError:
        raise
    except MemoryError:
        raise NasdipError(f"{name}: not enough memory to read this image; downscale or crop it first") from None
    except UnidentifiedImageError:
        raise NasdipError(f"{name}: not an image file nasdip can read (PNG, JPEG, BMP, TIFF, ...)") from None
    except Image.DecompressionBombError as error:
        found = re.search(r"\((\d+) pixels\)", str(error))
        raise _too_large(name, int(found.group(1)) if found else None, limit or 0) from None
    except OSError as error:
        raise NasdipError(f"{name}: cannot read image ({error.strerror or error})") from None
    except Exception as error:  # Pillow's decoders raise many types for damaged files; the file is at fault
        raise NasdipError(f"{name}: cannot read image, the file looks damaged ({type(error).__name__}: {error})") from None
    if bits == 16:
        return _from_array(array, 65535.0), ImageInfo(name, 1, 16)
    if mode in ("LA", "RGBA"):
        array = _drop_opaque_alpha(array, 255, name)
    channels = 1 if array.ndim == 2 or array.shape[-1] == 1 else 3
    return _from_array(array, 255.0), ImageInfo(name, channels, 8)


def _decode(path: Path, name: str) -> tuple[np.ndarray, str, int]:
    """Pixels of an image file through Pillow, turned as its EXIF orientation says: ``(array, mode of the array,
    bits)``; grey, RGB, LA or RGBA. Pillow's warning about images above its pixel limit is silenced: nasdip's own
    limit (:func:`_pixel_limit`) refuses the file in one line, or it is read."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as opened:
            opened.load()
            ImageOps.exif_transpose(opened, in_place=True)  # no copy; nothing happens without an orientation tag
            return _pixels(opened, name)


def _pixels(image: Image.Image, name: str) -> tuple[np.ndarray, str, int]:
    """The pixels of a loaded Pillow image (see :func:`_decode`)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.int64)
        if array.min() < 0 or array.max() > 65535:
            raise NasdipError(f"{name}: integer pixels outside 0-65535 are not supported; save it as 8- or 16-bit")
        return array, "L", 16
    if mode == "F":
        raise NasdipError(f"{name}: floating-point images are not supported; save it as an 8- or 16-bit PNG")
    if mode in ("1", "L"):
        converted = image.convert("L")
    elif mode == "LA":
        converted = image
    elif mode == "P":
        grey, alpha = _palette_is_grey(image), "transparency" in image.info
        converted = image.convert(("LA" if grey else "RGBA") if alpha else ("L" if grey else "RGB"))
    elif mode in ("RGBA", "PA"):
        converted = image.convert("RGBA")
    else:
        converted = image.convert("RGB")
    return np.asarray(converted), converted.mode, 8


def _palette_is_grey(image: Image.Image) -> bool:
    palette = image.getpalette() or []
    triples = [palette[i : i + 3] for i in range(0, len(palette), 3)]
    return all(r == g == b for r, g, b in triples)


def to_array(tensor: torch.Tensor, bits: int = 8) -> np.ndarray:
    """``(1, C, H, W)`` or ``(C, H, W)`` tensor in [0, 1] -> ``(H, W)`` or ``(H, W, C)`` uint8/uint16 array."""
    if tensor.dim() == 4:
        tensor = tensor[0]
    maximum = 255 if bits == 8 else 65535
    array = (tensor.detach().float().clamp(0, 1) * maximum).round().cpu().numpy().transpose(1, 2, 0)
    array = array.astype(np.uint8 if bits == 8 else np.uint16)
    return array[:, :, 0] if array.shape[-1] == 1 else array


def save_image(path: str | Path, tensor: torch.Tensor, bits: int = 8, rescue: bool = False) -> Path:
    """Write a tensor image atomically; 16-bit output requires a ``.png`` path.

    With ``rescue``, an image whose ``path`` cannot be written is saved in :func:`nasdip.io.files.rescue_dir`
    instead (said on stderr); the path written is returned.
    """
    path = Path(path)
    array = to_array(tensor, bits)
    if bits == 16 and path.suffix.lower() != ".png":
        raise NasdipError(f"{path}: 16-bit images can only be written as PNG")

    def write(temporary: Path) -> None:
        if bits == 16:
            write_png16(temporary, array)
        else:
            Image.fromarray(array).save(temporary, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))

    return (atomic_write_or_rescue if rescue else atomic_write)(path, write)


#: File suffixes :func:`list_images` picks up.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def list_images(directory: Path) -> list[Path]:
    """The image files directly inside ``directory``, sorted by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NasdipError(f"{directory}: not a directory of images")
    images = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not images:
        raise NasdipError(f"{directory}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    return images
