"""The TensorBoard logger writes the curves and images of a run (read back with TensorBoard's own reader)."""

from __future__ import annotations

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from nasdip.cli import cli


def read(directory):
    accumulator = EventAccumulator(str(directory), size_guidance={"images": 0, "scalars": 0})
    accumulator.Reload()
    return accumulator.Tags()


def test_restore_logdir_holds_curves_and_images(runner, tmp_path):
    logdir = tmp_path / "tb"
    result = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "32", "--iters", "20", "--width", "8",
                                 "--quiet", "--out", str(tmp_path / "out"), "--logdir", str(logdir)])
    assert result.exit_code == 0, result.output
    tags = read(logdir / "grace_hopper" / "nasdip-denoise")
    assert {"fit/loss", "fit/psnr", "final/psnr", "final/ssim", "final/psnr_max"} <= set(tags["scalars"])
    assert {"images/restored", "images/observation", "images/clean"} <= set(tags["images"])
    assert "config" in str(read(logdir)["tensors"])


def test_bench_writes_one_run_per_fit(runner, tmp_path):
    from nasdip.imageio import builtin_photo, center_crop, save_image

    save_image(tmp_path / "imgs" / "x.png", center_crop(builtin_photo()[0], 32, 32))
    logdir = tmp_path / "tb"
    result = runner.invoke(cli, ["bench", "--task", "denoise", "--images", str(tmp_path / "imgs"), "--iters", "10",
                                 "--width", "8", "--quiet", "--logdir", str(logdir)])
    assert result.exit_code == 0, result.output
    for arch in ("dip-skip", "nasdip-denoise"):
        assert "fit/loss" in read(logdir / "x" / arch)["scalars"]
