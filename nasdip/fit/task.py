"""The task interface: a degradation, its fitting objective, default hyper-parameters, metrics and options.

A task turns a clean image into an observation (:meth:`Task.degrade`, for benchmarks and searches) or wraps an
observation a user already has (:meth:`Task.observe`), and defines how a network output is compared with it
(:meth:`Task.loss`, through the task's forward operator) and how a restoration is scored. Tasks that fit more
than one network override :meth:`Task.build_model`, :meth:`Task.render` and :meth:`Task.finalize`; tasks that
train on a data set rather than one image override :meth:`Task.fit`, the only method the core calls to restore.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from nasdip.arch.build import build_network
from nasdip.errors import NasdipError, UsageError
from nasdip.fit.engine import fit as fit_network
from nasdip.ops.metrics import SSIM_WINDOW, psnr, ssim
from nasdip.options import Option, resolve_values

if TYPE_CHECKING:
    from nasdip.arch.document import Arch
    from nasdip.fit.problem import Problem
    from nasdip.fit.request import FitRequest
    from nasdip.fit.result import FitResult
    from nasdip.fit.settings import FitSettings
    from nasdip.io.images import ImageInfo
    from nasdip.nn.config import NetConfig


def weighted_mean_square(residual: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of ``residual^2`` over the pixels where ``weight`` is 1 (``weight`` broadcasts over channels)."""
    return (weight * residual.square()).sum() / (weight.sum() * residual.shape[1]).clamp_min(1)


