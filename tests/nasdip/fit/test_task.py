"""The task base class: the weighted loss against hand computations, the default hooks, architecture and size
checks, descriptions, and a minimal task of its own fitted by the engine through its own operator."""

from __future__ import annotations

import math
import re

import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.errors import NasdipError, UsageError
from nasdip.fit.problem import Problem
from nasdip.fit.request import FitRequest
from nasdip.fit.settings import FitSettings
from nasdip.fit.task import Task, weighted_mean_square
from nasdip.fit.tracker import build_seeded
from nasdip.nn.config import NetConfig
from nasdip.options import Option


class Dimming(Task):
    """A minimal task: the observation is the image dimmed by ``level`` (the forward operator)."""

    name = "dim"
    help = "undo a dimming"
    options = (Option("level", float, 0.5, "Fraction of the brightness kept."),
               Option("label", str, "x", "A label."))

    def settings(self) -> FitSettings:
        return FitSettings(iters=10, reg_noise=0.0, device="cpu", precision="fp32")

    def degrade(self, clean, generator, name="image"):
        self.check_size(clean)
        return Problem(clean * self.values["level"], tuple(clean.shape[-2:]), clean=clean, name=name)

    def observe(self, observation, info=None, name="image"):
        self.check_size(observation)
        return Problem(observation, tuple(observation.shape[-2:]), name=name, info=info)

    def operator(self, output, problem):
        return output * self.values["level"]


class Penalised(Dimming):
    """The minimal task with a constant prior term."""

    def regularizer(self, output, problem):
        return 0.25


class Plain(Task):
    """No options, a default architecture and references of its own, a minimum size of its own (above SSIM's)."""

    name = "plain"
    default_arch = "dip-skip"
    reference_archs = ("dip-skip", "nasdip-denoise")
    min_size = 16

    def settings(self):
        return FitSettings()

    def degrade(self, clean, generator, name="image"):
        return Problem(clean, tuple(clean.shape[-2:]), clean=clean, name=name)

    def observe(self, observation, info=None, name="image"):
        return Problem(observation, tuple(observation.shape[-2:]), name=name, info=info)


def random(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def test_weighted_mean_square_against_a_hand_computation():
    residual = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, -1.0], [2.0, -3.0]]]])  # (1, 2, 2, 2)
    weight = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])  # the top-left and bottom-right pixels
    # (1^2 + 4^2) in channel 0 and (0^2 + 3^2) in channel 1, over 2 pixels x 2 channels.
    assert weighted_mean_square(residual, weight).item() == (1 + 16 + 0 + 9) / 4
    assert weighted_mean_square(residual, torch.ones(1, 1, 2, 2)).item() == residual.square().mean().item()


def test_weighted_mean_square_of_no_pixel_is_zero():
    assert weighted_mean_square(random(1, 3, 4, 4), torch.zeros(1, 1, 4, 4)).item() == 0.0


def test_a_task_needs_its_abstract_methods():
    with pytest.raises(TypeError, match="abstract"):
        Task()  # type: ignore[abstract]

    class Incomplete(Task):
        def settings(self):
            return FitSettings()

    with pytest.raises(TypeError, match="degrade"):
        Incomplete()  # type: ignore[abstract]


def test_the_loss_is_the_mean_square_through_the_operator():
    task = Dimming(level=0.25)
    problem = Problem(random(1, 3, 8, 8, seed=1), (8, 8))
    output = random(1, 3, 8, 8, seed=2)
    expected = ((0.25 * output - problem.observation) ** 2).mean()
    torch.testing.assert_close(task.loss(output, problem), expected)
    torch.testing.assert_close(task.residual(output, problem), 0.25 * output - problem.observation)


def test_the_weighted_loss_counts_only_the_weighted_pixels():
    task = Dimming()
    problem = Problem(random(1, 3, 8, 8, seed=1), (8, 8))
    output = random(1, 3, 8, 8, seed=2)
    weight = (random(1, 1, 8, 8, seed=3) < 0.5).float()
    squares = (0.5 * output - problem.observation) ** 2
    kept = [squares[0, c, i, j] for c in range(3) for i in range(8) for j in range(8) if weight[0, 0, i, j] == 1]
    assert task.loss(output, problem, weight).item() == pytest.approx(sum(kept).item() / len(kept), rel=1e-6)
    # The weighted pixels alone decide: changing the observation elsewhere changes nothing.
    elsewhere = Problem(problem.observation + (1 - weight) * 0.3, problem.output_size)
    assert task.loss(output, elsewhere, weight).item() == pytest.approx(task.loss(output, problem, weight).item())


