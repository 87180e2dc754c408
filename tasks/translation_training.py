"""Training and applying an unpaired translator (CycleGAN) whose upsamplers are an architecture's cell.

A training run lives in one directory: ``translate.json`` (domains, architecture, configuration, seed) and
``checkpoint.pt`` (networks, optimisers, image pools, random states), written atomically after every epoch, so
``resume`` continues exactly. Losses and sample images go to the lifecycle hooks (``fit_progress`` and
``sample_images``), which the TensorBoard logger writes under the run's ``logdir``.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from nasdip.arch.catalog import resolve_arch
from nasdip.errors import NasdipError, UsageError
from nasdip.fit.device import resolve_device
from nasdip.io.files import atomic_write, atomic_write_text, read_json
from nasdip.io.images import load_image, save_image
from nasdip.nn.cell import CELL_DECISION_NAMES, Cell
from nasdip.nn.skip import BILINEAR_CELL
from nasdip.rng import load_python_rng_state, python_rng_state
from nasdip.runinfo import RunInfo
from nasdip.tasks.cyclegan import (
    CycleGAN,
    CycleGANConfig,
    Generator,
    discriminator_min_side,
    generator_min_side,
)
from nasdip.tasks.translation_data import Domain, match_channels

CHECKPOINT = "checkpoint.pt"
SETTINGS = "translate.json"


def cell_of(spec: str | None):
    """The upsampling cell of an architecture (bilinear for spaces without one); ``None`` without ``--arch``."""
    if spec is None:
        return None

    arch = resolve_arch(spec)
    if all(name in arch.choices for name in CELL_DECISION_NAMES):
        return Cell.from_choices(arch.choices)
    return BILINEAR_CELL


def min_crop(config: CycleGANConfig, cell, channels: int = 3) -> int:
    """The smallest training crop: both generators and both discriminators must run on it (24 for CycleGAN's
    PatchGAN, whatever the widths; see :func:`nasdip.tasks.cyclegan.smallest_side`)."""
    return max(generator_min_side(channels, config, cell), discriminator_min_side(channels, config))


def check_crop(config: CycleGANConfig, cell) -> None:
    """Refuse a training crop the networks cannot train on, as a usage error naming the smallest that works."""
    smallest = min_crop(config, cell)
    if config.crop < smallest:
        raise UsageError(f"--crop {config.crop} is too small for CycleGAN's networks (the PatchGAN discriminator's "
                         f"stride-2 layers and the instance norms need at least {smallest}x{smallest} pixels); use "
                         f"--crop {smallest} or larger")


def read_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """The state saved in a checkpoint file; a damaged file, or one that is not a translation checkpoint, is one
    line naming it."""
    try:
        state = torch.load(path, weights_only=True, map_location=device)
    except OSError as error:
        raise NasdipError(f"{path}: cannot read the checkpoint ({error.strerror or error})") from None
    except Exception:  # torch raises many types for a damaged file (unpickling, zip, EOF, ...)
        raise damaged(path, "not a readable torch checkpoint file") from None
    if not isinstance(state, dict):
        raise NasdipError(f"{path}: not a translation checkpoint (no saved networks); train again with --domain-a/-b")
    return state


def damaged(path: Path, problem: BaseException | str) -> NasdipError:
    """The one-line error for a checkpoint that cannot be used (``problem``: what is wrong with it)."""
    if isinstance(problem, BaseException):
        text = str(problem).strip()
        problem = f"{type(problem).__name__}: {text.splitlines()[0][:200]}" if text else type(problem).__name__
    return NasdipError(f"{path}: damaged or not a translation checkpoint ({problem}); train again with "
                       f"--domain-a/-b or restore the file from a backup")


def learning_rate(base: float, epoch: int, epochs: int) -> float:
    """CycleGAN's schedule: constant for the first half of the epochs, then linearly towards zero."""
    constant = epochs // 2
    if epoch < constant:
        return base
    return base * (1.0 - (epoch - constant) / (epochs - constant + 1))


