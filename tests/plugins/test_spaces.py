"""Built-in spaces: presets decode as released, every choice and hundreds of samples build and train."""

from __future__ import annotations

import random

import pytest
import torch

from nasdip import registry
from nasdip.arch.build import build_network
from nasdip.arch.catalog import presets
from nasdip.nn.cell import Cell
from nasdip.nn.config import NetConfig
from nasdip.plugins.spaces import link_choices, links_of

SMALL = NetConfig(width=4, input_depth=2)
SPACES = ["upsample-cell", "cross-scale", "nasdip", "dip"]


@pytest.mark.parametrize(
    ("name", "index", "links"),
    [
        ("nasdip-sr", 119, "10010 11001 01100 00110 00011"),
        ("nasdip-denoise", 158, "11111 01111 00111 00011 00001"),
        ("nasdip-inpaint", 86, "11000 01100 10110 01011 00101"),
    ],
)
def test_presets_decode_as_released(name, index, links):
    arch = presets()[name]
    assert arch.space == "nasdip"
    assert Cell.from_choices(arch.choices) == Cell.from_release_index(index)
    assert links_of(arch.choices) == links_of(link_choices(links))
    assert " ".join("".join(map(str, row)) for row in links_of(arch.choices)) == links


def test_preset_names():
    assert set(presets()) == {"dip-skip", "nasdip-sr", "nasdip-denoise", "nasdip-inpaint", "searched-denoise",
                             "searched-sr"}


def train_step(arch, size=(32, 32)):
    net = build_network(arch, SMALL)
    z = torch.rand(1, SMALL.input_depth, *size)
    out = net(z)
    out.square().mean().backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert out.shape == (1, 3, *size) and grads and all(torch.isfinite(g).all() for g in grads)


def arch_with(space, decision, choice, rng):
    """An architecture of ``space`` taking ``choice`` for ``decision`` (earlier decisions chosen to allow it)."""
    for _ in range(2000):
        arch = space.sample(rng)
        choices = dict(arch.choices)
        choices[decision.name] = choice
        try:
            return space.arch(choices)
        except Exception:
            continue
    raise AssertionError(f"no arch of {space.name} with {decision.name}={choice}")


@pytest.mark.parametrize("space_name", SPACES)
def test_every_choice_of_every_decision_builds_and_trains(space_name):
    space = registry.get("spaces", space_name)
    rng = random.Random(0)
    for decision in space.decisions:
        for choice in decision.choices:
            train_step(arch_with(space, decision, choice, rng))


@pytest.mark.parametrize("space_name", SPACES)
def test_hundreds_of_samples_are_valid_and_build(space_name):
    space = registry.get("spaces", space_name)
    rng = random.Random(1234)
    samples = [space.sample(rng) for _ in range(300)]
    for arch in samples:
        assert space.validate(arch) == arch  # sampled archs are canonical
        build_network(arch, SMALL)
    for arch in samples[:: 30 if space.decisions else 300]:
        train_step(arch)


def test_sampling_is_seeded():
    space = registry.get("spaces", "nasdip")
    first = [space.sample(random.Random(7)).key for _ in range(3)]
    assert first == [space.sample(random.Random(7)).key for _ in range(3)]
    assert len({space.sample(random.Random(s)).key for s in range(20)}) == 20


def test_hook_register_spaces(register_plugin):
    """A third-party space: registered, sampled, built through the generic builder, listed with its preset."""
    from torch import nn

    import nasdip
    from nasdip.arch.space import Decision, Space

    class TinySpace(Space):
        name = "tiny"
        help = "one conv with a searched kernel"
        decisions = (Decision("kernel", (1, 3)),)

        def build(self, arch, config):
            k = arch.choices["kernel"]
            return nn.Conv2d(config.input_depth, config.out_channels, k, padding=k // 2)

        def multiple(self, config):
            return 1

        def presets(self):
            return (self.arch({"kernel": 3}, name="tiny-3"),)

    class TinyPlugin:
        @nasdip.hookimpl
        def register_spaces(self, register):
            register(TinySpace())

    register_plugin(TinyPlugin(), "tiny-plugin")
    arch = presets()["tiny-3"]
    net = build_network(arch, SMALL)
    assert net(torch.rand(1, 2, 5, 7)).shape == (1, 3, 5, 7)
    sampled = registry.get("spaces", "tiny").sample(random.Random(0))
    assert sampled.choices["kernel"] in (1, 3)


@pytest.mark.parametrize(("name", "links"), [("searched-denoise", "01111 01011 11000 10001 10110"),
                                             ("searched-sr", "00100 00011 10010 10011 01000")])
def test_a_searched_preset_says_how_it_was_found_and_how_it_validated(name, links):
    arch = presets()[name]
    assert arch.space == "nasdip" and arch.meta["source"] == "nasdip search" and arch.meta["searcher"] == "rl"
    assert {"search_seed", "search_images", "schedule", "task", "validation", "validation_gain_db"} <= set(arch.meta)
    assert arch.choices["spatial"] == "bilinear" and arch.choices["transform"] == "transposed_conv"
    rows = [[arch.choices[f"add{row}_{source}"] for source in ("z", "e1", "e2", "e3", "e4")] for row in range(1, 6)]
    assert " ".join("".join(map(str, row)) for row in rows) == links