def test_the_regularizer_is_added_to_the_loss_but_not_to_the_heldout_error():
    plain, penalised = Dimming(), Penalised()
    problem = Problem(random(1, 3, 8, 8, seed=1), (8, 8))
    output = random(1, 3, 8, 8, seed=2)
    heldout = torch.zeros(1, 1, 8, 8)
    heldout[..., :2, :] = 1.0
    assert penalised.loss(output, problem).item() == pytest.approx(plain.loss(output, problem).item() + 0.25)
    assert penalised.loss(output, problem, heldout).item() == pytest.approx(
        plain.loss(output, problem, heldout).item() + 0.25)
    assert torch.equal(penalised.heldout_error(output, problem, heldout), plain.heldout_error(output, problem, heldout))


def test_the_heldout_error_is_the_mean_square_residual_over_the_heldout_pixels():
    task = Dimming()
    problem = Problem(random(1, 3, 8, 8, seed=1), (8, 8))
    output = random(1, 3, 8, 8, seed=2)
    heldout = torch.zeros(1, 1, 8, 8)
    heldout[..., 3, 5] = heldout[..., 6, 0] = 1.0
    residual = 0.5 * output - problem.observation
    expected = (residual[..., 3, 5].square().sum() + residual[..., 6, 0].square().sum()) / 6
    assert task.heldout_error(output, problem, heldout).item() == pytest.approx(expected.item(), rel=1e-6)


def test_the_default_hooks():
    task = Dimming()
    clean = random(1, 3, 16, 16, seed=4)
    problem = task.degrade(clean, torch.Generator())
    output = random(1, 3, 16, 16, seed=5)
    assert task.observed(problem) is None
    assert task.render(output, problem) is output
    final, extras = task.finalize(output, problem)
    assert final is output and extras == {}
    assert task.baseline(problem) is problem.observation
    assert task.prepare_clean(clean) is clean
    assert (task.score_name, task.score_unit, task.baseline_name, task.packable) == ("psnr", "dB", "input", True)


def test_score_and_metrics_are_psnr_and_ssim():
    task = Dimming()
    clean = random(1, 3, 16, 16, seed=6)
    restored = (clean + 0.1 * (random(1, 3, 16, 16, seed=7) - 0.5)).clamp(0, 1)
    mse = (restored - clean).square().mean().item()
    assert task.score(restored, clean).item() == pytest.approx(10 * math.log10(1 / mse), rel=1e-5)
    metrics = task.metrics(restored, clean)
    assert set(metrics) == {"psnr", "ssim"} and metrics["psnr"] == pytest.approx(10 * math.log10(1 / mse), rel=1e-5)
    assert 0 < metrics["ssim"] < 1 and task.metrics(clean, clean)["ssim"] == pytest.approx(1.0)


def test_the_model_has_the_problems_channels():
    task = Dimming()
    grey = task.observe(random(1, 1, 16, 16))
    config = NetConfig(width=8, depth=2)
    with torch.random.fork_rng(devices=[]):
        model = task.build_model(presets()["dip-skip"], config, grey)
    assert model(torch.rand(1, config.input_depth, 16, 16)).shape == (1, 1, 16, 16)


def test_arch_spec_prefers_the_given_architecture():
    assert Dimming().arch_spec("nasdip-sr") == "nasdip-sr"
    assert Plain().arch_spec("nasdip-sr") == "nasdip-sr"
    assert Plain().arch_spec(None) == "dip-skip"


def test_a_task_without_a_default_architecture_needs_arch():
    message = "task 'dim' has no default architecture; choose one with --arch"
    with pytest.raises(UsageError, match=f"^{re.escape(message)}$"):
        Dimming().arch_spec(None)
    with pytest.raises(UsageError, match=re.escape(message)):
        Dimming().reference_specs()


def test_reference_specs_default_to_the_default_architecture():
    assert Plain().reference_specs() == ("dip-skip", "nasdip-denoise")

    class OneReference(Plain):
        reference_archs = ()

    assert OneReference().reference_specs() == ("dip-skip",)