@dataclass
class TrainingSetup:
    """What defines a training run (``translate.json``)."""

    domain_a: Path
    domain_b: Path
    arch: str | None
    config: CycleGANConfig
    seed: int

    def to_json(self, channels: int) -> str:
        return json.dumps({"domain_a": str(self.domain_a), "domain_b": str(self.domain_b), "arch": self.arch,
                           "config": self.config.to_dict(), "seed": self.seed, "channels": channels}, indent=2) + "\n"

    @classmethod
    def read(cls, out_dir: Path) -> TrainingSetup:
        stored = read_json(out_dir / SETTINGS, "translation settings")
        return cls(Path(stored["domain_a"]), Path(stored["domain_b"]), stored["arch"],
                   CycleGANConfig(**stored["config"]), stored["seed"])


def training_setup(out_dir: Path, requested: TrainingSetup | None, resume: bool) -> TrainingSetup:
    """The stored setup when resuming, else the requested one (refusing to overwrite a trained model)."""
    if resume:
        if not (out_dir / CHECKPOINT).exists():
            raise NasdipError(f"{out_dir}: no {CHECKPOINT} to resume from")
        return TrainingSetup.read(out_dir)
    if requested is None:
        raise UsageError("training needs --domain-a and --domain-b (or --apply IMAGE to translate)")
    if (out_dir / CHECKPOINT).exists():
        raise NasdipError(f"{out_dir}: a translation model is already trained here; pass --resume or another --out")
    return requested


class Trainer:
    """A CycleGAN, its two domains and its random generators, restored from a checkpoint when resuming."""

    def __init__(self, setup: TrainingSetup, out_dir: Path, device: torch.device, resume: bool) -> None:
        self.setup, self.out_dir, self.device = setup, out_dir, device
        self.images_a = Domain(setup.domain_a)
        self.images_b = Domain(setup.domain_b, self.images_a.channels)
        self.rng = random.Random(setup.seed)
        torch.manual_seed(setup.seed)
        self.model = CycleGAN(self.images_a.channels, setup.config, cell_of(setup.arch), self.rng).to(device)
        self.epoch, self.step = 0, 0
        if resume:
            path = out_dir / CHECKPOINT
            state = read_checkpoint(path, device)
            try:
                self.model.load_checkpoint(state)
                self.epoch, self.step = state["epoch"], state["step"]
                load_python_rng_state(self.rng, state["python_rng"])
                torch.set_rng_state(state["torch_rng"])
            except (KeyError, RuntimeError, TypeError, ValueError) as error:
                raise damaged(path, error) from None
        else:
            out_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out_dir / SETTINGS, setup.to_json(self.images_a.channels))

    def epoch_steps(self, epochs: int, run: RunInfo, sample_every: int, on_step) -> dict[str, float]:
        """One pass over domain A (in a random order); returns the last reported losses."""
        config = self.setup.config
        self.model.set_lr(learning_rate(config.lr, self.epoch, epochs))
        losses: dict[str, float] = {}
        count = len(self.images_a.paths)
        for index in self.rng.sample(range(count), count):
            real_a = self.images_a.crop(index, config.crop, self.rng).to(self.device)
            real_b = self.images_b.crop(self.rng.randrange(len(self.images_b.paths)), config.crop, self.rng)
            out = self.model.train_step(real_a, real_b.to(self.device))
            self.step += 1
            on_step()
            if self.step % sample_every == 0 or self.step == 1:
                losses = {key.split("/", 1)[1]: float(value) for key, value in out.items() if key.startswith("loss/")}
                run.emit("fit_progress", step=self.step, metrics=losses)
                grid = torch.cat([out[f"image/{key}"][0] for key in ("real_a", "fake_b", "rec_a")], dim=-1)
                run.emit("sample_images", step=self.step, images={"a_to_b": (grid[None] + 1) / 2})
        self.epoch += 1
        return losses

    def save(self) -> None:
        state = {**self.model.checkpoint(), "epoch": self.epoch, "step": self.step,
                 "python_rng": python_rng_state(self.rng), "torch_rng": torch.get_rng_state()}
        atomic_write(self.out_dir / CHECKPOINT, lambda temporary: torch.save(state, temporary))


