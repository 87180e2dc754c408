"""Benchmarks: degrade clean images as the paper does, restore them with several architectures, tabulate."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nasdip.arch import Arch
from nasdip.errors import NasdipError
from nasdip.events import RunInfo
from nasdip.fit import FitSettings
from nasdip.imageio import load_image, save_image
from nasdip.nn.config import NetConfig
from nasdip.restoration import crop_square, generator
from nasdip.task import Task

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def list_images(directory: Path) -> list[Path]:
    """The image files directly inside ``directory``, sorted by name."""
    if not directory.is_dir():
        raise NasdipError(f"{directory}: not a directory of images")
    images = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not images:
        raise NasdipError(f"{directory}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    return images


def run_bench(task: Task, images: Sequence[Path], archs: Sequence[Arch], config: NetConfig, settings: FitSettings,
              crop: int | None = None, run: RunInfo | None = None, callbacks: tuple = (),
              on_fit_start=None, out_dir: Path | None = None) -> list[dict[str, Any]]:
    """One row per (image, arch) plus one baseline row per image.

    Every architecture sees the same observation of an image (drawn with ``settings.seed`` and the image's
    position). A fit that fails is recorded with its error; the others go on.
    """
    rows: list[dict[str, Any]] = []
    for index, path in enumerate(images):
        clean = task.prepare_clean(crop_square(load_image(path)[0], crop))
        problem = task.degrade(clean, generator(settings.seed + 1000 * index), name=path.stem)
        size = f"{clean.shape[-1]}x{clean.shape[-2]}"
        baseline = task.metrics(task.baseline(problem), clean)
        rows.append({"image": path.name, "size": size, "arch": task.baseline_name, "baseline": True, **baseline,
                     "psnr_max": None, "seconds": None, "error": None})
        for arch in archs:
            if on_fit_start is not None:
                on_fit_start(f"{path.stem}/{arch.label}")
            child = run.child(f"{path.stem}/{arch.label}", observation=problem.observation, clean=clean) if run else None
            row: dict[str, Any] = {"image": path.name, "size": size, "arch": arch.label, "baseline": False}
            try:
                result = task.fit(problem, arch, config, settings, run=child, callbacks=callbacks)
            except NasdipError:
                raise
            except Exception as error:  # one failing fit must not lose the others
                rows.append({**row, "psnr": None, "ssim": None, "psnr_max": None, "seconds": None,
                             "error": f"{type(error).__name__}: {error}"})
                continue
            if out_dir is not None:
                save_image(out_dir / f"{path.stem}_{task.name}_{arch.label.replace(':', '-')}.png", result.output)
            rows.append({**row, "psnr": result.metrics["psnr"], "ssim": result.metrics["ssim"],
                         "psnr_max": result.metrics["psnr_max"], "seconds": result.seconds,
                         "seconds_per_step": result.seconds / result.iters, "iters": result.iters,
                         "rollbacks": result.rollbacks, "error": None})
    return rows


def means(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean of each metric per arch (baseline included), over the images where the fit succeeded."""
    order: list[str] = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["arch"] not in groups:
            order.append(row["arch"])
        groups.setdefault(row["arch"], []).append(row)
    summary = []
    for arch in order:
        good = [row for row in groups[arch] if row["error"] is None]
        entry: dict[str, Any] = {"arch": arch, "images": len(good), "failed": len(groups[arch]) - len(good)}
        for key in ("psnr", "psnr_max", "ssim", "seconds"):
            values = [row[key] for row in good if row.get(key) is not None]
            entry[key] = sum(values) / len(values) if values else None
        summary.append(entry)
    return summary


def format_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Text table lines for rows of one image or for means."""

    def cell(value: Any, digits: int) -> str:
        return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"

    lines = [f"  {'arch':24} {'PSNR':>7} {'PSNR max*':>10} {'SSIM':>7} {'seconds':>9}"]
    for row in rows:
        if row.get("error"):
            lines.append(f"  {row['arch']:24} failed: {row['error']}")
            continue
        lines.append(f"  {row['arch']:24} {cell(row['psnr'], 2):>7} {cell(row['psnr_max'], 2):>10} "
                     f"{cell(row['ssim'], 4):>7} {cell(row['seconds'], 1):>9}")
    return lines