class Shaved(Dimming):
    """A task whose metrics shave 3 border pixels off the restoration, and whose observation is half its size."""

    name = "shaved"

    def metric_border(self):
        return 3

    def min_input_size(self, observed=False):
        return -(-self.min_output_size() // 2) if observed else self.min_output_size()


SSIM_REASON = "SSIM's 11x11 window must fit in the restoration"


@pytest.mark.parametrize(("task", "shape", "what", "observed", "message"), [
    (Dimming(), (1, 3, 7, 9), "image", False,
     f"image is 9x7; task 'dim' needs at least 11x11 pixels ({SSIM_REASON}); use a larger image"),
    (Dimming(), (1, 3, 12, 10), "the low-resolution image", True,
     f"the low-resolution image is 10x12; task 'dim' needs at least 11x11 pixels ({SSIM_REASON}); use a larger image"),
    (Plain(), (1, 3, 15, 40), "image", False,
     "image is 40x15; task 'plain' needs at least 16x16 pixels (its restorations need at least 16x16 pixels); use a "
     "larger image"),
    (Shaved(), (1, 3, 16, 16), "image", False,
     f"image is 16x16; task 'shaved' needs at least 17x17 pixels ({SSIM_REASON} after shaving 3 border pixels); "
     "use a larger image"),
    (Shaved(), (1, 3, 8, 8), "the observation", True,
     f"the observation is 8x8; task 'shaved' needs at least 9x9 pixels ({SSIM_REASON} after shaving 3 border "
     "pixels); use a larger image"),
])
def test_check_size_refuses_small_images_naming_the_smallest(task, shape, what, observed, message):
    with pytest.raises(NasdipError, match=f"^{re.escape(message)}$"):
        task.check_size(torch.zeros(shape), what, observed=observed)


def test_the_minimum_size_follows_ssims_window_the_border_and_min_size():
    assert (Dimming().min_output_size(), Shaved().min_output_size(), Plain().min_output_size()) == (11, 17, 16)
    assert (Shaved().min_input_size(), Shaved().min_input_size(observed=True)) == (17, 9)


def test_check_size_accepts_the_minimum():
    Dimming().check_size(torch.zeros(1, 3, 11, 11))
    Plain().check_size(torch.zeros(1, 3, 16, 16))
    Shaved().check_size(torch.zeros(1, 3, 9, 9), observed=True)
    with pytest.raises(NasdipError, match=r"^image is 16x15; task 'plain' needs at least 16x16 pixels"):
        Plain().check_size(torch.zeros(1, 3, 15, 16))


def test_an_image_of_the_minimum_size_is_scored_by_ssim():
    # The rule is what the metrics need: at the minimum SSIM has one window, one pixel smaller it has none.
    task, clean = Dimming(), random(1, 3, 11, 11, seed=8)
    assert task.metrics(clean, clean)["ssim"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="SSIM needs images of at least 11x11 pixels"):
        task.metrics(clean[..., :10, :10], clean[..., :10, :10])


def test_describe_lists_the_option_values():
    assert Dimming().describe() == "dim (level=0.5, label=x)"
    assert Dimming(level=0.25, label="y").describe() == "dim (level=0.25, label=y)"
    assert Plain().describe() == "plain"
    assert registry.get("tasks", "denoise")().describe() == "denoise (sigma=25.0)"


def test_options_are_resolved_and_checked():
    assert Dimming(level="0.75").values == {"level": 0.75, "label": "x"}
    with pytest.raises(UsageError, match=r"^task 'dim' has no option --bogus \(its options: --level, --label\)$"):
        Dimming(bogus=1)


def test_the_engine_fits_a_minimal_task_through_its_own_loss():
    task = Dimming()
    problem = task.degrade(random(1, 3, 16, 16, seed=8), torch.Generator())
    settings = task.settings().replace(iters=15, sync_every=5)
    request = FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=8, depth=3), settings)
    result = task.fit(request)
    assert result.iters == 15 and result.output.shape == (1, 3, 16, 16) and result.stop_reason == "iters"
    # The first recorded loss is the task's loss of the freshly initialised network on the noise input (no jitter).
    z = torch.rand(1, 32, 16, 16, generator=torch.Generator().manual_seed(settings.seed)) * settings.input_scale
    with torch.no_grad():
        first = task.loss(build_seeded(request)(z), problem).item()
    assert result.losses[0] == pytest.approx(first, rel=1e-6)
    assert min(result.losses[-3:]) < result.losses[0]
    assert result.metrics["psnr"] == pytest.approx(task.metrics(result.output, problem.clean)["psnr"], abs=1e-4)


class Stopping(Plain):
    """A task whose restorations stop automatically by default."""

    name = "stopping"
    restore_stop = "auto"


def test_restore_settings_stop_automatically_only_where_the_task_says_and_the_cap_leaves_room():
    assert Plain().restore_settings() == FitSettings()  # restore_stop "iters": the task's settings
    automatic = Stopping().restore_settings()
    assert automatic == FitSettings(stop="auto", holdout=0.1)  # the detector's held-out pixels with it
    short = FitSettings(iters=349)  # window 50 + patience 300 = 350: a detector that could never fire
    assert Stopping().restore_settings(short) == short
    chosen = FitSettings(stop="wmv")
    assert Stopping().restore_settings(chosen) == chosen  # a detector already chosen stays
    assert Stopping().restore_settings(FitSettings(iters=350, holdout=0.2)).holdout == 0.2


def test_only_denoising_stops_automatically_by_default():
    """Measured: the automatic stop beat the fixed count for denoising; for SR and inpainting it never did."""
    stops = {name: registry.get("tasks", name)().restore_settings().stop for name in ("denoise", "sr", "inpaint")}
    assert stops == {"denoise": "auto", "sr": "iters", "inpaint": "iters"}
