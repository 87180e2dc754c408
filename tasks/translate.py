"""``nasdip translate``: unpaired image-to-image translation with CycleGAN, its upsamplers built from an architecture.

Unlike the restoration tasks this one trains on two folders of images (domains A and B) instead of fitting one
image, so it is a command of its own rather than a ``--task``::

    nasdip translate --domain-a winter/ --domain-b summer/ --arch nasdip-sr --epochs 100 --out runs/w2s
    nasdip translate --apply photo.jpg --out runs/w2s                 # A -> B with the trained generator
    nasdip translate ... --resume                                     # continue from runs/w2s/checkpoint.pt

Without ``--arch`` the generator keeps CycleGAN's transposed convolutions (the baseline); with one, both x2
upsamplers are the architecture's upsampling cell (bilinear for spaces without a cell, e.g. ``dip-skip``).
Training images are random ``--crop`` crops (upscaled if smaller) with random horizontal flips; see
:mod:`nasdip.tasks.translation_training` for checkpoints and logging.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from nasdip.options import LEARNING_RATE, MAX_WIDTH, SEED, STEPS, FiniteFloat


@click.command(name="translate")
@click.option("--domain-a", type=click.Path(path_type=Path, file_okay=False), help="Folder of domain A images.")
@click.option("--domain-b", type=click.Path(path_type=Path, file_okay=False), help="Folder of domain B images.")
@click.option("--arch", default=None, help="Architecture whose upsampling cell the generators use "
              "(default: CycleGAN's transposed convolutions).")
@click.option("--epochs", type=click.IntRange(1, 100_000), default=200, show_default=True, help="Passes over domain A.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Directory for the checkpoint, settings and translated images.")
@click.option("--crop", type=click.IntRange(16, 4096), default=256, show_default=True, help="Training crop side.")
@click.option("--ngf", type=click.IntRange(4, MAX_WIDTH), default=64, show_default=True, help="Generator width.")
@click.option("--ndf", type=click.IntRange(4, MAX_WIDTH), default=64, show_default=True, help="Discriminator width.")
@click.option("--blocks", type=click.IntRange(1, 64), default=9, show_default=True, help="Residual blocks.")
@click.option("--lr", type=LEARNING_RATE, default=2e-4, show_default=True, help="Adam learning rate.")
@click.option("--cycle", type=FiniteFloat(min=0, max=1000), default=10.0, show_default=True, help="Cycle-consistency weight.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seeds initialisation, crops and pairing.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--logdir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="TensorBoard directory (default OUT/tb).")
@click.option("--sample-every", type=STEPS, default=100, show_default=True,
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
    from nasdip.tasks.cyclegan import CycleGANConfig  # torch: only once the command runs
    from nasdip.tasks.translation_training import TrainingSetup, apply, cell_of, check_crop, train

    if apply_image is not None:
        path = apply(apply_image, out_dir, direction, device)
        click.echo(json.dumps({"output": str(path)}) if as_json else f"wrote {path}")
        return
    requested = None
    if domain_a is not None and domain_b is not None:
        cell = cell_of(arch)  # fail early on a bad --arch
        config = CycleGANConfig(ngf=ngf, ndf=ndf, blocks=blocks, cycle=cycle, lr=lr, crop=crop)
        check_crop(config, cell)  # before anything is written
        requested = TrainingSetup(domain_a, domain_b, arch, config, seed)
    summary = train(out_dir, requested, epochs, device, logdir, resume, sample_every, quiet)
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"trained {summary['steps']} steps ({epochs} epochs); wrote {summary['checkpoint']}")
