"""The built-in input: a real photograph that ships with matplotlib (Grace Hopper, 512x600 RGB), and the
texture-rich regions of it that searches use by default."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nasdip.errors import NasdipError
from nasdip.io.images import ImageInfo, load_image

if TYPE_CHECKING:
    import torch

#: The built-in photo's name in tables, logs and output files.
BUILTIN_NAME = "grace_hopper"
#: Regions of the built-in photo (top, left) that searches use by default: texture-rich, unlike its background.
BUILTIN_REGIONS = {"builtin-face": (150, 190), "builtin-jacket": (430, 120)}


def builtin_photo() -> tuple[torch.Tensor, ImageInfo]:
    """The photograph and its :class:`ImageInfo` (matplotlib is imported only here, when it is needed)."""
    from matplotlib import cbook

    return load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def builtin_regions(side: int) -> list[tuple[str, torch.Tensor]]:
    """``side x side`` crops of the built-in photo at :data:`BUILTIN_REGIONS`, named (a region too close to an
    edge for ``side`` moves inwards; a side larger than the photo is refused)."""
    photo = builtin_photo()[0]
    height, width = photo.shape[-2:]
    if not 1 <= side <= min(height, width):
        raise NasdipError(f"the built-in photo is {width}x{height}: its square crops have sides of 1 to "
                          f"{min(height, width)} pixels, not {side}")
    crops = []
    for name, (top, left) in BUILTIN_REGIONS.items():
        top, left = min(top, height - side), min(left, width - side)
        crops.append((name, photo[..., top : top + side, left : left + side]))
    return crops
