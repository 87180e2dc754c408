"""Built-in search spaces: ``upsample-cell``, ``cross-scale``, ``nasdip`` (both) and the fixed ``dip`` baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import nn

from nasdip.arch.document import Arch, Choice
from nasdip.arch.space import Decision, Space
from nasdip.errors import NasdipError
from nasdip.nn.cell import CELL_DECISION_NAMES, CELL_DECISIONS, Cell, cell_allowed
from nasdip.nn.config import NetConfig
from nasdip.nn.crossscale import LEVELS, ROWS, SOURCES, CrossScaleNet, Links, parse_links
from nasdip.nn.skip import BILINEAR_CELL, SkipNet
from nasdip.nn.supernet import MixedCell, SuperNet, new_arch_logits

CELL = tuple(Decision(name, choices, help, depends) for name, choices, help, depends in CELL_DECISIONS)
LINKS = tuple(
    Decision(f"{row}_{source}", (0, 1), f"add {source}'s features to decoder level {row}")
    for row in ROWS
    for source in SOURCES
)


def links_of(choices: Mapping[str, Choice]) -> Links:
    """The 5x5 link matrix stored in an architecture's choices."""
    return tuple(tuple(int(choices[f"{row}_{source}"]) for source in SOURCES) for row in ROWS)


def link_choices(links: Links | str) -> dict[str, int]:
    """Choices for a link matrix given as a matrix or as ``"10010 11001 ..."``."""
    matrix = parse_links(links) if isinstance(links, str) else links
    return {f"{row}_{source}": matrix[r][c] for r, row in enumerate(ROWS) for c, source in enumerate(SOURCES)}


def relaxed_links(net: SuperNet):
    """Link weights of a super-network: the probability of each link's ``on`` choice."""
    return lambda level, source: net.link_weight(ROWS[level], SOURCES[source])


def describe_links(links: Links) -> list[str]:
    """The link matrix as a small table (rows: decoder levels, columns: sources)."""
    lines = ["links (rows: decoder levels add1=H .. add5=H/16; columns: sources z=H, e1=H/2 .. e4=H/16):",
             "        " + " ".join(f"{s:>3}" for s in SOURCES)]
    lines += [f"  {row}  " + " ".join(f"{bit:>3}" for bit in bits) for row, bits in zip(ROWS, links, strict=True)]
    return lines


def describe_cell(cell: Cell) -> str:
    return f"cell: {cell.describe()} (release index {cell.release_index()})"


def _require_levels(space: Space, config: NetConfig) -> None:
    if config.depth != LEVELS:
        raise NasdipError(f"space {space.name!r} has a fixed depth of {LEVELS} levels, got depth {config.depth}")


def rewire(net: nn.Module, cell: Cell, arch: Arch) -> bool:
    """:meth:`Space.rebuild` of the spaces on the NAS-DIP backbone: only the cell's upsamplers and the links depend
    on the choices, so a built (not super-) network is rewired in place."""
    if not isinstance(net, CrossScaleNet) or callable(net.links):
        return False
    net.rewire(cell, links_of(arch.choices))
    return True


class UpsampleCellSpace(Space):
    """The upsampling cell inside DIP's skip network (the release's skip_search_up)."""

    name = "upsample-cell"
    help = "NAS-DIP upsampling cell (321 buildable cells) inside DIP's skip hourglass"
    decisions = CELL

    def allowed(self, decision: Decision, prior: Mapping[str, Choice]) -> tuple[bool, ...]:
        return cell_allowed(decision.name, prior)

    def build(self, arch: Arch, config: NetConfig) -> nn.Module:
        return SkipNet(config, Cell.from_choices(arch.choices))

    def build_supernet(self, config: NetConfig, arch_logits: nn.ParameterDict | None = None) -> SuperNet:
        return SuperNet(new_arch_logits(self.decisions) if arch_logits is None else arch_logits,
                        lambda net: SkipNet(config, lambda c_in, c_out: MixedCell(c_in, c_out, net.mixture)))

    def describe(self, arch: Arch) -> list[str]:
        return ["backbone: DIP skip hourglass", describe_cell(Cell.from_choices(arch.choices))]


class CrossScaleSpace(Space):
    """Cross-scale residual connections (5x5 binary matrix) on the NAS-DIP backbone with bilinear upsampling."""

    name = "cross-scale"
    help = "NAS-DIP cross-scale connections (2^25 link patterns), fixed bilinear cell"
    decisions = LINKS

    def check_config(self, config: NetConfig) -> None:
        _require_levels(self, config)

    def build(self, arch: Arch, config: NetConfig) -> nn.Module:
        return CrossScaleNet(config, BILINEAR_CELL, links_of(arch.choices))

    def rebuild(self, net: nn.Module, arch: Arch, config: NetConfig) -> bool:
        return rewire(net, BILINEAR_CELL, arch)

    def build_supernet(self, config: NetConfig, arch_logits: nn.ParameterDict | None = None) -> SuperNet:
        self.check_config(config)
        return SuperNet(new_arch_logits(self.decisions) if arch_logits is None else arch_logits,
                        lambda net: CrossScaleNet(config, BILINEAR_CELL, relaxed_links(net)))

    def describe(self, arch: Arch) -> list[str]:
        return ["backbone: NAS-DIP encoder-decoder", describe_cell(BILINEAR_CELL), *describe_links(links_of(arch.choices))]


