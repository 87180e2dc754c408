"""``nasdip restore``: the built-in photo, user images with ground truth, bit depths, clear errors, no partial output."""

from __future__ import annotations

import json
import os
import re
import stat
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from nasdip.cli import cli
from nasdip.io.builtin import builtin_photo
from nasdip.io.crops import center_crop
from nasdip.io.images import save_image
from nasdip.ops import downsample

FAST = ["--iters", "15", "--width", "8", "--quiet", "--device", "cpu"]
CELL_WITH_STRING_KERNEL = {
    "format": "nasdip-arch", "version": 1, "space": "upsample-cell",
    "choices": {"spatial": "nearest", "order": "spatial_first", "transform": "conv", "kernel": "3", "activation": "relu"},
}


def png_claiming(width: int, height: int) -> bytes:
    """An 8-bit RGB PNG whose header claims ``width x height`` pixels (a decompression bomb's header)."""

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def run(runner, *args):
    return runner.invoke(cli, ["restore", *args, *FAST], catch_exceptions=False)


def test_builtin_photo_json(runner, tmp_path):
    result = run(runner, "--task", "denoise", "--crop", "64", "--out", str(tmp_path / "out"), "--json", "--seed", "3")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for key in ("psnr", "ssim", "psnr_max", "iters", "seconds", "output", "noisy_psnr", "seed", "comparison"):
        assert key in report
    assert report["iters"] == 15 and report["seed"] == 3 and report["arch"] == "nasdip-denoise"
    restored = Image.open(report["output"])
    assert restored.size == (64, 64) and restored.mode == "RGB"
    width, height = Image.open(report["comparison"]).size
    zoom = (width - 8) // (64 * 3)  # narrow panels are enlarged to fit their captions
    assert width == 64 * 3 * zoom + 8 and height > 64 * zoom  # three panels, captions underneath


