"""Packed fits: several independent DIP fits of one architecture computed as one network.

``K`` fits (``K`` images, or ``K`` seeds of one image, or both) of the same architecture at the same size share
every operator of one packed network (:mod:`nasdip.nn.packed`) and one Adam step (:mod:`nasdip.fit.packed_adam`):
small fits are bound by per-operator overhead, which packing pays once instead of ``K`` times. Each member keeps
everything else of its own fit (:class:`nasdip.fit.tracker.FitTracker`): its seed's initialisation, noise input
and jitter, held-out pixels, output average, divergence guard, stopping rule, callbacks and run hooks. A member
equals its separate fit to float precision: the packed operators compute the same sums in another order.

Per member: a member whose loss explodes rolls back alone (its parameters, Adam moments and step count); a
member whose detector or callback stops it is frozen and keeps its selected output while the others go on; the
pack ends when every member has stopped or reached ``iters``. Its wall time is shared equally by its members
(``FitResult.seconds``; ``FitResult.packed`` says how many shared it).

:func:`fit_many` is the entry point: it packs what can be packed (requests of one task object whose ``packable``
is true and whose ``fit`` is the engine's, one architecture and network configuration, problems of one output
size and channel count, settings that differ only in the seed, a model of known layers) and fits everything else
one by one with ``task.fit``, exactly as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import torch

from nasdip.errors import NasdipError
from nasdip.fit.device import resolve_precision
from nasdip.fit.guard import DivergenceGuard
from nasdip.fit.packed_adam import MemberSnapshot, PackedAdam
from nasdip.fit.request import FitRequest
from nasdip.fit.result import FitResult
from nasdip.fit.task import Task
from nasdip.fit.tracker import FitTracker, build_seeded
from nasdip.nn.packed import NotPackable, pack_networks

#: Most fits packed into one network by default (memory grows with each).
MAX_MEMBERS = 8
#: Packing pays while a pack stays small: members x output pixels x network width at most this. Measured with
#: ``benchmarks/packed.py`` on a 2-core CPU: at 64x64, width 16 packs of up to 8 gain 1.3-1.8x; at 128x128,
#: width 32 a pack of 2 gains 1.05-1.2x and packs of 4 or 8 run slower than the fits one after another.
PACK_WORK = 2**20


class PackedMember(FitTracker):
    """One member of a packed fit: its own bookkeeping; the network and optimiser belong to the pack."""

    def __init__(self, pack: PackedFitter, index: int, request: FitRequest, precision: str, depth: int) -> None:
        super().__init__(request, precision, depth)
        self.pack, self.index = pack, index
        self.running = True

    def clean_output(self) -> torch.Tensor:
        return self.pack.clean_outputs()[self.index]


class PackedFitter:
    """``K`` fits of one architecture in progress as one packed network."""

    def __init__(self, requests: Sequence[FitRequest]) -> None:
        check_packable_fits(requests)
        first = requests[0]
        device = first.device
        requests = [request.replace(device=device) for request in requests]  # one device, resolved once
        self.task, self.settings, self.device = first.task, first.settings, device
        self.precision = resolve_precision(first.settings.precision, device, first.step_work)
        self.fast = self.precision == "bf16"
        nets = [build_seeded(request) for request in requests]
        depth = getattr(nets[0], "input_depth", first.config.input_depth)
        net = pack_networks(nets)
        self.members = [PackedMember(self, index, request, self.precision, depth)
                        for index, request in enumerate(requests)]
        if self.fast:
            net = net.to(memory_format=torch.channels_last)
        self.net = net
        self.optimizer = PackedAdam([p for p in net.parameters() if p.requires_grad], len(requests),
                                    first.settings.lr)
        for member in self.members:
            member.guard = DivergenceGuard(MemberSnapshot(self.optimizer, member.index, member.average),
                                           first.settings.guard_db)
        self.steps = 0
        self._clean: list[torch.Tensor] | None = None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The packed network on the members' inputs concatenated along the channels: ``(1, K*C, H, W)``."""
        if self.fast:
            z = z.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.fast):
            return self.net(z).float()

    def step(self) -> None:
        """One optimisation step of every running member (stopped members are carried along, frozen)."""
        z = torch.cat([member.jittered() if member.running else member.z for member in self.members], dim=1)
        outputs = self.forward(z).chunk(len(self.members), dim=1)
        losses = {member.index: member.loss(outputs[member.index]) for member in self.members if member.running}
        self.optimizer.zero_grad()
        sum(losses.values()).backward()
        self.optimizer.step()
        for index, loss in losses.items():
            self.members[index].record(outputs[index], loss)
        self.steps += 1

    def unfinished(self) -> bool:
        """Whether some member still runs and has steps left."""
        return self.steps < self.settings.iters and any(member.running for member in self.members)

    def due(self) -> bool:
        """Whether this step is a synchronisation point (running members have all taken :attr:`steps` steps)."""
        return self.steps % self.settings.sync_every == 0 or self.steps == self.settings.iters

    def synchronise(self) -> None:
        """Each running member's synchronisation (guard, progress, stopping rule, callbacks); a member that asks
        to stop is frozen."""
        for member in self.members:
            if member.running and member.synchronise():
                member.running = False
                self.optimizer.deactivate(member.index)

    @torch.no_grad()
    def clean_outputs(self) -> list[torch.Tensor]:
        """Every member's output on its jitter-free input (computed once, after the last step)."""
        if self._clean is None:
            z = torch.cat([member.z for member in self.members], dim=1)
            self._clean = list(self.forward(z).chunk(len(self.members), dim=1))
        return self._clean

    def results(self, start: float) -> list[FitResult | Exception]:
        """Each member's result, or the error that left it without one; a :class:`nasdip.errors.NasdipError`
        (a fit that diverged at every check) propagates, as from a lone fit."""
        seconds = time.perf_counter() - start
        outcomes: list[FitResult | Exception] = []
        for member in self.members:
            try:
                result = member.result(time.perf_counter())
            except NasdipError:
                raise
            except Exception as error:  # one member's failure must not lose the others
                outcomes.append(error)
                continue
            result.seconds, result.packed = seconds / len(self.members), len(self.members)
            if member.run is not None:
                member.run.emit("fit_finished", result=result)
            outcomes.append(result)
        return outcomes


