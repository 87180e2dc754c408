"""The command line's option groups and parameter types: registry names, network and fitting options (steps,
learning rate, seed, device, precision, stopping), output folders, and the options plugins declare.

Commands that take ``--task`` (or ``--executor``) accept the options of every registered task (executor); each
plugin declares them as :class:`nasdip.options.Option`. After parsing, only the chosen plugin's options may have
been given. Float options must be finite numbers, and every numeric option has a range: steps and learning
rates an upper bound (:data:`nasdip.options.MAX_STEPS`, :data:`nasdip.options.MAX_LEARNING_RATE`), network widths
are multiples of 4 (:data:`nasdip.options.NETWORK_WIDTH`), and plugin options are checked against the range each
plugin declares once the plugin is chosen.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from nasdip import registry
from nasdip.errors import UsageError
from nasdip.fit.settings import PRECISIONS, FitSettings
from nasdip.fit.stopping import AUTO_RULE, STOP_RULES
from nasdip.io.files import check_writable_dir
from nasdip.nn.config import NetConfig
from nasdip.options import LEARNING_RATE, NETWORK_WIDTH, SEED, STEPS, FiniteFloat, Option


class RegistryName(click.ParamType):
    """A name from a plugin registry (space, searcher, task, ...); a typo fails naming the closest name and the
    valid choices."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = registry.KINDS[kind]

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        choices = registry.names(self.kind)
        if value in choices:
            return value
        close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        self.fail(f"unknown {self.name} {value!r}{hint}; choose from: {', '.join(choices)}", param, ctx)

    def get_metavar(self, *args: Any, **kwargs: Any) -> str:
        return "[" + "|".join(registry.names(self.kind)) + "]"

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str):
        from click.shell_completion import CompletionItem

        return [CompletionItem(name) for name in registry.names(self.kind) if name.startswith(incomplete)]


_DEFAULTS = NetConfig()
#: Most encoder levels: each halves the image, and the network pads its input to a multiple of 2**depth.
MAX_DEPTH = 8
#: Most channels of the noise input or of DIP's skip connections.
MAX_CHANNELS = 1024


def net_config_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--width --depth --input-depth --out-channels --skip``: fixed network settings (passed as keywords)."""
    options = [
        click.option("--width", type=NETWORK_WIDTH, default=_DEFAULTS.width, show_default=True,
                     help="Channels at every level (multiple of 4)."),
        click.option("--depth", type=click.IntRange(1, MAX_DEPTH), default=_DEFAULTS.depth, show_default=True,
                     help="Encoder levels."),
        click.option("--input-depth", type=click.IntRange(1, MAX_CHANNELS), default=_DEFAULTS.input_depth,
                     show_default=True, help="Channels of the noise input."),
        click.option("--out-channels", type=click.IntRange(1, 4), default=_DEFAULTS.out_channels, show_default=True,
                     help="Image channels (3 RGB, 1 grey)."),
        click.option("--skip", type=click.IntRange(0, MAX_CHANNELS), default=_DEFAULTS.skip, show_default=True,
                     help="Skip channels of DIP's skip network."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def fit_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--iters --lr --seed`` and the stopping options (section Fitting), ``--device --precision --compile``
    (Execution) and ``--width`` (Network); ``None`` = the task's default."""
    return section(
        "Fitting",
        click.option("--iters", type=STEPS, default=None, help="Fitting steps (default: the task's)."),
        click.option("--lr", type=LEARNING_RATE, default=None, help="Adam learning rate (default: the task's)."),
        click.option("--seed", type=SEED, default=0, show_default=True,
                     help="Seeds the degradation, network initialisation and noise."),
        stop_options,
    )(execution_options(section("Network", click.option(
        "--width", type=NETWORK_WIDTH, default=128, show_default=True,
        help="Channels at every level of the network, a multiple of 4 (128 in the paper)."))(function)))


