"""Bad input on the command line: one ``Error:`` line saying what was wrong and what to do, the right exit code
(2 for a bad command-line value, 1 for other user errors), no traceback, and nothing written: each row runs in an
empty working folder holding only the inputs it needs, which must be unchanged afterwards (no ``--out``, run
directory or translated image created). Everything is refused before any fitting starts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from nasdip.cli import cli
from nasdip.io.images import save_image
from nasdip.options import MAX_STEPS
from nasdip.tasks.cyclegan import CycleGANConfig, Generator

TINY_FIT = ["--iters", "2", "--width", "8", "--quiet"]
SSIM_REASON = r"\(SSIM's 11x11 window must fit in the restoration\)"
SR_REASON = r"\(SSIM's 11x11 window must fit in the restoration after shaving 4 border pixels\)"
SMALL_MODEL = CycleGANConfig(ngf=4, ndf=4, blocks=1, crop=32)


def save_model(folder: Path, checkpoint: bytes | None) -> None:
    """A trained-model folder for ``translate --apply``: its settings and a checkpoint (a real one of a tiny
    generator when ``checkpoint`` is None, else these bytes)."""
    folder.mkdir()
    settings = {"domain_a": "a", "domain_b": "b", "arch": None, "config": SMALL_MODEL.to_dict(), "seed": 0,
                "channels": 3}
    (folder / "translate.json").write_text(json.dumps(settings))
    if checkpoint is None:
        generator = Generator(3, SMALL_MODEL, None)
        torch.save({"g_ab": generator.state_dict(), "g_ba": generator.state_dict()}, folder / "checkpoint.pt")
    else:
        (folder / "checkpoint.pt").write_bytes(checkpoint)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working folder with the inputs the rows name: images of 8x8 and 1x1 pixels, a folder of search
    images of which one is 8x8, a 2 MiB file given as an architecture, trained-model folders (one with a
    damaged checkpoint) and two folders of training images."""
    monkeypatch.chdir(tmp_path)
    generator = torch.Generator().manual_seed(0)
    save_image(tmp_path / "tiny8.png", torch.rand(1, 3, 8, 8, generator=generator))
    save_image(tmp_path / "one.png", torch.rand(1, 3, 1, 1, generator=generator))
    save_image(tmp_path / "search" / "a.png", torch.rand(1, 3, 8, 8, generator=generator))
    save_image(tmp_path / "search" / "b.png", torch.rand(1, 3, 24, 24, generator=generator))
    save_image(tmp_path / "domain" / "x.png", torch.rand(1, 3, 24, 24, generator=generator))
    (tmp_path / "huge.json").write_bytes(b" " * (2 << 20))
    save_model(tmp_path / "model", None)
    save_model(tmp_path / "damaged", b"\x00not a checkpoint\xff" * 64)
    return tmp_path


def listing(folder: Path) -> dict[str, int]:
    """Every path under ``folder`` with its size (folders: -1)."""
    return {str(path.relative_to(folder)): -1 if path.is_dir() else path.stat().st_size for path in folder.rglob("*")}


def error_line(output: str) -> str:
    """The one ``Error:`` line of a refusal (click's usage lines around a usage error are allowed, nothing else)."""
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    others = [line for line in lines if not line.startswith(("Error: ", "Usage: ", "Try '"))]
    assert len(errors) == 1 and not others, output
    return errors[0][len("Error: "):]


def mps_available() -> bool:
    return torch.backends.mps.is_available()


def row(name: str, arguments: list[str], exit_code: int, pattern: str, skip: bool = False):
    """One case: the command line, its exit code and a regular expression the whole ``Error:`` line (without the
    prefix) must match; ``skip`` where the machine makes the input valid (it has MPS, CUDA)."""
    marks = pytest.mark.skipif(skip, reason="valid on this machine") if skip else ()
    return pytest.param(arguments, exit_code, pattern, id=name, marks=marks)