def test_user_image_with_ground_truth(runner, tmp_path):
    clean = center_crop(builtin_photo()[0], 64, 64)
    save_image(tmp_path / "hr.png", clean)
    save_image(tmp_path / "lr.png", downsample(clean, 2))
    result = run(runner, str(tmp_path / "lr.png"), "--task", "sr", "--scale", "2", "--gt", str(tmp_path / "hr.png"),
                 "--arch", "dip-skip", "--out", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["psnr"] is not None and report["bicubic_psnr"] > 25
    assert Image.open(report["output"]).size == (64, 64)


def test_user_image_without_ground_truth_prints_a_summary(runner, tmp_path):
    save_image(tmp_path / "noisy.png", torch.rand(1, 3, 20, 24))
    result = run(runner, str(tmp_path / "noisy.png"), "--task", "denoise", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "PSNR" not in result.output
    assert (tmp_path / "out" / "noisy_denoise.png").is_file()


def test_16_bit_grey_input_gives_16_bit_output(runner, tmp_path):
    array = (np.random.default_rng(0).random((24, 24)) * 65535).astype(np.uint16)
    Image.fromarray(array).save(tmp_path / "deep.png")
    result = run(runner, str(tmp_path / "deep.png"), "--task", "denoise", "--out", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.output
    output = Image.open(json.loads(result.output)["output"])
    assert output.mode in ("I;16", "I") and output.size == (24, 24)


def test_inpainting_with_a_mask_file(runner, tmp_path):
    save_image(tmp_path / "photo.png", torch.rand(1, 1, 16, 16))
    mask = np.full((16, 16), 255, dtype=np.uint8)
    mask[4:8, 4:8] = 0
    Image.fromarray(mask).save(tmp_path / "mask.png")
    result = run(runner, str(tmp_path / "photo.png"), "--task", "inpaint", "--mask", str(tmp_path / "mask.png"),
                 "--out", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.output
    assert Image.open(json.loads(result.output)["output"]).mode == "L"


@pytest.mark.parametrize(
    ("setup", "args", "code", "message"),
    [
        (None, ["missing.png", "--task", "denoise"], 1, "missing.png: no such image file"),
        ("text", ["{dir}/bad.png", "--task", "denoise"], 1, "bad.png: not an image file nasdip can read"),
        ("tiny", ["{dir}/tiny.png", "--task", "denoise"], 1, "image is 4x4; task 'denoise' needs at least 11x11 pixels"),
        ("mask", ["{dir}/photo.png", "--task", "inpaint", "--mask", "{dir}/mask.png"], 1,
         "mask.png: mask is 8x8 but the image is 16x16"),
        ("photo", ["{dir}/photo.png", "--task", "denoise", "--scale", "2"], 2,
         "--scale is not an option of task 'denoise' (its options: --sigma)"),
        ("photo", ["{dir}/photo.png", "--task", "denoise", "--gt", "{dir}/mask.png"], 1,
         "mask.png: has 1 channels but the image has 3"),
        ("photo", ["{dir}/photo.png", "--task", "denoise", "--arch", "nope"], 2,
         "unknown architecture 'nope': no preset or file of that name; presets: dip-skip, nasdip-denoise, "),
        ("rgba", ["{dir}/rgba.png", "--task", "denoise"], 1, "rgba.png: has transparent pixels"),
        (None, ["--task", "dnoise"], 2, "unknown task 'dnoise' (did you mean 'denoise'?); choose from: dehaze, denoise, inpaint, sr"),
        ("bomb", ["{dir}/bomb.png", "--task", "denoise"], 1, "bomb.png: claims 400 megapixels, more than nasdip reads"),
        ("photo", ["{dir}/photo.png", "--task", "denoise", "--arch", "nasdip-denoize"], 2,
         "unknown architecture 'nasdip-denoize': no preset or file of that name; did you mean 'nasdip-denoise'?"),
        ("photo", ["{dir}/photo.png", "--task", "denoise", "--arch", "{dir}/photo.png"], 1,
         "photo.png: not an architecture file (binary, not UTF-8 JSON text)"),
        ("photo", ["{dir}/photo.png", "--task", "denoise", "--arch", "{dir}/missing.json"], 1,
         "missing.json: no such architecture file"),
        ("kernel", ["{dir}/photo.png", "--task", "denoise", "--arch", "{dir}/cell.json"], 1,
         "cell.json.choices.kernel: '3' must be a number: write 3 (choose from 1, 3, 5, 7)"),
        ("photo", ["{dir}/photo.png", "--task", "denoise", "--lr", "nan"], 2,
         "Invalid value for '--lr': 'nan' is not a finite number"),
        ("photo", ["{dir}/photo.png", "--task", "denoise", "--lr", "inf"], 2,
         "Invalid value for '--lr': 'inf' is not a finite number"),
        ("photo", ["{dir}/photo.png", "--task", "denoise", "--lr", "-inf"], 2,
         "Invalid value for '--lr': '-inf' is not a finite number"),
        ("photo", ["{dir}/photo.png", "--task", "denoise", "--sigma", "nan"], 2,
         "Invalid value for '--sigma': 'nan' is not a finite number"),
        (None, ["--task", "denoise", "--seed", str(2**64)], 2,
         f"Invalid value for '--seed': {2**64} is not in the range 0<=x<={2**63 - 1}."),
        (None, ["--task", "denoise", "--seed", "-1"], 2, "Invalid value for '--seed': -1 is not in the range 0<=x<="),
        ("rgbmask", ["{dir}/photo.png", "--task", "inpaint", "--mask", "{dir}/photo.png"], 1,
         "photo.png: is a colour image (100% of its pixels coloured), not a mask; a mask is black (missing) and white"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(runner, tmp_path, setup, args, code, message):
    if setup == "text":
        (tmp_path / "bad.png").write_text("hello")
    if setup == "tiny":
        save_image(tmp_path / "tiny.png", torch.rand(1, 3, 4, 4))
    if setup in ("mask", "photo"):
        save_image(tmp_path / "photo.png", torch.rand(1, 3 if setup == "photo" else 1, 16, 16))
        save_image(tmp_path / "mask.png", torch.ones(1, 1, 8, 8))
    if setup == "rgba":
        Image.fromarray(np.zeros((16, 16, 4), dtype=np.uint8)).save(tmp_path / "rgba.png")
    if setup == "bomb":
        (tmp_path / "bomb.png").write_bytes(png_claiming(20000, 20000))
    if setup == "kernel":
        save_image(tmp_path / "photo.png", torch.rand(1, 3, 16, 16))
        (tmp_path / "cell.json").write_text(json.dumps(CELL_WITH_STRING_KERNEL))
    if setup == "rgbmask":
        colours = torch.zeros(1, 3, 16, 16)
        colours[:, 0] = 1.0  # pure red
        save_image(tmp_path / "photo.png", colours)
    out = tmp_path / "out"
    arguments = [a.format(dir=tmp_path) for a in args] + ["--out", str(out)]
    result = runner.invoke(cli, ["restore", *arguments, *FAST])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_automatic_stopping_is_reported(runner, tmp_path):
    result = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "32", "--iters", "80", "--width", "8",
                                 "--stop", "auto", "--stop-window", "10", "--stop-patience", "20", "--quiet",
                                 "--out", str(tmp_path), "--json", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["stop"] == "auto" and report["stop_reason"] in ("detected", "cap")
    assert 10 <= report["stop_step"] <= report["iters"] <= 80
    assert report["stop_reason"] == "cap" or report["iters"] >= report["stop_step"] + 20
    assert 5 < report["holdout_psnr"] < 40
    text = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "32", "--iters", "40", "--width", "8",
                               "--stop", "wmv", "--stop-window", "10", "--stop-patience", "500", "--quiet",
                               "--out", str(tmp_path), "--device", "cpu"])
    assert "stopping rule wmv: returned step 40 of 40 (the detector did not fire before the cap)" in text.output


def test_bad_stop_settings_fail_before_fitting(runner, tmp_path):
    result = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "32", "--iters", "40", "--stop", "wmv",
                                 "--stop-window", "50", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "the stopping window (50 steps) must be shorter than the step cap (--iters 40)" in result.output
    assert not (tmp_path / "out").exists()


def test_outputs_honour_the_umask(runner, tmp_path):
    original = os.umask(0o027)
    try:
        result = run(runner, "--task", "denoise", "--crop", "16", "--out", str(tmp_path / "out"), "--json")
    finally:
        os.umask(original)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for key in ("output", "comparison"):
        assert stat.S_IMODE(os.stat(report[key]).st_mode) == 0o640


def test_compile_flag_compiles_the_network_and_is_reported(runner, tmp_path, monkeypatch):
    compiled = []

    def record(network, **options):
        compiled.append((type(network).__name__, options))
        return network

    monkeypatch.setattr(torch, "compile", record)
    result = run(runner, "--task", "denoise", "--crop", "32", "--compile", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    assert compiled == [("PaddedNet", {"dynamic": False})] and json.loads(result.output)["compiled"] is True
    text = run(runner, "--task", "denoise", "--crop", "32", "--out", str(tmp_path)).output
    assert len(compiled) == 1 and "cpu, fp32)" in text


def test_a_restoration_below_its_input_is_warned_about(runner, tmp_path):
    """Two steps of a fresh network score far below the noisy input: the user is told, in one line."""
    result = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "32", "--iters", "2", "--width", "8",
                                 "--device", "cpu", "--quiet", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (warning,) = [line for line in result.stderr.splitlines() if line.startswith("Warning")]
    assert re.fullmatch(r"Warning: the restoration \(PSNR \d+\.\d\d dB\) scores below the noisy input \(\d+\.\d\d dB\): "
                        r"fit longer \(--iters\), stop automatically \(--stop auto\) or try another --arch", warning)


def test_default_denoising_restore_stops_automatically_and_says_where(runner, tmp_path):
    """No --stop: denoising stops by the held-out detector (measured better than the fixed count), before its cap."""
    args = ["restore", "--task", "denoise", "--crop", "24", "--width", "4", "--iters", "1000", "--quiet",
            "--device", "cpu", "--out", str(tmp_path)]
    text = runner.invoke(cli, args, catch_exceptions=False).output
    found = re.search(r"(\d+) steps in .*\n.*\n  stopping rule auto: returned step (\d+) of (\d+) \(detected\)", text)
    assert found, text
    steps, returned, cap = map(int, found.groups())
    assert returned + 300 <= steps == cap < 1000  # stopped patience (300) steps after the returned step


def test_fixed_step_protocols_stay_available(runner, tmp_path):
    """--stop iters runs the published count with every pixel in the loss; caps too short for the detector do too."""
    for extra in (["--stop", "iters"], []):  # FAST's 15 steps: a cap shorter than the detector's window + patience
        result = run(runner, "--task", "denoise", "--crop", "16", "--out", str(tmp_path), "--json", *extra)
        report = json.loads(result.output)
        assert report["stop"] == "iters" and report["iters"] == 15 and "holdout_psnr" not in report