def execution_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--device --precision --compile`` (section Execution)."""
    return section(
        "Execution",
        click.option("--device", default="auto", show_default=True, metavar="DEVICE", help="auto, cpu or cuda[:N]."),
        click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
                     help="bf16: autocast and channels-last; auto: bf16 where the device computes it natively."),
        click.option("--compile/--no-compile", "compile_net", default=None,
                     help="Run the network through torch.compile: faster steps after a one-off compilation (about a "
                          "minute at 256x256). Default: where measured to pay (fp32 CPU fits from 256x256 at width "
                          "128 and 1000 steps)."),
        click.option("--cuda-graphs", type=click.Choice(tuple(SWITCH_NAMES)), default="auto", show_default=True,
                     help="On CUDA, capture the whole fitting step once as a CUDA graph and replay it (auto: for "
                          "steps up to 128x128 at width 128)."),
    )(function)


#: The keyword arguments :func:`stop_options` adds (``None`` = the task's setting).
STOP_KEYS = ("stop", "holdout", "stop_window", "stop_patience")


def stop_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--stop --holdout --stop-window --stop-patience``: automatic stopping without ground truth."""
    options = [
        click.option("--stop", type=click.Choice(STOP_RULES), default=None,
                     help=f"When to stop: after --iters steps (iters), or when a detector finds the best step "
                          f"without ground truth ({', '.join(STOP_RULES[1:])}; auto = {AUTO_RULE}), --iters "
                          f"being the cap."),
        click.option("--holdout", type=click.FloatRange(0, 0.5, max_open=True), default=None,
                     help="Fraction of the observed pixels left out of the loss to validate on (self-validation; "
                          "the holdout detector and reward need it)."),
        click.option("--stop-window", type=STEPS, default=None,
                     help="Steps the stopping detector averages over."),
        click.option("--stop-patience", type=STEPS, default=None,
                     help="Steps without improvement after which the detector stops."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def stop_values(options: dict[str, Any]) -> dict[str, Any]:
    """Pop the :data:`STOP_KEYS` from a command's keyword arguments; the ones given."""
    values = {key: options.pop(key, None) for key in STOP_KEYS}
    return {key: value for key, value in values.items() if value is not None}


#: ``--cuda-graphs`` choices and the :class:`FitSettings` values they stand for.
SWITCH_NAMES = {"auto": "auto", "on": True, "off": False}


def settings_from(base: FitSettings, iters: int | None, lr: float | None, seed: int, device: str,
                  precision: str, compile_net: bool | None = None, cuda_graphs: str = "auto",
                  **stopping: Any) -> FitSettings:
    """The task's settings with the command-line overrides applied (see :meth:`FitSettings.with_stopping`);
    ``compile_net`` ``None`` (neither ``--compile`` nor ``--no-compile``) is ``auto``."""
    return base.replace(iters=iters, lr=lr, seed=seed, device=device, precision=precision,
                        compile="auto" if compile_net is None else compile_net,
                        cuda_graphs=SWITCH_NAMES[cuda_graphs]).with_stopping(**stopping)


def check_output_dirs(**folders: Path | None) -> None:
    """Refuse unwritable output folders (``out=...`` checks ``--out``) before any fitting starts."""
    for option, folder in folders.items():
        if folder is not None:
            check_writable_dir(folder, f"--{option.replace('_', '-')}")


def declared_options(kind: str) -> dict[str, tuple[Option, list[str]]]:
    """Every option of plugins of ``kind`` by name, with the plugins that declare it (types must agree)."""
    found: dict[str, tuple[Option, list[str]]] = {}
    for name, entry in registry.entries(kind).items():
        for option in entry.obj.options:
            if option.name in found:
                first, owners = found[option.name]
                if first.type is not option.type:
                    raise TypeError(f"{kind} {owners[0]!r} and {name!r} declare option {option.flag} with different types")
                owners.append(name)
            else:
                found[option.name] = (option, [name])
    return found


def plugin_options(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator adding the options of every plugin of ``kind`` (default ``None`` = the plugin's default)."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        return _add_options(kind, function)

    return decorate


def task_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add every task's options to a command."""
    return _add_options("tasks", function)


def _add_options(kind: str, function: Callable[..., Any]) -> Callable[..., Any]:
    for option, owners in reversed(list(declared_options(kind).values())):
        metavar = "[" + "|".join(map(str, option.choices)) + "]" if option.choices else option.metavar
        bounds = f" [{option.range_text}]" if option.range_text and len(owners) == 1 else ""
        default = "" if option.default is None else f" (default {option.default})"
        # The range is checked once the plugin is chosen (its resolve_values): plugins may bound one name apart.
        function = click.option(
            option.flag, option.name, type=FiniteFloat() if option.type is float else option.type, default=None,
            metavar=metavar, help=f"{', '.join(owners)}: {option.help}{bounds}{default}",
        )(function)
    return function


def pop_plugin_values(kind: str, chosen_name: str, values: dict[str, Any]) -> dict[str, Any]:
    """Remove the options of plugins of ``kind`` from a command's keyword arguments; return those given for
    ``chosen_name``. An option that belongs to other plugins only is a usage error naming the chosen one's."""
    chosen: dict[str, Any] = {}
    for name, (option, owners) in declared_options(kind).items():
        value = values.pop(name, None)
        if value is None:
            continue
        if chosen_name not in owners:
            plugin = registry.get(kind, chosen_name)
            flags = ", ".join(o.flag for o in plugin.options) or "none"
            raise UsageError(f"{option.flag} is not an option of {registry.KINDS[kind]} {chosen_name!r} "
                             f"(its options: {flags})")
        chosen[name] = value
    return chosen


def pop_task_values(task_name: str, values: dict[str, Any]) -> dict[str, Any]:
    """The chosen task's options (see :func:`pop_plugin_values`)."""
    return pop_plugin_values("tasks", task_name, values)


def section(title: str, *decorators: Callable[..., Any]) -> Callable[..., Any]:
    """Apply ``decorators`` (click options, option groups; outermost first) and list the options they add under
    ``title`` in ``--help`` (see :class:`SectionedCommand`). An inner section keeps its own title."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        before = len(getattr(function, "__click_params__", ()))
        for decorator in reversed(decorators):
            function = decorator(function)
        for param in getattr(function, "__click_params__", [])[before:]:
            if not hasattr(param, SECTION_ATTRIBUTE):
                setattr(param, SECTION_ATTRIBUTE, title)
        return function

    return decorate


#: The parameter attribute :func:`section` sets: the title of the help section the option is listed under.
SECTION_ATTRIBUTE = "help_section"


class SectionedCommand(click.Command):
    """A click command whose ``--help`` lists options by section (in the order the sections first appear) and
    ends with examples (``examples``: command lines, shown unwrapped)."""

    def __init__(self, *args: Any, examples: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.examples = tuple(examples)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        untitled: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is not None:
                title = getattr(param, SECTION_ATTRIBUTE, None)
                (sections.setdefault(title, []) if title else untitled).append(record)
        for title, rows in [*sections.items(), ("Other options", untitled)]:
            with formatter.section(title):
                formatter.write_dl(rows)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        if self.examples:
            with formatter.section("Examples"):
                for example in self.examples:
                    formatter.write(f"{'':>{formatter.current_indent}}{example}\n")


def build_command(name: str, function: Callable[..., Any], decorators: Sequence[Callable],
                  examples: Sequence[str] = ()) -> click.Command:
    """A fresh click command around ``function`` (outermost decorator first; group them with :func:`section`),
    its help ending with ``examples``.

    Commands whose options come from the registry are built at each look-up, so plugins registered at run
    time (tests, notebooks) get their options too.
    """

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    for decorator in reversed(decorators):
        call = decorator(call)
    return click.command(name=name, cls=SectionedCommand, examples=examples)(call)