ROWS = [
    # 1. Numeric options have ranges, the accepted range in the message.
    row("lr-overflow", ["restore", "--task", "denoise", "--lr", "1e300", "--out", "out", *TINY_FIT], 2,
     r"Invalid value for '--lr': 1e\+300 is not in the range 0<x<=10\.0\. \(see 'nasdip restore --help'\)"),
    row("lr-search", ["search", "--searcher", "random", "--task", "denoise", "--lr", "1e300", "--run-dir", "run"], 2,
     r"Invalid value for '--lr': 1e\+300 is not in the range 0<x<=10\.0\. .*"),
    row("iters-huge", ["restore", "--task", "denoise", "--iters", str(10**20), "--out", "out", "--quiet"], 2,
     rf"Invalid value for '--iters': {10**20} is not in the range 1<=x<={MAX_STEPS}\. .*"),
    row("iters-huge-search", ["search", "--searcher", "random", "--task", "denoise", "--iters", str(10**20),
                           "--run-dir", "run"], 2, rf"Invalid value for '--iters': {10**20} is not in the range 1<=x<="
                                                   rf"{MAX_STEPS}\. .*"),
    row("stop-window-huge", ["bench", "--task", "denoise", "--images", "search", "--stop", "wmv", "--stop-window",
                          str(10**7)], 2, r"Invalid value for '--stop-window': 10000000 is not in the range .*"),
    row("size-zero", ["archs", "show", "dip-skip", "--size", "0"], 2,
     r"Invalid value for '--size': 0 is not in the range 1<=x<=65536\. \(see 'nasdip archs show --help'\)"),
    row("size-negative", ["archs", "show", "dip-skip", "--size", "-5"], 2,
     r"Invalid value for '--size': -5 is not in the range 1<=x<=65536\. .*"),
    row("process-threads", ["search", "--searcher", "random", "--task", "denoise", "--executor", "process",
                         "--process-threads", "-3", "--run-dir", "run"], 2,
     r"--process-threads must be in the range 1<=x<=1024, got -3 \(see 'nasdip search --help'\)"),
    row("rl-temperature", ["search", "--searcher", "rl", "--task", "denoise", "--searcher-option", "temperature=0",
                        "--run-dir", "run"], 2, r"temperature must be in the range 0\.01<=x<=100, got 0\.0 .*"),
    row("darts-log-every", ["search", "--searcher", "darts", "--task", "denoise", "--searcher-option", "log_every=0",
                         "--run-dir", "run"], 2, r"log_every must be in the range 1<=x<=1000000, got 0 .*"),
    row("darts-arch-lr", ["search", "--searcher", "darts", "--task", "denoise", "--searcher-option", "arch_lr=-1",
                       "--run-dir", "run"], 2, r"arch_lr must be in the range 0<x<=10\.0, got -1\.0 .*"),
    row("rl-hidden-negative", ["search", "--searcher", "rl", "--task", "denoise", "--searcher-option", "hidden=-5",
                            "--run-dir", "run"], 2, r"hidden must be in the range 1<=x<=4096, got -5 .*"),
    row("rl-hidden-zero", ["search", "--searcher", "rl", "--task", "denoise", "--searcher-option", "hidden=0",
                        "--run-dir", "run"], 2, r"hidden must be in the range 1<=x<=4096, got 0 .*"),
    row("sigma", ["restore", "--task", "denoise", "--sigma", "300", "--out", "out", *TINY_FIT], 2,
     r"--sigma must be in the range 0<x<=255, got 300\.0 \(see 'nasdip restore --help'\)"),
    row("drop", ["restore", "--task", "inpaint", "--drop", "1", "--out", "out", *TINY_FIT], 2,
     r"--drop must be in the range 0<=x<1, got 1\.0 .*"),
    row("beta", ["bench", "--task", "dehaze", "--beta", "0", "--images", "search"], 2,
     r"--beta must be in the range 0<x<=20, got 0\.0 .*"),
    row("device-mps", ["restore", "--task", "denoise", "--device", "mps", "--out", "out", *TINY_FIT], 1,
                 r"device 'mps' requested but (this torch build has no MPS support|MPS is not available on this "
                 r"machine); use --device cpu", skip=mps_available()),
    row("device-unknown", ["restore", "--task", "denoise", "--device", "tpu", "--out", "out", *TINY_FIT], 1,
     r"unknown device 'tpu'; use auto, cpu or cuda\[:N\]"),
    # 2. The network width is a multiple of 4 (a usage error).
    row("width-restore", ["restore", "--task", "denoise", "--width", "5", "--out", "out", "--quiet"], 2,
     r"Invalid value for '--width': 5 is not a multiple of 4 \(accepted: 4, 8, 12, \.\.\. up to 1024\) "
     r"\(see 'nasdip restore --help'\)"),
    row("width-bench", ["bench", "--task", "denoise", "--images", "search", "--width", "6"], 2,
     r"Invalid value for '--width': 6 is not a multiple of 4 .*"),
    row("width-archs", ["archs", "show", "dip-skip", "--width", "10"], 2,
     r"Invalid value for '--width': 10 is not a multiple of 4 .*"),
    row("width-search", ["search", "--searcher", "random", "--task", "denoise", "--width", "5", "--run-dir", "run"], 2,
     r"Invalid value for '--width': 5 is not a multiple of 4 \(accepted: 4, 8, 12, \.\.\. up to 1024\) .*"),
    # 3. Images too small for the task's minimum size (SSIM's window after the border shave), before fitting.
    row("tiny-gt", ["restore", "tiny8.png", "--task", "denoise", "--gt", "tiny8.png", "--out", "out", *TINY_FIT], 1,
     rf"tiny8\.png: image is 8x8; task 'denoise' needs at least 11x11 pixels {SSIM_REASON}; use a larger image"),
    row("tiny-sr-observation", ["restore", "one.png", "--task", "sr", "--out", "out", *TINY_FIT], 1,
     rf"one\.png: the low-resolution image is 1x1; task 'sr' needs at least 5x5 pixels {SR_REASON}; use a larger "
     r"image"),
    row("builtin-crop-8", ["restore", "--task", "denoise", "--crop", "8", "--out", "out", *TINY_FIT], 2,
     rf"--crop 8 is too small for task denoise \(sigma=25\.0\): it needs at least 11x11 pixels {SSIM_REASON}; use "
     r"--crop 11 or larger \(see 'nasdip restore --help'\)"),
    row("builtin-sr-crop-16", ["restore", "--task", "sr", "--crop", "16", "--scale", "4", "--out", "out", *TINY_FIT], 2,
     rf"--crop 16 is too small for task sr \(scale=4\): it needs at least 20x20 pixels {SR_REASON}; use --crop 20 "
     r"or larger .*"),
    row("bench-crop", ["bench", "--task", "denoise", "--images", "search", "--crop", "10", "--out", "out"], 2,
     r"--crop 10 is too small for task denoise \(sigma=25\.0\): it needs at least 11x11 pixels .*; use --crop 11 "
     r"or larger .*"),
    # 4. translate: crops the networks cannot train on, damaged checkpoints, images too small to translate.
    row("translate-crop-16", ["translate", "--domain-a", "domain", "--domain-b", "domain", "--crop", "16", "--ngf", "4",
                           "--ndf", "4", "--blocks", "1", "--epochs", "1", "--out", "trained", "--device", "cpu",
                           "--quiet"], 2,
     r"--crop 16 is too small for CycleGAN's networks \(the PatchGAN discriminator's stride-2 layers and the "
     r"instance norms need at least 24x24 pixels\); use --crop 24 or larger .*"),
    row("translate-damaged", ["translate", "--apply", "tiny8.png", "--out", "damaged"], 1,
     r"damaged/checkpoint\.pt: damaged or not a translation checkpoint \(not a readable torch checkpoint file\); "
     r"train again with --domain-a/-b or restore the file from a backup"),
    row("translate-1x1", ["translate", "--apply", "one.png", "--out", "model"], 1,
     r"one\.png: is 1x1; the translator needs images of at least 5x5 pixels \(its two stride-2 layers and "
     r"instance norms\); use a larger image"),
    # 5. Architecture documents have a size limit (real ones are a few kB).
    row("arch-huge", ["archs", "show", "huge.json"], 1,
     r"huge\.json: larger than 1 MiB, so not an architecture document \(those are a few kB of JSON\); check the "
     r"path"),
    row("arch-dev-zero", ["restore", "--task", "denoise", "--arch", "/dev/zero", "--out", "out", *TINY_FIT],
                 1, r"/dev/zero: larger than 1 MiB, so not an architecture document .*", skip=not Path("/dev/zero").exists()),
    # 6. Searches in which every candidate must fail do not start (no run directory).
    row("search-cuda", ["search", "--searcher", "random", "--task", "denoise", "--device", "cuda",
                                 "--run-dir", "run"], 1,
                 r"device 'cuda' requested but CUDA is not available; use --device cpu", skip=torch.cuda.is_available()),
    row("search-sr-crop-16", ["search", "--searcher", "random", "--task", "sr", "--crop", "16", "--run-dir", "run"], 2,
     rf"--crop 16 is too small for task sr \(scale=4\): it needs at least 20x20 pixels {SR_REASON}; use --crop 20 "
     r"or larger \(see 'nasdip search --help'\)"),
    row("search-ladder-crop", ["search", "--searcher", "random", "--task", "denoise", "--schedule", "halving",
                            "--ladder-crops", "8", "--run-dir", "run"], 2,
     r"--ladder-crops 8 is too small for task denoise .*; use --ladder-crops 11 or larger .*"),
    row("search-tiny-images", ["search", "--searcher", "random", "--task", "denoise", "--images", "search",
                            "--crop", "32", "--run-dir", "run", *TINY_FIT], 1,
     rf"a: image is 8x8; task 'denoise' needs at least 11x11 pixels {SSIM_REASON}; use a larger image"),
]


