"""``translate``: unpaired image-to-image translation with CycleGAN, its upsamplers built from an architecture.

Unlike the restoration tasks this one trains on two folders of images (domains A and B) instead of fitting one
image, so it has its own command::

    nasdip translate --domain-a winter/ --domain-b summer/ --arch nasdip-sr --epochs 100 --out runs/w2s
    nasdip translate --apply photo.jpg --out runs/w2s                 # A -> B with the trained generator
    nasdip translate ... --resume                                     # continue from runs/w2s/checkpoint.pt

Without ``--arch`` the generator keeps CycleGAN's transposed convolutions (the baseline); with one, both x2
upsamplers are the architecture's upsampling cell (bilinear for spaces without a cell, e.g. ``dip-skip``).
Training images are random ``--crop`` crops (upscaled if smaller) with random horizontal flips; a checkpoint
(networks, optimisers, image pools, random states) is written atomically after every epoch, and samples and
losses go to TensorBoard (``--logdir``, default ``OUT/tb``).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import click
import torch

from nasdip import hookimpl
from nasdip.errors import NasdipError, UsageError
from nasdip.files import atomic_write, atomic_write_text
from nasdip.fit import FitSettings
from nasdip.task import Task
from nasdip.tasks.cyclegan import CycleGAN, CycleGANConfig, Generator

CHECKPOINT = "checkpoint.pt"
SETTINGS = "translate.json"


class Translation(Task):
    """Unpaired translation between two image folders (CycleGAN); use ``nasdip translate``."""

    name = "translate"
    help = "unpaired image translation (CycleGAN) between two folders; trains with `nasdip translate`"

    @staticmethod
    def _refusal() -> UsageError:
        return UsageError("task 'translate' trains on two image folders, not one image: use `nasdip translate`")

    def settings(self) -> FitSettings:
        raise self._refusal()

    def degrade(self, clean, generator, name="image"):
        raise self._refusal()

    def observe(self, observation, info=None, name="image"):
        raise self._refusal()

    def fit(self, *args: Any, **kwargs: Any):
        raise self._refusal()


def cell_of(spec: str | None):
    """The upsampling cell of an architecture (bilinear for spaces without one); ``None`` without ``--arch``."""
    if spec is None:
        return None
    from nasdip.catalog import resolve_arch
    from nasdip.nn.cell import CELL_DECISION_NAMES, Cell
    from nasdip.nn.skip import BILINEAR_CELL

    arch = resolve_arch(spec)
    if all(name in arch.choices for name in CELL_DECISION_NAMES):
        return Cell.from_choices(arch.choices)
    return BILINEAR_CELL


class Domain:
    """The images of one domain, loaded on first use, served as random crops in [-1, 1]."""

    def __init__(self, directory: Path, channels: int | None = None) -> None:
        from nasdip.benchmark import list_images

        self.paths = list_images(directory)
        self.cache: dict[int, torch.Tensor] = {}
        self.channels = channels or self.load(0).shape[1]

    def load(self, index: int) -> torch.Tensor:
        if index not in self.cache:
            from nasdip.imageio import load_image

            self.cache[index] = load_image(self.paths[index])[0]
        return self.cache[index]

    def crop(self, index: int, side: int, rng: random.Random) -> torch.Tensor:
        return random_crop(match_channels(self.load(index), self.channels), side, rng)


def match_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey -> RGB by repetition, RGB -> grey by averaging."""
    if image.shape[1] == channels:
        return image
    return image.expand(-1, channels, -1, -1) if channels == 3 else image.mean(dim=1, keepdim=True)


def random_crop(image: torch.Tensor, side: int, rng: random.Random) -> torch.Tensor:
    """A random ``side x side`` crop (the image is upscaled first if smaller), flipped with probability 1/2,
    scaled to [-1, 1]."""
    from kornia.geometry.transform import resize

    height, width = image.shape[-2:]
    if min(height, width) < side:
        scale = side / min(height, width)
        image = resize(image, (max(side, round(height * scale)), max(side, round(width * scale))), antialias=True)
        height, width = image.shape[-2:]
    top, left = rng.randrange(height - side + 1), rng.randrange(width - side + 1)
    crop = image[..., top : top + side, left : left + side]
    if rng.random() < 0.5:
        crop = crop.flip(-1)
    return crop * 2.0 - 1.0