def check_packable_fits(requests: Sequence[FitRequest]) -> None:
    """Raise :class:`NotPackable` unless these fits can share one packed network."""
    if not requests:
        raise ValueError("packing needs at least one fit")
    task = requests[0].task
    if not can_pack(task):
        raise NotPackable(f"task {task.name!r} fits its own way and is not packed")
    if len({group_key(request) for request in requests}) > 1:
        raise NotPackable("the fits differ in task, architecture, network, device, output size, channels or in "
                          "settings other than the seed")


def can_pack(task: Task) -> bool:
    """Whether the task lets the engine fit it (its ``fit`` is the engine's) and allows packing."""
    return bool(getattr(task, "packable", False)) and getattr(type(task), "fit", None) is Task.fit


def members_that_pay(request: FitRequest) -> int:
    """Most fits of the request's size worth packing together at its width (:data:`PACK_WORK`)."""
    return max(1, PACK_WORK // request.step_work)


def group_key(request: FitRequest) -> tuple:
    """Fits with equal keys can be packed together: one task object, architecture, network configuration and
    device, problems of one output size and channel count, settings equal but for the seed."""
    problem = request.problem
    return (id(request.task), request.arch.key, request.config, str(request.device), tuple(problem.output_size),
            problem.channels, replace(request.settings, seed=0))


def fit_packed(requests: Sequence[FitRequest]) -> list[FitResult | Exception]:
    """Fit every request at once in one packed network (raises :class:`NotPackable` when they cannot be packed);
    per request a result, or the error of a member that has none."""
    fitter = PackedFitter(requests)
    start = time.perf_counter()
    while fitter.unfinished():
        fitter.step()
        if fitter.due():
            fitter.synchronise()
    return fitter.results(start)


def fit_many(requests: Sequence[FitRequest], pack: bool = True, max_members: int = MAX_MEMBERS,
             on_start: Callable[[Sequence[int]], None] | None = None) -> list[FitResult | Exception]:
    """Fit every request: packed in groups of at most ``max_members`` (and :func:`members_that_pay`) where possible
    (``pack``), else one by one with ``task.fit``; ``on_start`` is told the indices of each pack or single fit
    before it starts. Returns, in order, a result or the error of each fit (a :class:`nasdip.errors.NasdipError`
    propagates)."""
    outcomes: list[FitResult | Exception | None] = [None] * len(requests)
    groups: dict[tuple, list[int]] = {}
    for index, request in enumerate(requests):
        key = group_key(request) if pack and can_pack(request.task) else (index,)
        groups.setdefault(key, []).append(index)
    for indices in groups.values():
        size = max(1, min(max_members, members_that_pay(requests[indices[0]])))
        for start in range(0, len(indices), size):
            chunk = indices[start : start + size]
            if len(chunk) > 1:
                if on_start is not None:
                    on_start(chunk)
                try:
                    packed = fit_packed([requests[i] for i in chunk])
                except NotPackable:
                    packed = None
                if packed is not None:
                    for index, outcome in zip(chunk, packed, strict=True):
                        outcomes[index] = outcome
                    continue
            for index in chunk:
                if on_start is not None:
                    on_start([index])
                outcomes[index] = _fit_one(requests[index])
    return outcomes


def _fit_one(request: FitRequest) -> FitResult | Exception:
    try:
        return request.task.fit(request)
    except NasdipError:
        raise
    except Exception as error:  # one failing fit must not lose the others
        return error


def results_or_raise(outcomes: Sequence[FitResult | Exception]) -> list[FitResult]:
    """The results, or the first error among them raised."""
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
    return list(outcomes)