class Task(ABC):
    """Base class of restoration tasks; subclasses set ``name``, ``help``, ``options`` and the abstract methods."""

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    #: What the task's first baseline is called in tables (``bicubic``, ``noisy``, ``masked`` ...).
    baseline_name: ClassVar[str] = "input"
    #: Smallest restoration side the task's own operations need besides its metrics (a kernel, a patch); the
    #: task's minimum size is :meth:`min_output_size`.
    min_size: ClassVar[int] = 1
    #: The architecture used when the user names none (``None``: the user must name one).
    default_arch: ClassVar[str | None] = None
    #: Architectures a benchmark compares when the user names none (default: :attr:`default_arch`).
    reference_archs: ClassVar[tuple[str, ...]] = ()
    #: The key of the headline metric that :meth:`score` computes (``<score_name>_max`` is its oracle maximum).
    score_name: ClassVar[str] = "psnr"
    #: The unit of the score, for tables and plots.
    score_unit: ClassVar[str] = "dB"
    #: Whether several fits of one architecture may share one packed network (:mod:`nasdip.fit.packed`). Set it
    #: to False when :meth:`build_model` returns more than one plain network (fits then run one by one); tasks
    #: that override :meth:`fit` are never packed.
    packable: ClassVar[bool] = True
    #: The stopping rule ``restore`` uses when the user chooses none (:meth:`restore_settings`): ``auto`` where it
    #: was measured to return a better restoration than the fixed count for the same cap (denoising), else
    #: ``iters`` (the published protocol). Searches and benchmarks keep :meth:`settings`.
    restore_stop: ClassVar[str] = "iters"
    #: The registered reward that ranks this task's candidates on the observation alone (no clean image), used by
    #: ``restore --arch auto`` and by ``search --observed`` when no ``--reward`` is given (``holdout``: held-out
    #: pixels; ``cross-scale``, ``recorrupted``: :meth:`self_validation_problem`); ``None``: the task declares none.
    no_reference_reward: ClassVar[str | None] = None
    #: The self-validation reward whose problems :meth:`self_validation_problem` builds (``cross-scale`` for
    #: super-resolution, ``recorrupted`` for denoising); another self-validation reward is refused for the task.
    self_validation: ClassVar[str | None] = None
    #: Presets (or architecture files) ``restore --arch auto`` fits on the observation beside the candidates its
    #: score picked, in their places (a task's proven networks: each is chosen only where it ranks best).
    auto_include: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **values: Any) -> None:
        self.values = resolve_values(f"task {self.name!r}", self.options, values)

    # -- what a task defines -----------------------------------------------------------------------------

    @abstractmethod
    def settings(self) -> FitSettings:
        """The paper's fitting hyper-parameters for this task (and its options)."""

    def restore_settings(self, settings: FitSettings | None = None) -> FitSettings:
        """The settings a restoration fits with when no stopping rule is chosen: ``settings`` (default: the
        task's own) stopping by :attr:`restore_stop`, where the cap leaves the detector room to fire (at least its
        window plus its patience); otherwise (or when ``settings`` stop by a detector already) unchanged."""
        settings = self.settings() if settings is None else settings
        room = settings.iters >= settings.stop_window + settings.stop_patience
        if self.restore_stop == "iters" or settings.stop != "iters" or not room:
            return settings
        return settings.with_stopping(stop=self.restore_stop)

    @abstractmethod
    def degrade(self, clean: torch.Tensor, generator: torch.Generator, name: str = "image") -> Problem:
        """Synthesise the observation from a clean image (the paper's protocol), keeping ``clean`` as truth."""

    @abstractmethod
    def observe(self, observation: torch.Tensor, info: ImageInfo | None = None, name: str = "image") -> Problem:
        """Wrap an observation a user already has (a low-resolution, noisy or masked photo)."""

    def operator(self, output: torch.Tensor, problem: Problem) -> torch.Tensor:
        """The forward operator ``A``: a network output mapped into observation space (identity by default)."""
        return output

    def residual(self, output: torch.Tensor, problem: Problem) -> torch.Tensor:
        """Per-pixel misfit in observation space, ``A(output) - observation`` (differentiable search splits its
        pixels between the weight and architecture steps)."""
        return self.operator(output, problem) - problem.observation

    def observed(self, problem: Problem) -> torch.Tensor | None:
        """``(1, 1, h, w)`` mask of the observation pixels that carry information (1) — the known pixels for
        inpainting — or ``None`` when all do (default). Held-out pixels are drawn among them."""
        return None

    def loss(self, output: torch.Tensor, problem: Problem, weight: torch.Tensor | None = None) -> torch.Tensor:
        """The fitting loss: ``mean(residual^2)`` over the pixels where ``weight`` is 1 (all when ``None``;
        the engine passes the pixels not held out), plus :meth:`regularizer`."""
        residual = self.residual(output, problem)
        data = residual.square().mean() if weight is None else weighted_mean_square(residual, weight)
        return data + self.regularizer(output, problem)

    def regularizer(self, output: torch.Tensor, problem: Problem) -> torch.Tensor | float:
        """A prior term added to the loss (e.g. total variation of a transmission map); default 0."""
        return 0.0

    def heldout_error(self, output: torch.Tensor, problem: Problem, heldout: torch.Tensor) -> torch.Tensor:
        """Mean squared residual over the held-out pixels (``heldout`` is a ``(1, 1, h, w)`` 0/1 mask)."""
        return weighted_mean_square(self.residual(output, problem), heldout)

    def self_validation_problem(self, problem: Problem) -> Problem:
        """A problem whose ground truth is known from ``problem``'s observation alone, for rewards that fit it
        instead (``Reward.self_validation``, the one named by :attr:`self_validation`; super-resolution: the
        observation downscaled once more, its clean image the observation). Default: refused, the task has none."""
        raise NasdipError(f"task {self.name!r} has no self-validation problem; choose another reward")

    def score(self, restored: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """The task's headline metric (:attr:`score_name`; PSNR in dB by default), as a tensor on the device
        (no host synchronisation)."""
        return psnr(restored, clean)[0]

    def metrics(self, restored: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
        """Every reported metric of a restoration against its ground truth (:attr:`score_name` included)."""
        return {"psnr": float(self.score(restored, clean)), "ssim": float(ssim(restored, clean)[0])}

    def baseline(self, problem: Problem) -> torch.Tensor:
        """The naive restoration to compare with, at the output size (default: the observation itself)."""
        return problem.observation

    def prepare_clean(self, clean: torch.Tensor) -> torch.Tensor:
        """Crop or otherwise prepare a clean image before :meth:`degrade` (default: unchanged)."""
        return clean

    def build_model(self, arch: Arch, config: NetConfig, problem: Problem) -> torch.nn.Module:
        """The module the engine fits: noise ``(1, input_depth, H, W)`` -> output (default: one network of
        ``arch`` with the problem's channel count). Models with several networks expose ``input_depth`` (the
        channels of the noise they take) and pack their outputs into channels that :meth:`render` reads."""
        return build_network(arch, config.replace(out_channels=problem.channels))

    def render(self, output: torch.Tensor, problem: Problem) -> torch.Tensor:
        """The restored image held in a model output (default: the output itself); scored every step."""
        return output

    def finalize(self, output: torch.Tensor, problem: Problem) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The final restored image and any extra images to write (e.g. a transmission map)."""
        return self.render(output, problem), {}

    def fit(self, request: FitRequest) -> FitResult:
        """Restore ``request.problem`` with a network of ``request.arch`` (default: the DIP fitting engine,
        :func:`nasdip.fit.engine.fit`)."""
        return fit_network(request)

    # -- helpers ---------------------------------------------------------------------------------------

    def arch_spec(self, given: str | None) -> str:
        """``given`` or the task's default architecture; a task without one needs ``--arch``."""
        if given is not None:
            return given
        if self.default_arch is None:
            raise UsageError(f"task {self.name!r} has no default architecture; choose one with --arch")
        return self.default_arch

    def reference_specs(self) -> tuple[str, ...]:
        """The architectures a benchmark compares by default."""
        return self.reference_archs or (self.arch_spec(None),)

    # -- the minimum size ----------------------------------------------------------------------------------

    def metric_border(self) -> int:
        """Pixels the metrics shave off each border of a restoration before scoring it (default 0)."""
        return 0

    def min_output_size(self) -> int:
        """The task's one minimum-size rule: the smallest side of a restoration it fits and scores.

        The network adds no bound: it pads any input up to the size its depth needs (a multiple of ``2**depth``,
        :class:`nasdip.nn.padded.PaddedNet`) and crops the output back. The metrics do: SSIM's 11x11 window
        (:data:`nasdip.ops.metrics.SSIM_WINDOW`) must fit after :meth:`metric_border` pixels are shaved off
        each side. :attr:`min_size` adds the task's own bound; tasks whose metrics need other sizes override this.
        """
        return max(self.min_size, SSIM_WINDOW + 2 * self.metric_border())

    def min_input_size(self, observed: bool = False) -> int:
        """The smallest side of an image handed to :meth:`degrade` (a clean image) or, with ``observed``, to
        :meth:`observe` (an observation), following from :meth:`min_output_size` (default: the same for both;
        tasks whose observation is smaller than their restoration override it)."""
        return self.min_output_size()

    def size_reason(self) -> str:
        """Why :meth:`min_output_size` is what it is, for messages."""
        smallest, border = self.min_output_size(), self.metric_border()
        if smallest > SSIM_WINDOW + 2 * border:
            return f"its restorations need at least {smallest}x{smallest} pixels"
        shaved = f" after shaving {border} border pixels" if border else ""
        return f"SSIM's {SSIM_WINDOW}x{SSIM_WINDOW} window must fit in the restoration{shaved}"

    def check_size(self, image: torch.Tensor, what: str = "image", observed: bool = False) -> None:
        """Refuse, before any fitting, an image too small to restore and score: a clean image (or, with
        ``observed``, an observation) smaller than :meth:`min_input_size`, naming the smallest size that works."""
        height, width = image.shape[-2:]
        smallest = self.min_input_size(observed)
        if min(height, width) < smallest:
            raise NasdipError(f"{what} is {width}x{height}; task {self.name!r} needs at least {smallest}x{smallest} "
                              f"pixels ({self.size_reason()}); use a larger image")

    def describe(self) -> str:
        """``name (option=value, ...)`` for tables and logs."""
        values = ", ".join(f"{key}={value}" for key, value in self.values.items())
        return f"{self.name} ({values})" if values else self.name