def learning_rate(base: float, epoch: int, epochs: int) -> float:
    """CycleGAN's schedule: constant for the first half of the epochs, then linearly towards zero."""
    constant = epochs // 2
    if epoch < constant:
        return base
    return base * (1.0 - (epoch - constant) / (epochs - constant + 1))


def train(domain_a: Path | None, domain_b: Path | None, out_dir: Path, arch: str | None, epochs: int,
          config: CycleGANConfig, seed: int, device: str, logdir: Path | None, resume: bool,
          sample_every: int = 100, quiet: bool = False) -> dict[str, Any]:
    """Train (or resume training) a CycleGAN; returns a summary of the run."""
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    from nasdip.fit import resolve_device

    checkpoint_path, settings_path = out_dir / CHECKPOINT, out_dir / SETTINGS
    if resume:
        if not checkpoint_path.exists():
            raise NasdipError(f"{out_dir}: no {CHECKPOINT} to resume from")
        stored = json.loads(settings_path.read_text())
        domain_a, domain_b, arch = Path(stored["domain_a"]), Path(stored["domain_b"]), stored["arch"]
        config, seed = CycleGANConfig(**stored["config"]), stored["seed"]
    else:
        if domain_a is None or domain_b is None:
            raise UsageError("training needs --domain-a and --domain-b (or --apply IMAGE to translate)")
        if checkpoint_path.exists():
            raise NasdipError(f"{out_dir}: a translation model is already trained here; pass --resume or another --out")
    run_device = resolve_device(device)
    images_a = Domain(domain_a)
    images_b = Domain(domain_b, images_a.channels)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    model = CycleGAN(images_a.channels, config, cell_of(arch), rng).to(run_device)
    start_epoch, step = 0, 0
    if resume:
        state = torch.load(checkpoint_path, weights_only=True, map_location=run_device)
        model.load_checkpoint(state)
        start_epoch, step = state["epoch"], state["step"]
        version, internal, gauss = state["python_rng"]
        rng.setstate((version, tuple(internal), gauss))
        torch.set_rng_state(state["torch_rng"])
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(settings_path, json.dumps({"domain_a": str(domain_a), "domain_b": str(domain_b),
                                                     "arch": arch, "config": config.to_dict(), "seed": seed,
                                                     "channels": images_a.channels}, indent=2) + "\n")
    writer = SummaryWriter(str(logdir or out_dir / "tb"))
    total = max(0, epochs - start_epoch) * len(images_a.paths)
    bar = tqdm(total=total, desc="translate", unit="step", file=sys.stderr, disable=True if quiet else None)
    losses: dict[str, float] = {}
    try:
        for epoch in range(start_epoch, epochs):
            model.set_lr(learning_rate(config.lr, epoch, epochs))
            for index in rng.sample(range(len(images_a.paths)), len(images_a.paths)):
                real_a = images_a.crop(index, config.crop, rng).to(run_device)
                real_b = images_b.crop(rng.randrange(len(images_b.paths)), config.crop, rng).to(run_device)
                out = model.train_step(real_a, real_b)
                step += 1
                bar.update(1)
                if step % sample_every == 0 or step == 1:
                    losses = {k.split("/", 1)[1]: float(v) for k, v in out.items() if k.startswith("loss/")}
                    for key, value in losses.items():
                        writer.add_scalar(f"translate/{key}", value, step)
                    grid = torch.cat([out[f"image/{k}"][0] for k in ("real_a", "fake_b", "rec_a")], dim=-1)
                    writer.add_image("translate/a_to_b", (grid + 1) / 2, step)
            state = {**model.checkpoint(), "epoch": epoch + 1, "step": step,
                     "python_rng": _python_rng_state(rng), "torch_rng": torch.get_rng_state()}
            atomic_write(checkpoint_path, lambda temporary, state=state: torch.save(state, temporary))
    finally:
        bar.close()
        writer.close()
    return {"out": str(out_dir), "checkpoint": str(checkpoint_path), "epochs": epochs, "steps": step,
            "arch": arch, "losses": losses}


