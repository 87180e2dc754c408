"""Named architectures and ``--arch NAME|FILE`` resolution: presets, spaces, one-line errors with a hint."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from torch import nn

import nasdip
from nasdip import registry
from nasdip.arch.catalog import looks_like_path, presets, resolve_arch, space_of, validate
from nasdip.arch.document import Arch, save_arch
from nasdip.arch.space import Decision, Space
from nasdip.errors import ArchError, DuplicateNameError, UnknownArchError, UsageError

BUILT_IN = {"dip-skip": "dip", "nasdip-denoise": "nasdip", "nasdip-inpaint": "nasdip", "nasdip-sr": "nasdip",
            "searched-denoise": "nasdip", "searched-sr": "nasdip"}
SPACES = "cross-scale, dip, nasdip, upsample-cell"


def plugin_space(space_name: str, preset_name: str) -> object:
    """A plugin registering a one-decision space that ships one preset called ``preset_name``."""

    class OneConv(Space):
        name = space_name
        help = "one convolution"
        decisions = (Decision("kernel", (1, 3)),)

        def build(self, arch, config):
            return nn.Conv2d(config.input_depth, config.out_channels, arch.choices["kernel"])

        def presets(self):
            return (self.arch({"kernel": 3}, name=preset_name),)

    class Plugin:
        @nasdip.hookimpl
        def register_spaces(self, register):
            register(OneConv())

    return Plugin()


def whole(message: str) -> str:
    return "^" + re.escape(message) + "$"


# -- presets ---------------------------------------------------------------------------------------------------


def test_presets_are_sorted_by_name_and_name_their_space():
    named = presets()
    assert list(named) == sorted(BUILT_IN)
    assert {name: arch.space for name, arch in named.items()} == BUILT_IN
    assert all(arch.name == name for name, arch in named.items())


def test_every_preset_is_in_its_spaces_canonical_form():
    for arch in presets().values():
        assert validate(arch) == arch
        assert list(validate(arch).choices) == list(arch.choices)


def test_a_plugins_presets_are_listed_and_resolve_by_name(register_plugin):
    register_plugin(plugin_space("test-catalog-one", "test-one-3"), "test-catalog-plugin")
    assert set(presets()) == {*BUILT_IN, "test-one-3"}
    arch = resolve_arch("test-one-3")
    assert arch == Arch("test-catalog-one", {"kernel": 3}) and arch.name == "test-one-3"


def test_two_spaces_shipping_one_preset_name_is_an_error(register_plugin):
    register_plugin(plugin_space("test-clash", "dip-skip"), "test-clash-plugin")
    with pytest.raises(DuplicateNameError, match=whole("preset 'dip-skip' is defined by spaces 'dip' and 'test-clash'")):
        presets()


# -- space_of and validate ------------------------------------------------------------------------------------


def test_space_of_returns_the_registered_space():
    space = space_of(presets()["nasdip-sr"])
    assert type(space) is type(registry.get("spaces", "nasdip")) and space.name == "nasdip"
    assert space_of(Arch("dip", {})).name == "dip"


def test_an_unknown_space_is_an_architecture_error_naming_the_field():
    with pytest.raises(ArchError) as caught:
        space_of(Arch("nope", {}), source="mine.json")
    assert str(caught.value) == f"mine.json.space: unknown search space 'nope'; available: {SPACES}"
    assert not isinstance(caught.value, UsageError)  # a bad file, not a bad command line (exit code 1)
    assert caught.value.__suppress_context__  # one line: no chained registry error


def test_validate_returns_the_canonical_form_with_choices_in_decision_order():
    preset = presets()["nasdip-inpaint"]
    shuffled = Arch("nasdip", dict(sorted(preset.choices.items())), name="mine")
    canonical = validate(shuffled)
    assert canonical == preset and canonical.name == "mine"
    assert list(canonical.choices) == [decision.name for decision in registry.get("spaces", "nasdip").decisions]


def test_validate_names_the_source_in_its_errors():
    with pytest.raises(ArchError, match=r"^x\.json\.choices\.kernel: 4 is not a choice \(choose from 1, 3, 5, 7\)$"):
        validate(Arch("nasdip", {**presets()["nasdip-sr"].choices, "kernel": 4}), source="x.json")
    with pytest.raises(ArchError, match=rf"^arch\.space: unknown search space 'nope'; available: {SPACES}$"):
        validate(Arch("nope", {}))


# -- resolve_arch -----------------------------------------------------------------------------------------------


def test_a_preset_name_resolves_to_the_preset():
    for name in BUILT_IN:
        assert resolve_arch(name) == presets()[name] and resolve_arch(name).name == name


def test_a_file_resolves_given_as_a_string_or_a_path(tmp_path):
    path = save_arch(presets()["nasdip-denoise"].replace(name="saved"), tmp_path / "saved.json")
    for spec in (str(path), path):
        arch = resolve_arch(spec)
        assert arch == presets()["nasdip-denoise"] and arch.name == "saved"


def test_a_file_is_validated_into_canonical_form(tmp_path):
    preset = presets()["nasdip-sr"]
    document = preset.to_dict()
    document["choices"] = dict(reversed(list(preset.choices.items())))
    path = tmp_path / "reordered.json"
    path.write_text(json.dumps(document))
    assert list(resolve_arch(path).choices) == list(preset.choices)


def test_a_preset_name_wins_over_a_file_of_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_arch(presets()["nasdip-sr"], Path("dip-skip"))
    assert resolve_arch("dip-skip") == presets()["dip-skip"]


def test_an_existing_file_needs_no_folder_or_suffix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_arch(presets()["nasdip-sr"], Path("myarch"))
    assert resolve_arch("myarch") == presets()["nasdip-sr"]


def test_a_folder_is_refused_in_one_line(tmp_path):
    with pytest.raises(ArchError) as caught:
        resolve_arch(tmp_path)
    assert str(caught.value) == f"{tmp_path}: is a folder, not an architecture file"
    assert not isinstance(caught.value, UnknownArchError)


@pytest.mark.parametrize("spec", ["gone.json", "GONE.JSON", "sub/gone", "./nasdip-sr"])
def test_a_missing_file_is_refused_in_one_line(tmp_path, monkeypatch, spec):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArchError) as caught:
        resolve_arch(spec)
    assert str(caught.value) == f"{spec}: no such architecture file"
    assert not isinstance(caught.value, UnknownArchError)  # a path, so no list of presets


@pytest.mark.parametrize("spec", ["", "  "])
def test_an_empty_name_is_an_unknown_architecture_not_the_current_folder(spec):
    with pytest.raises(UnknownArchError, match=f"^unknown architecture {spec!r}: no preset or file of that name"):
        resolve_arch(spec)


def test_an_unknown_name_suggests_the_closest_preset():
    with pytest.raises(UnknownArchError) as caught:
        resolve_arch("nasdip-rs")
    assert str(caught.value) == ("unknown architecture 'nasdip-rs': no preset or file of that name; did you mean "
                                 "'nasdip-sr'? presets: dip-skip, nasdip-denoise, nasdip-inpaint, nasdip-sr, "
                                 "searched-denoise, searched-sr (or an architecture JSON file)")
    assert isinstance(caught.value, UsageError)  # a mistyped name: the command line's fault (exit code 2)


@pytest.mark.parametrize(("spec", "close"), [("dip_skip", "dip-skip"), ("nasdip-inpant", "nasdip-inpaint"),
                                             ("nasdip-denoising", "nasdip-denoise")])
def test_near_misses_get_a_hint(spec, close):
    with pytest.raises(UnknownArchError, match=rf"^unknown architecture '{spec}': .*; did you mean '{close}'\? presets: "):
        resolve_arch(spec)


def test_a_name_like_no_preset_gets_no_hint():
    with pytest.raises(UnknownArchError) as caught:
        resolve_arch("zzz")
    assert str(caught.value) == ("unknown architecture 'zzz': no preset or file of that name; presets: dip-skip, "
                                 "nasdip-denoise, nasdip-inpaint, nasdip-sr, searched-denoise, searched-sr (or an architecture JSON "
                                 "file)")


@pytest.mark.parametrize(
    ("spec", "is_path"),
    [("nasdip-sr", False), ("arch.json", True), ("ARCH.Json", True), ("runs/best", True), ("./x", True),
     ("/abs/arch", True), ("json", False), ("arch.jsonl", False), ("arch.json.bak", False), ("", False)],
)
def test_looks_like_path(spec, is_path):
    assert looks_like_path(spec) is is_path
