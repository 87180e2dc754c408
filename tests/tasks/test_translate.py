"""Unpaired translation (CycleGAN): learns a colour mapping between two synthetic domains, resumes, applies."""

from __future__ import annotations

import json

import kornia
import pytest
import torch

from nasdip import hookimpl
from nasdip.cli import cli
from nasdip.io.builtin import builtin_photo
from nasdip.io.images import load_image, save_image
from nasdip.nn.cell import Cell
from nasdip.tasks.cyclegan import CycleGANConfig, Generator
from nasdip.tasks.translation_training import cell_of, learning_rate

SMALL = ["--crop", "32", "--ngf", "8", "--ndf", "8", "--blocks", "2", "--lr", "0.002", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def domains(tmp_path_factory):
    """A: crops of the photo's face and shoulders (red > blue); B: other crops with red and blue swapped
    (kornia's rgb_to_bgr); held-out crops of A to translate."""
    root = tmp_path_factory.mktemp("domains")
    photo = builtin_photo()[0][..., 100:420, 150:390]
    generator = torch.Generator().manual_seed(0)

    def crop():
        top, left = (int(torch.randint(0, n - 40, (1,), generator=generator)) for n in (320, 240))
        return photo[..., top : top + 40, left : left + 40]

    for i in range(8):
        save_image(root / "a" / f"{i}.png", crop())
        save_image(root / "b" / f"{i}.png", kornia.color.rgb_to_bgr(crop()))
    for i in range(3):
        save_image(root / "new" / f"{i}.png", crop())
    return root


def train(runner, domains, out, epochs, *extra):
    result = runner.invoke(cli, ["translate", "--domain-a", str(domains / "a"), "--domain-b", str(domains / "b"),
                                 "--epochs", str(epochs), "--out", str(out), *SMALL, *extra, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def red_minus_blue(image):
    return (image[:, 0] - image[:, 2]).mean().item()


def test_learns_the_colour_mapping_and_applies_it(runner, domains, tmp_path):
    # Calibration (12 epochs of 8 crops): R-B of held-out crops went from +0.44/+0.41/-0.03 to -0.25/-0.27/-0.28,
    # and the outputs are nearer the channel-swapped inputs (MSE 0.098) than the inputs (0.144).
    summary = train(runner, domains, tmp_path / "model", 12)
    assert summary["steps"] == 96
    before, after, to_swapped, to_input = [], [], [], []
    for i in range(3):
        result = runner.invoke(cli, ["translate", "--apply", str(domains / "new" / f"{i}.png"), "--out",
                                     str(tmp_path / "model"), "--device", "cpu", "--json"])
        assert result.exit_code == 0, result.output
        original = load_image(domains / "new" / f"{i}.png")[0]
        translated = load_image(json.loads(result.output)["output"])[0]
        assert translated.shape == original.shape
        before.append(red_minus_blue(original))
        after.append(red_minus_blue(translated))
        to_swapped.append((translated - kornia.color.rgb_to_bgr(original)).square().mean().item())
        to_input.append((translated - original).square().mean().item())
    assert sum(after) / 3 < sum(before) / 3 - 0.2
    assert sum(to_swapped) < sum(to_input)


def test_resume_continues_exactly(runner, domains, tmp_path):
    train(runner, domains, tmp_path / "straight", 3, "--arch", "nasdip-sr")
    train(runner, domains, tmp_path / "resumed", 2, "--arch", "nasdip-sr")
    result = runner.invoke(cli, ["translate", "--resume", "--epochs", "3", "--out", str(tmp_path / "resumed"), *SMALL])
    assert result.exit_code == 0, result.output
    straight = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)
    assert straight["step"] == resumed["step"] == 24
    for key, value in straight["g_ab"].items():
        torch.testing.assert_close(resumed["g_ab"][key], value)


def test_tensorboard_samples(runner, domains, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(runner, domains, tmp_path / "m", 1, "--sample-every", "4")
    losses = EventAccumulator(str(tmp_path / "m" / "tb" / "translate"), size_guidance={"scalars": 0})
    losses.Reload()
    assert {"fit/cycle", "fit/d", "fit/g_gan", "fit/identity"} <= set(losses.Tags()["scalars"])
    assert [event.step for event in losses.Scalars("fit/cycle")] == [1, 4, 8]
    samples = EventAccumulator(str(tmp_path / "m" / "tb"), size_guidance={"images": 0})
    samples.Reload()
    assert "samples/a_to_b" in samples.Tags()["images"]


class SampleRecorder:
    @hookimpl
    def sample_images(self, run, step, images):
        self.calls.append((run.kind, step, {name: tuple(image.shape) for name, image in images.items()},
                           min(float(image.min()) for image in images.values()),
                           max(float(image.max()) for image in images.values())))

    def __init__(self):
        self.calls = []


def test_hook_sample_images(runner, domains, tmp_path, register_plugin):
    recorder = register_plugin(SampleRecorder(), "samples")
    train(runner, domains, tmp_path / "m", 1, "--sample-every", "4")
    assert [call[:3] for call in recorder.calls] == [("translate", step, {"a_to_b": (1, 3, 32, 96)})
                                                     for step in (1, 4, 8)]
    assert all(0.0 <= call[3] <= call[4] <= 1.0 for call in recorder.calls)


def test_generator_uses_the_architecture_cell():
    cell = cell_of("nasdip-sr")
    assert cell == Cell.from_release_index(119)
    assert cell_of("dip-skip").spatial == "bilinear" and cell_of(None) is None
    config = CycleGANConfig(ngf=8, blocks=1)
    searched = Generator(3, config, cell)
    default = Generator(3, config, None)
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in default.modules())
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in searched.modules())
    assert searched(torch.rand(1, 3, 30, 22)).shape == (1, 3, 30, 22)


def test_learning_rate_schedule():
    assert [round(learning_rate(1.0, e, 4), 3) for e in range(4)] == [1.0, 1.0, 1.0, 0.667]


def test_errors(runner, tmp_path):
    result = runner.invoke(cli, ["translate", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "needs --domain-a and --domain-b" in result.output
    result = runner.invoke(cli, ["translate", "--apply", str(tmp_path / "p.png"), "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "no trained translation model" in result.output
    result = runner.invoke(cli, ["restore", "--task", "translate", "--quiet"])
    assert result.exit_code == 2 and "unknown task 'translate'" in result.output  # a command, not a task