def _python_rng_state(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def load_generator(out_dir: Path, direction: str, device: str = "cpu") -> tuple[Generator, int]:
    """The trained generator of ``direction`` (``a2b`` or ``b2a``) and the channel count it expects."""
    checkpoint_path, settings_path = out_dir / CHECKPOINT, out_dir / SETTINGS
    if not checkpoint_path.exists() or not settings_path.exists():
        raise NasdipError(f"{out_dir}: no trained translation model ({CHECKPOINT}); train one with --domain-a/-b")
    stored = json.loads(settings_path.read_text())
    generator = Generator(stored["channels"], CycleGANConfig(**stored["config"]), cell_of(stored["arch"]))
    state = torch.load(checkpoint_path, weights_only=True, map_location=device)
    generator.load_state_dict(state["g_ab" if direction == "a2b" else "g_ba"])
    return generator.to(device).eval(), stored["channels"]


def apply(image: Path, out_dir: Path, direction: str = "a2b", device: str = "cpu") -> Path:
    """Translate one image with a trained model; writes ``OUT/<stem>_<direction>.png``."""
    from nasdip.fit import resolve_device
    from nasdip.imageio import load_image, save_image

    run_device = resolve_device(device)
    generator, channels = load_generator(out_dir, direction, run_device)
    picture, info = load_image(image)
    with torch.no_grad():
        translated = generator(match_channels(picture, channels).to(run_device) * 2.0 - 1.0)
    return save_image(out_dir / f"{Path(image).stem}_{direction}.png", (translated.cpu() + 1.0) / 2.0, info.bits)


@click.command(name="translate")
@click.option("--domain-a", type=click.Path(path_type=Path, file_okay=False), help="Folder of domain A images.")
@click.option("--domain-b", type=click.Path(path_type=Path, file_okay=False), help="Folder of domain B images.")
@click.option("--arch", default=None, help="Architecture whose upsampling cell the generators use "
              "(default: CycleGAN's transposed convolutions).")
@click.option("--epochs", type=click.IntRange(1), default=200, show_default=True, help="Passes over domain A.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Directory for the checkpoint, settings and translated images.")
@click.option("--crop", type=click.IntRange(16), default=256, show_default=True, help="Training crop side.")
@click.option("--ngf", type=click.IntRange(4), default=64, show_default=True, help="Generator width.")
@click.option("--ndf", type=click.IntRange(4), default=64, show_default=True, help="Discriminator width.")
@click.option("--blocks", type=click.IntRange(1), default=9, show_default=True, help="Residual blocks.")
@click.option("--lr", type=float, default=2e-4, show_default=True, help="Adam learning rate.")
@click.option("--cycle", type=float, default=10.0, show_default=True, help="Cycle-consistency weight.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds initialisation, crops and pairing.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--logdir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="TensorBoard directory (default OUT/tb).")
@click.option("--sample-every", type=click.IntRange(1), default=100, show_default=True,
              help="Steps between TensorBoard samples.")
@click.option("--resume", is_flag=True, help="Continue training from OUT/checkpoint.pt up to --epochs.")
@click.option("--apply", "apply_image", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Translate this image with the model in --out instead of training.")
@click.option("--direction", type=click.Choice(["a2b", "b2a"]), default="a2b", show_default=True,
              help="Direction for --apply.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def translate_command(domain_a, domain_b, arch, epochs, out_dir, crop, ngf, ndf, blocks, lr, cycle, seed, device,
                      logdir, sample_every, resume, apply_image, direction, as_json, quiet) -> None:
    """Train an unpaired image translator (CycleGAN) between two folders, or apply one to an image."""
    if apply_image is not None:
        path = apply(apply_image, out_dir, direction, device)
        click.echo(json.dumps({"output": str(path)}) if as_json else f"wrote {path}")
        return
    config = CycleGANConfig(ngf=ngf, ndf=ndf, blocks=blocks, cycle=cycle, lr=lr, crop=crop)
    if arch is not None:
        cell_of(arch)  # fail early on a bad --arch
    summary = train(domain_a, domain_b, out_dir, arch, epochs, config, seed, device, logdir, resume, sample_every, quiet)
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"trained {summary['steps']} steps ({epochs} epochs); wrote {summary['checkpoint']}")


@hookimpl
def register_tasks(register) -> None:
    register(Translation)


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(translate_command)
