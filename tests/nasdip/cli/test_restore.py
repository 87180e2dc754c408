"""``nasdip restore``: the built-in photo, user images with ground truth, bit depths, clear errors, no partial output."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from nasdip.cli import cli
from nasdip.imageio import builtin_photo, center_crop, save_image
from nasdip.ops import downsample

FAST = ["--iters", "15", "--width", "8", "--quiet", "--device", "cpu"]


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
        ("tiny", ["{dir}/tiny.png", "--task", "denoise"], 1, "image is 4x4; task 'denoise' needs at least 8x8 pixels"),
        ("mask", ["{dir}/photo.png", "--task", "inpaint", "--mask", "{dir}/mask.png"], 1,
         "mask.png: mask is 8x8 but the image is 16x16"),
        ("photo", ["{dir}/photo.png", "--task", "denoise", "--scale", "2"], 2,
         "--scale is not an option of task 'denoise' (its options: --sigma)"),
        ("photo", ["{dir}/photo.png", "--task", "denoise", "--gt", "{dir}/mask.png"], 1,
         "mask.png: has 1 channels but the image has 3"),
        ("photo", ["{dir}/photo.png", "--task", "denoise", "--arch", "nope"], 1, "--arch 'nope': no preset or file"),
        ("rgba", ["{dir}/rgba.png", "--task", "denoise"], 1, "rgba.png: has transparent pixels"),
        (None, ["--task", "dnoise"], 2, "unknown task 'dnoise'; choose from: dehaze, denoise, inpaint, sr, translate"),
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
    out = tmp_path / "out"
    arguments = [a.format(dir=tmp_path) for a in args] + ["--out", str(out)]
    result = runner.invoke(cli, ["restore", *arguments, *FAST])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())