def train(out_dir: Path, requested: TrainingSetup | None, epochs: int, device: str, logdir: Path | None,
          resume: bool, sample_every: int = 100, quiet: bool = False) -> dict[str, Any]:
    """Train (or resume training) up to ``epochs``; returns a summary of the run."""


    setup = training_setup(out_dir, requested, resume)
    trainer = Trainer(setup, out_dir, resolve_device(device), resume)
    run = RunInfo("translate", logdir or out_dir / "tb", tag="translate",
                  config={"arch": setup.arch, "seed": setup.seed, "epochs": epochs, **setup.config.to_dict()})
    total = max(0, epochs - trainer.epoch) * len(trainer.images_a.paths)
    bar = tqdm(total=total, desc="translate", unit="step", file=sys.stderr, disable=True if quiet else None)
    losses: dict[str, float] = {}
    run.emit("run_started")
    try:
        while trainer.epoch < epochs:
            losses = trainer.epoch_steps(epochs, run, sample_every, lambda: bar.update(1)) or losses
            trainer.save()
    finally:
        bar.close()
        run.emit("run_finished")
    return {"out": str(out_dir), "checkpoint": str(out_dir / CHECKPOINT), "epochs": epochs, "steps": trainer.step,
            "arch": setup.arch, "losses": losses}


def load_generator(out_dir: Path, direction: str, device: torch.device | str = "cpu") -> tuple[Generator, int, int]:
    """The trained generator of ``direction`` (``a2b`` or ``b2a``), the channel count it expects and the smallest
    image side it translates; damaged settings or checkpoints are one line naming the file."""
    if not (out_dir / CHECKPOINT).exists() or not (out_dir / SETTINGS).exists():
        raise NasdipError(f"{out_dir}: no trained translation model ({CHECKPOINT}); train one with --domain-a/-b")
    stored = read_json(out_dir / SETTINGS, "translation settings")
    try:
        channels, config, arch = stored["channels"], CycleGANConfig(**stored["config"]), stored["arch"]
    except (KeyError, TypeError) as error:
        raise NasdipError(f"{out_dir / SETTINGS}: not the settings of a translation model ({type(error).__name__}: "
                          f"{error}); train again with --domain-a/-b") from None
    cell = cell_of(arch)
    generator = Generator(channels, config, cell)
    path = out_dir / CHECKPOINT
    state = read_checkpoint(path, device)
    try:
        generator.load_state_dict(state["g_ab" if direction == "a2b" else "g_ba"])
    except (KeyError, RuntimeError, TypeError) as error:
        raise damaged(path, error) from None
    return generator.to(device).eval(), channels, generator_min_side(channels, config, cell, training=False)


def apply(image: Path, out_dir: Path, direction: str = "a2b", device: str = "cpu") -> Path:
    """Translate one image with a trained model; writes ``OUT/<stem>_<direction>.png``."""
    run_device = resolve_device(device)
    generator, channels, smallest = load_generator(out_dir, direction, run_device)
    picture, info = load_image(image)
    height, width = picture.shape[-2:]
    if min(height, width) < smallest:
        raise NasdipError(f"{image}: is {width}x{height}; the translator needs images of at least {smallest}x{smallest} "
                          f"pixels (its two stride-2 layers and instance norms); use a larger image")
    with torch.no_grad():
        translated = generator(match_channels(picture, channels).to(run_device) * 2.0 - 1.0)
    return save_image(out_dir / f"{Path(image).stem}_{direction}.png", (translated.cpu() + 1.0) / 2.0, info.bits)
