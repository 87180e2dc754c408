"""Training and applying a translator: crops the networks cannot train on, damaged checkpoints and settings, and
images too small to translate are refused in one line naming the file."""

from __future__ import annotations

import json

import pytest
import torch

from nasdip.errors import NasdipError, UsageError
from nasdip.io.images import save_image
from nasdip.tasks.cyclegan import CycleGANConfig, Generator
from nasdip.tasks.translation_training import apply, check_crop, load_generator, min_crop, read_checkpoint

SMALL = CycleGANConfig(ngf=4, ndf=4, blocks=1, crop=32)


@pytest.fixture
def model(tmp_path):
    """A trained-model folder holding a tiny (untrained) generator pair."""
    settings = {"domain_a": "a", "domain_b": "b", "arch": None, "config": SMALL.to_dict(), "seed": 0, "channels": 3}
    (tmp_path / "translate.json").write_text(json.dumps(settings))
    torch.manual_seed(0)
    generator = Generator(3, SMALL, None)
    torch.save({"g_ab": generator.state_dict(), "g_ba": generator.state_dict()}, tmp_path / "checkpoint.pt")
    return tmp_path


def test_the_smallest_training_crop_is_the_discriminators():
    assert min_crop(SMALL, None) == 24
    check_crop(CycleGANConfig(ngf=4, ndf=4, blocks=1, crop=24), None)
    with pytest.raises(UsageError, match=r"^--crop 16 is too small for CycleGAN's networks \(.*24x24 pixels\); use "
                                         r"--crop 24 or larger$"):
        check_crop(CycleGANConfig(ngf=4, ndf=4, blocks=1, crop=16), None)


@pytest.mark.parametrize(("content", "detail"), [
    (b"\x00garbage\xff" * 100, "not a readable torch checkpoint file"),
    (b"", "not a readable torch checkpoint file"),
])
def test_a_damaged_checkpoint_is_one_line_naming_it(tmp_path, content, detail):
    (tmp_path / "checkpoint.pt").write_bytes(content)
    with pytest.raises(NasdipError) as caught:
        read_checkpoint(tmp_path / "checkpoint.pt")
    assert str(caught.value) == (f"{tmp_path / 'checkpoint.pt'}: damaged or not a translation checkpoint ({detail}); "
                                 f"train again with --domain-a/-b or restore the file from a backup")
    assert caught.value.__cause__ is None


def test_a_checkpoint_of_something_else_is_named(model):
    torch.save([1, 2, 3], model / "checkpoint.pt")
    with pytest.raises(NasdipError, match=r"checkpoint\.pt: not a translation checkpoint \(no saved networks\)"):
        load_generator(model, "a2b")
    torch.save({"g_ab": {"weight": torch.zeros(1)}}, model / "checkpoint.pt")
    with pytest.raises(NasdipError, match=r"checkpoint\.pt: damaged or not a translation checkpoint \(RuntimeError: "
                                          r"Error\(s\) in loading state_dict for Generator:\); train again"):
        load_generator(model, "a2b")
    with pytest.raises(NasdipError, match=r"checkpoint\.pt: damaged or not a translation checkpoint \(KeyError: "
                                          r"'g_ba'\)"):
        load_generator(model, "b2a")


def test_settings_of_something_else_are_named(model):
    (model / "translate.json").write_text(json.dumps({"config": {}}))
    with pytest.raises(NasdipError, match=r"translate\.json: not the settings of a translation model \(KeyError: "
                                          r"'channels'\); train again with --domain-a/-b$"):
        load_generator(model, "a2b")


def test_images_smaller_than_the_generator_needs_are_refused(model, tmp_path):
    save_image(tmp_path / "small.png", torch.rand(1, 3, 4, 9))
    with pytest.raises(NasdipError, match=r"small\.png: is 9x4; the translator needs images of at least 5x5 pixels"):
        apply(tmp_path / "small.png", model)
    assert not (model / "small_a2b.png").exists()
    save_image(tmp_path / "enough.png", torch.rand(1, 3, 5, 9))
    assert apply(tmp_path / "enough.png", model) == model / "enough_a2b.png"