@pytest.mark.parametrize(("arguments", "exit_code", "pattern"), ROWS)
def test_bad_input_is_one_line_and_writes_nothing(runner, workdir, arguments, exit_code, pattern):
    before = listing(workdir)
    result = runner.invoke(cli, arguments)
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, (RuntimeError, ValueError,
                                                                                   ZeroDivisionError, MemoryError))
    line = error_line(result.output)
    assert re.fullmatch(pattern, line), line
    assert listing(workdir) == before  # no --out, run directory or output file



@pytest.fixture
def one_thread():
    """Tiny fits run fastest, and steadiest on a busy machine, on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_bench_keeps_the_results_of_the_good_images_beside_a_refused_one(runner, workdir, one_thread):
    # search/ holds a.png (8x8, below denoising's 11x11) and b.png (24x24).
    result = runner.invoke(cli, ["bench", "--task", "denoise", "--images", "search", "--arch", "dip-skip",
                                 "--iters", "2", "--width", "4", "--device", "cpu", "--quiet", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output.splitlines()[0])
    rows = {(row["image"], row["arch"]): row for row in report["rows"]}
    assert rows["b.png", "dip-skip"]["error"] is None and rows["b.png", "dip-skip"]["psnr"] > 0
    assert rows["b.png", "noisy"]["psnr"] > 0
    for arch in ("noisy", "dip-skip"):
        refused = rows["a.png", arch]
        assert refused["refused"] and refused["size"] == "8x8"
        assert refused["error"].startswith("image is 8x8; task 'denoise' needs at least 11x11 pixels")
    means = {entry["arch"]: entry for entry in report["means"]}
    assert means["dip-skip"]["images"] == 1 and means["dip-skip"]["psnr"] == rows["b.png", "dip-skip"]["psnr"]
    assert result.output.splitlines()[-1] == "Error: 1 image(s) not benchmarked (a.png); see the table"


def test_bench_table_gives_a_refused_image_one_line(runner, workdir, one_thread):
    result = runner.invoke(cli, ["bench", "--task", "denoise", "--images", "search", "--arch", "dip-skip",
                                 "--iters", "2", "--width", "4", "--device", "cpu", "--quiet"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [line for line in lines if line.startswith("a.png")] == [
        "a.png (8x8): not benchmarked: image is 8x8; task 'denoise' needs at least 11x11 pixels "
        "(SSIM's 11x11 window must fit in the restoration); use a larger image"]
    assert "b.png (24x24)" in lines and "mean over 1 images" in lines


SATURATING = ["restore", "--task", "sr", "--crop", "20", "--iters", "8", "--width", "4", "--arch", "dip-skip",
              "--device", "cpu", "--quiet", "--json", "--out", "out"]


def test_a_saturated_restoration_is_warned_in_one_line(runner, workdir, one_thread):
    # Measured: at lr 10 every output value is 0 or 255 from the second step on and the loss stays 5 dB above
    # the first step's; at the task's 0.01 neither happens.
    with pytest.warns(RuntimeWarning) as caught:
        result = runner.invoke(cli, [*SATURATING, "--lr", "10"])
    assert result.exit_code == 0, result.output
    ours = [str(warning.message) for warning in caught if str(warning.message).startswith("nasdip: ")]
    assert len(ours) == 1 and "\n" not in ours[0]
    assert re.fullmatch(r"nasdip: the restoration is saturated \(100% of its values are 0 or 255\)( and the fit's "
                        r"final loss is \d+\.\d dB above its best \(step \d+\))?: learning rate 10 is likely too "
                        r"high; try a lower --lr \(the task's default is 0\.01\)", ours[0]), ours[0]
    assert json.loads(result.output)["warnings"] == [ours[0][len("nasdip: "):]]


def test_a_sound_restoration_is_not_warned_about(runner, workdir, one_thread, recwarn):
    result = runner.invoke(cli, SATURATING)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["warnings"] == []
    assert not [warning for warning in recwarn if str(warning.message).startswith("nasdip: ")]
