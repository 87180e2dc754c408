"""The DIP fitting engine: fit a freshly initialised network to one observation through a task's operator.

Each step feeds the fixed noise input plus fresh jitter (``reg_noise``), takes an Adam step on the task's loss
and, optionally, updates an exponential average of the output. Nothing is read back to the host between
synchronisation points (every ``sync_every`` steps): losses and scores accumulate in device buffers. At each
synchronisation the divergence guard checks the losses since the last one; if any is not finite, or the loss
rose by more than ``guard_db`` decibels, parameters, optimiser state and the output average are rolled back to
the last good synchronisation (a kept copy on the device).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import torch

from nasdip.errors import NasdipError

if TYPE_CHECKING:
    from nasdip.arch import Arch
    from nasdip.events import RunInfo
    from nasdip.nn.config import NetConfig
    from nasdip.task import Problem, Task

#: A callback sees ``(step, metrics)`` at every synchronisation; returning True stops the fit early.
Callback = Callable[[int, Mapping[str, float]], "bool | None"]

PRECISIONS = ("auto", "fp32", "bf16")
_BUILD_LOCK = threading.Lock()


@dataclass(frozen=True)
class FitSettings:
    """Hyper-parameters of one DIP fit (tasks provide the paper's values).

    Attributes:
        iters: optimisation steps.
        lr: Adam learning rate.
        reg_noise: standard deviation of the jitter added to the noise input at every step.
        input_scale: the noise input is uniform in [0, input_scale).
        ema: weight of the exponential average of the output (0.99 for denoising), or ``None``.
        guard_db: roll back when the loss rises by more than this many dB between synchronisations.
        sync_every: steps between host synchronisations (guard, progress, early stopping).
        seed: seeds network initialisation, the noise input and the jitter.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda[:N]``.
        precision: ``fp32``, ``bf16`` (autocast and channels-last; output head, loss and grouped convolutions on
            CPUs stay fp32) or ``auto`` (bf16 where the device computes it natively, see :func:`resolve_precision`).
    """

    iters: int = 2000
    lr: float = 0.01
    reg_noise: float = 0.03
    input_scale: float = 0.1
    ema: float | None = None
    guard_db: float = 5.0
    sync_every: int = 25
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.iters < 1:
            raise NasdipError(f"iters must be at least 1, got {self.iters}")
        if self.precision not in PRECISIONS:
            raise NasdipError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.ema is not None and not 0.0 <= self.ema < 1.0:
            raise NasdipError(f"ema must be in [0, 1), got {self.ema}")

    def replace(self, **changes: Any) -> FitSettings:
        return replace(self, **{key: value for key, value in changes.items() if value is not None})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FitResult:
    """The outcome of one fit.

    ``metrics`` holds ``psnr`` and ``ssim`` of the final output when ground truth is known, ``psnr_max`` (the best
    PSNR over all iterations: an oracle, for comparison with published numbers) and ``psnr_max_step``.
    """

    output: torch.Tensor
    metrics: dict[str, float]
    losses: list[float]
    scores: list[float]
    iters: int
    seconds: float
    rollbacks: int
    settings: FitSettings
    device: str
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    precision: str = "fp32"


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 natively (CPUs with AVX-512 BF16/AMX through oneDNN, GPUs from Ampere)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` where the device supports it natively (2-3× faster per step on CPU; final PSNR of
    ``dip-skip`` within 0.1 dB of fp32 on average: benchmarks/speed.py and the README), else ``fp32``."""
    if name == "auto":
        return "bf16" if bf16_supported(device) else "fp32"
    return name


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; a CUDA request without CUDA is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise NasdipError(f"device {name!r} requested but CUDA is not available; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise NasdipError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None


class Snapshot:
    """Device-side copy of parameters, optimiser state and output average (refreshed in place)."""

    def __init__(self, params: list[torch.Tensor], optimizer: torch.optim.Optimizer) -> None:
        self.params = params
        self.optimizer = optimizer
        self.saved_params = [p.detach().clone() for p in params]
        self.saved_state: list[dict[str, Any]] = [{} for _ in params]
        self.average: torch.Tensor | None = None

    def save(self, average: torch.Tensor | None) -> None:
        with torch.no_grad():
            for saved, live in zip(self.saved_params, self.params, strict=True):
                saved.copy_(live)
            for kept, param in zip(self.saved_state, self.params, strict=True):
                for key, value in self.optimizer.state.get(param, {}).items():
                    if torch.is_tensor(value) and key in kept:
                        kept[key].copy_(value)
                    else:
                        kept[key] = value.detach().clone() if torch.is_tensor(value) else value
            if average is not None:
                self.average = average.clone() if self.average is None else self.average.copy_(average)

    def restore(self, average: torch.Tensor | None) -> None:
        with torch.no_grad():
            for saved, live in zip(self.saved_params, self.params, strict=True):
                live.copy_(saved)
            for kept, param in zip(self.saved_state, self.params, strict=True):
                self.optimizer.state[param] = {k: v.clone() if torch.is_tensor(v) else v for k, v in kept.items()}
            if average is not None and self.average is not None:
                average.copy_(self.average)


def fit(task: Task, problem: Problem, arch: Arch, config: NetConfig, settings: FitSettings,
        run: RunInfo | None = None, callbacks: tuple[Callback, ...] = ()) -> FitResult:
    """Fit a network of architecture ``arch`` to ``problem`` and return the restoration."""
    from nasdip.plugin_manager import notify

    device = resolve_device(settings.device)
    with _BUILD_LOCK, torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(settings.seed)  # initialisation is seeded, thread-safe, and leaves global RNGs alone
        net = task.build_model(arch, config, problem).to(device)
    problem = problem.to(device)
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    height, width = problem.output_size
    input_depth = getattr(net, "input_depth", config.input_depth)
    z = torch.rand(1, input_depth, height, width, generator=generator, device=device) * settings.input_scale
    precision = resolve_precision(settings.precision, device)
    fast = precision == "bf16"
    if fast:
        net = net.to(memory_format=torch.channels_last)
        z = z.contiguous(memory_format=torch.channels_last)
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=settings.lr)
    snapshot = Snapshot(params, optimizer)
    losses = torch.full((settings.iters,), math.nan, device=device)
    scores = torch.full((settings.iters,), math.nan, device=device)
    clean = problem.clean
    average: torch.Tensor | None = None
    guard_factor = 10.0 ** (settings.guard_db / 10.0)
    last_good = math.inf
    rollbacks = 0
    checked = 0
    start = time.perf_counter()
    step = 0
    while step < settings.iters:
        jitter = torch.randn(z.shape, generator=generator, device=device) if settings.reg_noise else None
        z_in = z + settings.reg_noise * jitter if jitter is not None else z
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
            output = net(z_in)
        output = output.float()
        loss = task.loss(output, problem)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            current = output.detach()
            if settings.ema is not None:
                if average is None:
                    average = current.clone()
                else:
                    average.mul_(settings.ema).add_(current, alpha=1.0 - settings.ema)
                current = average
            losses[step] = loss.detach()
            if clean is not None:
                scores[step] = task.score(task.render(current, problem), clean)
        step += 1
        if step % settings.sync_every and step != settings.iters:
            continue
        window = losses[checked:step].tolist()  # the only host synchronisation
        checked = step
        if not all(map(math.isfinite, window)) or window[-1] > last_good * guard_factor:
            snapshot.restore(average)
            rollbacks += 1
            continue
        last_good = window[-1]
        snapshot.save(average)
        metrics = {"loss": window[-1]}
        if clean is not None:
            metrics["psnr"] = float(scores[step - 1])
        if run is not None:
            notify("fit_progress", run=run, step=step, metrics=metrics)
        if any(callback(step, metrics) for callback in callbacks):
            break
    with torch.no_grad():
        if average is not None:
            final = average
        else:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
                final = net(z).float()
        final, extras = task.finalize(final, problem)
    seconds = time.perf_counter() - start
    result_metrics: dict[str, float] = {}
    score_list = scores[:step].tolist()
    if clean is not None:
        result_metrics = task.metrics(final, clean)
        # Oracle: the best PSNR over every iterate, the final (jitter-free) output included.
        candidates = [(value, index + 1) for index, value in enumerate(score_list) if math.isfinite(value)]
        candidates.append((result_metrics["psnr"], step))
        result_metrics["psnr_max"], result_metrics["psnr_max_step"] = max(candidates)
    result = FitResult(
        output=final.detach().float().cpu().contiguous(),
        metrics=result_metrics,
        losses=losses[:step].tolist(),
        scores=score_list,
        iters=step,
        seconds=seconds,
        rollbacks=rollbacks,
        settings=settings,
        device=str(device),
        extras={name: image.detach().float().cpu() for name, image in extras.items()},
        precision=precision,
    )
    if run is not None:
        notify("fit_finished", run=run, result=result)
    return result