#: Architectures nasdip's own searches found, with how they were found and how they did on images no search saw.
SEARCHED = (
    ("searched-denoise", {
        "spatial": "bilinear", "order": "spatial_first", "transform": "transposed_conv", "kernel": 3,
        "activation": "relu", **link_choices("01111 01011 11000 10001 10110")}, {
        "source": "nasdip search", "note": "searched for denoising (sigma 25) by nasdip's rl controller",
        "searcher": "rl", "search_seed": 0, "task": "denoise (sigma=25.0)",
        "search_images": "building, fotolia, fotolia1 (the first three of the project's search images)",
        "schedule": "halving, eta 9, budget 27, ladder 300:32:16,1500:96:32", "reward": "psnr",
        "validation": "F16 30.37, House 30.76, Peppers 29.14 dB (mean 30.09; dip-skip 29.47): 128x128 centre "
                      "crops, width 32, --stop auto within 1500 steps, seed 0",
        "validation_gain_db": 0.62}),
    ("searched-sr", {
        "spatial": "bilinear", "order": "spatial_first", "transform": "transposed_conv", "kernel": 5,
        "activation": "relu", **link_choices("00100 00011 10010 10011 01000")}, {
        "source": "nasdip search", "note": "searched for x4 super-resolution by nasdip's rl controller",
        "searcher": "rl", "search_seed": 0, "task": "sr (scale=4)",
        "search_images": "building, fotolia, fotolia1 (the first three of the project's search images)",
        "schedule": "halving, eta 3, budget 27, ladder 100:64:16,300:64:16,1500:96:32", "reward": "psnr",
        "validation": "Set5 baby 37.17, bird 33.16, butterfly 28.81, head 32.00, woman 31.28 dB (mean 32.48; "
                      "dip-skip 31.72): 128x128 centre crops, width 32, --stop auto within 1500 steps, seed 0",
        "validation_gain_db": 0.77}),
)


class NasdipSpace(Space):
    """The full NAS-DIP space: upsampling cell and cross-scale connections (the released final models)."""

    name = "nasdip"
    default = True
    help = "NAS-DIP: upsampling cell x cross-scale connections on the NAS-DIP backbone"
    decisions = CELL + LINKS

    def allowed(self, decision: Decision, prior: Mapping[str, Choice]) -> tuple[bool, ...]:
        if decision.name in CELL_DECISION_NAMES:
            return cell_allowed(decision.name, prior)
        return (True, True)

    def check_config(self, config: NetConfig) -> None:
        _require_levels(self, config)

    def build(self, arch: Arch, config: NetConfig) -> nn.Module:
        return CrossScaleNet(config, Cell.from_choices(arch.choices), links_of(arch.choices))

    def rebuild(self, net: nn.Module, arch: Arch, config: NetConfig) -> bool:
        return rewire(net, Cell.from_choices(arch.choices), arch)

    def build_supernet(self, config: NetConfig, arch_logits: nn.ParameterDict | None = None) -> SuperNet:
        self.check_config(config)
        return SuperNet(new_arch_logits(self.decisions) if arch_logits is None else arch_logits,
                        lambda net: CrossScaleNet(config, lambda c_in, c_out: MixedCell(c_in, c_out, net.mixture),
                                                  relaxed_links(net)))

    def presets(self) -> Sequence[Arch]:
        released = (
            ("nasdip-sr", 119, "10010 11001 01100 00110 00011", "searched for super-resolution"),
            ("nasdip-denoise", 158, "11111 01111 00111 00011 00001", "searched for denoising"),
            ("nasdip-inpaint", 86, "11000 01100 10110 01011 00101", "searched for inpainting"),
        )
        return (*(
            self.arch({**Cell.from_release_index(index).to_choices(), **link_choices(links)}, name=name,
                      source="NAS-DIP release", release_cell_index=index, links=links, note=note)
            for name, index, links, note in released
        ), *(self.arch(choices, name=name, **meta) for name, choices, meta in SEARCHED))

    def describe(self, arch: Arch) -> list[str]:
        return ["backbone: NAS-DIP encoder-decoder", describe_cell(Cell.from_choices(arch.choices)),
                *describe_links(links_of(arch.choices))]


class DipSpace(Space):
    """DIP's skip network with bilinear upsampling: the baseline, no decisions."""

    name = "dip"
    help = "DIP's skip hourglass (the baseline; no decisions)"
    decisions = ()

    def build(self, arch: Arch, config: NetConfig) -> nn.Module:
        return SkipNet(config, BILINEAR_CELL)

    def presets(self) -> Sequence[Arch]:
        return (self.arch({}, name="dip-skip", source="Ulyanov et al., Deep Image Prior (skip network)"),)

    def describe(self, arch: Arch) -> list[str]:
        return ["backbone: DIP skip hourglass", "upsampling: bilinear x2 (no transform)"]
