"""Packed fits: several independent DIP fits of one architecture computed as one network.

``K`` fits (``K`` images, or ``K`` seeds of one image, or both) of the same architecture at the same size share
every operator of one packed network (:mod:`nasdip.nn.packed`) and one Adam step (:mod:`nasdip.packed_adam`):
small fits are bound by per-operator overhead, which packing pays once instead of ``K`` times. Each member keeps
everything else of its own fit (:class:`nasdip.fit.FitTracker`): its seed's initialisation, noise input and
jitter, held-out pixels, output average, divergence guard, stopping rule, callbacks and run hooks. A member
equals its separate fit to float precision: the packed operators compute the same sums in another order.

Per member: a member whose loss explodes rolls back alone (its parameters, Adam moments and step count); a
member whose detector or callback stops it is frozen and keeps its selected output while the others go on; the
pack ends when every member has stopped or reached ``iters``. Its wall time is shared equally by its members
(``FitResult.seconds``; ``FitResult.packed`` says how many shared it).

:func:`fit_many` is the entry point: it packs what can be packed (a task whose ``packable`` is true and whose
``fit`` is the engine's, problems of one output size and channel count, settings that differ only in the seed,
a model of known layers) and fits everything else one by one with ``task.fit``, exactly as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import torch

from nasdip.device import resolve_device, resolve_precision
from nasdip.fit import Callback, FitResult, FitSettings, FitTracker, build_seeded, heldout_mask, step_work
from nasdip.guard import DivergenceGuard
from nasdip.nn.packed import NotPackable, pack_networks
from nasdip.packed_adam import MemberSnapshot, PackedAdam
from nasdip.task import Problem, Task

#: Most fits packed into one network by default (memory grows with each).
MAX_MEMBERS = 8
#: Packing pays while a pack stays small: members x output pixels x network width at most this. Measured with
#: ``benchmarks/packed.py`` on a 2-core CPU: at 64x64, width 16 packs of up to 8 gain 1.3-1.8x; at 128x128,
#: width 32 a pack of 2 gains 1.05-1.2x and packs of 4 or 8 run slower than the fits one after another.
PACK_WORK = 2**20


class PackedMember(FitTracker):
    """One member of a packed fit: its own bookkeeping; the network and optimiser belong to the pack."""

    def __init__(self, pack: PackedFitter, index: int, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pack, self.index = pack, index
        self.running = True

    def clean_output(self) -> torch.Tensor:
        return self.pack.clean_outputs()[self.index]


class PackedFitter:
    """``K`` fits of one architecture in progress as one packed network."""

    def __init__(self, task: Task, problems: Sequence[Problem], arch, config, settings: Sequence[FitSettings],
                 runs: Sequence | None = None, callbacks: tuple[Callback, ...] = ()) -> None:
        check_packable_fits(task, problems, settings)
        first = settings[0]
        self.task, self.settings = task, first
        self.device = resolve_device(first.device)
        self.precision = resolve_precision(first.precision, self.device, step_work(problems[0], config))
        self.fast = self.precision == "bf16"
        nets = [build_seeded(task, problem, arch, config, s.seed, self.device) for problem, s in zip(problems, settings,
                                                                                                     strict=True)]
        depth = getattr(nets[0], "input_depth", config.input_depth)
        net = pack_networks(nets)
        runs = list(runs) if runs is not None else [None] * len(problems)
        self.members = [PackedMember(self, index, task, problem, s, self.device, self.precision, depth,
                                     heldout_mask(task, problem, s.holdout, s.seed), run, callbacks)
                        for index, (problem, s, run) in enumerate(zip(problems, settings, runs, strict=True))]
        if self.fast:
            net = net.to(memory_format=torch.channels_last)
        self.net = net
        self.optimizer = PackedAdam([p for p in net.parameters() if p.requires_grad], len(problems), first.lr)
        for member in self.members:
            member.guard = DivergenceGuard(MemberSnapshot(self.optimizer, member.index, member.average),
                                           first.guard_db)
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
        from nasdip.errors import NasdipError
        from nasdip.plugin_manager import notify

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
                notify("fit_finished", run=member.run, result=result)
            outcomes.append(result)
        return outcomes


def check_packable_fits(task: Task, problems: Sequence[Problem], settings: Sequence[FitSettings]) -> None:
    """Raise :class:`NotPackable` unless these fits can share one packed network."""
    if not can_pack(task):
        raise NotPackable(f"task {task.name!r} fits its own way and is not packed")
    if len(problems) != len(settings) or not problems:
        raise ValueError("one settings object per problem is needed")
    if len({pack_key(problem) for problem in problems}) > 1:
        raise NotPackable("the problems differ in output size or channels")
    if len({replace(s, seed=0) for s in settings}) > 1:
        raise NotPackable("the fits' settings differ in more than the seed")


def can_pack(task: Task) -> bool:
    """Whether the task lets the engine fit it (its ``fit`` is the engine's) and allows packing."""
    return bool(getattr(task, "packable", False)) and getattr(type(task), "fit", None) is Task.fit


def members_that_pay(problem: Problem, config) -> int:
    """Most fits of ``problem``'s size worth packing together at ``config``'s width (:data:`PACK_WORK`)."""
    height, width = problem.output_size
    return max(1, PACK_WORK // (height * width * config.width))


def pack_key(problem: Problem) -> tuple:
    """Problems with equal keys can be packed together."""
    return tuple(problem.output_size), problem.channels


def fit_packed(task: Task, problems: Sequence[Problem], arch, config, settings: Sequence[FitSettings],
               runs: Sequence | None = None, callbacks: tuple[Callback, ...] = ()) -> list[FitResult | Exception]:
    """Fit ``problems[k]`` with ``settings[k]`` for every ``k`` at once in one packed network (raises
    :class:`NotPackable` when they cannot be packed); per member a result, or the error of a member that has
    none."""
    fitter = PackedFitter(task, problems, arch, config, settings, runs, callbacks)
    start = time.perf_counter()
    while fitter.unfinished():
        fitter.step()
        if fitter.due():
            fitter.synchronise()
    return fitter.results(start)


def fit_many(task: Task, problems: Sequence[Problem], arch, config, settings: Sequence[FitSettings],
             runs: Sequence | None = None, callbacks: tuple[Callback, ...] = (), pack: bool = True,
             max_members: int = MAX_MEMBERS,
             on_start: Callable[[Sequence[int]], None] | None = None) -> list[FitResult | Exception]:
    """Fit every ``(problem, settings)`` pair with architecture ``arch``: packed in groups of at most
    ``max_members`` (and :func:`members_that_pay`) where possible (``pack``), else one by one with ``task.fit``;
    ``on_start`` is told the indices of each pack or single fit before it starts. Returns, in order, a result or the error of each fit (a
    :class:`nasdip.errors.NasdipError` propagates)."""
    runs = list(runs) if runs is not None else [None] * len(problems)
    outcomes: list[FitResult | Exception | None] = [None] * len(problems)
    groups: dict[tuple, list[int]] = {}
    if pack and can_pack(task):
        for index, (problem, s) in enumerate(zip(problems, settings, strict=True)):
            groups.setdefault((pack_key(problem), replace(s, seed=0)), []).append(index)
    else:
        groups = {(index,): [index] for index in range(len(problems))}
    for indices in groups.values():
        size = max(1, min(max_members, members_that_pay(problems[indices[0]], config)))
        for start in range(0, len(indices), size):
            chunk = indices[start : start + size]
            if len(chunk) > 1:
                if on_start is not None:
                    on_start(chunk)
                try:
                    packed = fit_packed(task, [problems[i] for i in chunk], arch, config, [settings[i] for i in chunk],
                                        [runs[i] for i in chunk], callbacks)
                except NotPackable:
                    packed = None
                if packed is not None:
                    for index, outcome in zip(chunk, packed, strict=True):
                        outcomes[index] = outcome
                    continue
            for index in chunk:
                if on_start is not None:
                    on_start([index])
                outcomes[index] = _fit_one(task, problems[index], arch, config, settings[index], runs[index], callbacks)
    return outcomes


def _fit_one(task: Task, problem: Problem, arch, config, settings: FitSettings, run, callbacks) -> FitResult | Exception:
    from nasdip.errors import NasdipError

    try:
        return task.fit(problem, arch, config, settings, run=run, callbacks=callbacks)
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
