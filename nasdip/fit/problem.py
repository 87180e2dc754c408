"""One restoration to perform (:class:`Problem`): the observation, the output size, the ground truth when known.

A problem travels as plain tensors and values (:meth:`Problem.to_dict`) to executors in other processes and into
a search's run directory. A user's ground truth (``--gt``) must match the restoration it scores exactly: it is
never cropped to fit (:func:`check_ground_truth`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasdip.errors import NasdipError

if TYPE_CHECKING:
    import torch

    from nasdip.io.images import ImageInfo


@dataclass
class Problem:
    """One restoration to perform.

    Attributes:
        observation: what the fit must explain, ``(1, C, h, w)`` in [0, 1] (a low-resolution, noisy or masked image).
        output_size: ``(H, W)`` of the restored image.
        clean: the ground truth at ``output_size`` when known (benchmarks, searches, ``--gt``).
        name: a label for tables and logs.
        info: the input file's mode and bit depth (outputs are written alike).
        extras: task-specific tensors (an inpainting mask, a transmission map); moved to the device with the rest
            and cropped with the image when it is restored in tiles (those at the output size).
    """

    observation: torch.Tensor
    output_size: tuple[int, int]
    clean: torch.Tensor | None = None
    name: str = "image"
    info: ImageInfo | None = None
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        return self.observation.shape[1]

    def to(self, device: torch.device | str) -> Problem:
        """A copy with every tensor on ``device``."""

        def move(tensor):
            return None if tensor is None else tensor.to(device)

        return replace(self, observation=move(self.observation), clean=move(self.clean),
                       extras={key: move(value) for key, value in self.extras.items()})

    def to_dict(self) -> dict[str, Any]:
        """The problem as plain tensors and values (for ``torch.save`` and pickling); ``info`` is not kept. Each
        tensor is copied into storage of its own: a crop is a view of its whole photo, which would be saved (and
        sent to every worker) with it."""

        def own(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor.clone()

        return {"observation": own(self.observation), "output_size": list(self.output_size), "clean": own(self.clean),
                "name": self.name, "extras": {key: own(value) for key, value in self.extras.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        """The inverse of :meth:`to_dict` (run directories written before masks moved into ``extras``
        included)."""
        extras = dict(data.get("extras", {}))
        if data.get("mask") is not None:
            extras.setdefault("mask", data["mask"])
        return cls(data["observation"], tuple(data["output_size"]), clean=data["clean"], name=data["name"],
                   extras=extras)


def check_ground_truth(clean: torch.Tensor, problem: Problem, source: str | Path) -> None:
    """Refuse, in one line naming ``source`` (the file), a ground truth whose channels or size differ from the restoration's.

    The restoration has the observation's channels and ``problem.output_size`` (for super-resolution, the image
    times the scale); a ground truth of any other size would be scored after a silent crop or not at all.
    """
    name = str(source)
    if clean.shape[1] != problem.channels:
        raise NasdipError(f"{name}: has {clean.shape[1]} channels but the image has {problem.channels}")
    height, width = problem.output_size
    if tuple(clean.shape[-2:]) != (height, width):
        raise NasdipError(
            f"{name}: ground truth is {clean.shape[-1]}x{clean.shape[-2]} but the restoration is {width}x{height}; "
            f"give the ground truth at exactly that size"
        )
