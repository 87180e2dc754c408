"""The bookkeeping every fit shares: seeded models, held-out masks, noise input and jitter, progress at
synchronisations, callbacks, stop reasons, the returned step and the result's metrics."""

from __future__ import annotations

import math
import re

import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.errors import NasdipError
from nasdip.fit.guard import DivergenceGuard, Snapshot
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.problem import Problem
from nasdip.fit.request import FitRequest
from nasdip.fit.result import FitDiverged
from nasdip.fit.settings import FitSettings
from nasdip.fit.stopping import heldout_psnr
from nasdip.fit.tracker import HOLDOUT_SEED_OFFSET, FitTracker, build_seeded, heldout_mask
from nasdip.nn.config import NetConfig
from nasdip.runinfo import RunInfo

SMALL = NetConfig(width=8, depth=3)


def random(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def denoise():
    return registry.get("tasks", "denoise")()


@pytest.fixture(scope="module")
def problem():
    """A 16x16 noisy observation with its ground truth (SSIM's 11x11 window needs at least 11 pixels)."""
    clean = random(1, 3, 16, 16, seed=1)
    return Problem((clean + 0.1 * (random(1, 3, 16, 16, seed=2) - 0.5)).clamp(0, 1), (16, 16), clean=clean)


class Recorder:
    """Listens to a run and to a fit's callbacks, in one list of events."""

    def __init__(self, stop_at_call: int | None = None) -> None:
        self.events: list[tuple[str, int]] = []
        self.progress: list[tuple[int, dict[str, float]]] = []
        self.callbacks: list[tuple[int, dict[str, float]]] = []
        self.finished = []
        self.stop_at_call = stop_at_call
        self.run = RunInfo("test", listeners=self.listen)

    def listen(self, hook_name, run, **arguments):
        assert run is self.run
        if hook_name == "fit_progress":
            self.events.append(("progress", arguments["step"]))
            self.progress.append((arguments["step"], arguments["metrics"]))
        elif hook_name == "fit_finished":
            self.finished.append(arguments["result"])

    def callback(self, step, metrics):
        self.events.append(("callback", step))
        self.callbacks.append((step, dict(metrics)))
        return len(self.callbacks) == self.stop_at_call


class Stub(FitTracker):
    """A tracker without a network: the test feeds outputs and losses; ``clean_output`` is a fixed image."""

    def __init__(self, request: FitRequest, clean_output: torch.Tensor | None = None) -> None:
        super().__init__(request, "fp32", depth=2)
        self.weight = torch.nn.Parameter(torch.zeros(3))
        optimizer = torch.optim.SGD([self.weight], lr=0.1)
        self.guard = DivergenceGuard(Snapshot([self.weight], optimizer, self.average), request.settings.guard_db)
        self.fixed = torch.zeros_like(self.problem.observation) if clean_output is None else clean_output

    def clean_output(self) -> torch.Tensor:
        return self.fixed

    def feed(self, outputs: list[torch.Tensor], losses: list[float]) -> None:
        """Record each step like the engine does, synchronising when due, until the fit asks to stop."""
        for output, loss in zip(outputs, losses, strict=True):
            self.record(output, torch.tensor(loss))
            if self.due() and self.synchronise():
                return


def stub(task, problem, recorder: Recorder | None = None, clean_output=None, **settings) -> Stub:
    values = {"iters": 20, "sync_every": 10, "log_every": 3, "reg_noise": 0.0, "device": "cpu", **settings}
    request = FitRequest(task, problem, presets()["dip-skip"], SMALL, FitSettings(**values),
                         run=None if recorder is None else recorder.run,
                         callbacks=() if recorder is None else (recorder.callback,))
    return Stub(request, clean_output)


def noisy_outputs(problem: Problem, amplitudes: list[float], seed: int = 3) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [problem.clean + a * torch.randn(problem.clean.shape, generator=generator) for a in amplitudes]


def falling(count: int) -> list[float]:
    return [1.0 / (step + 1) for step in range(count)]


# -- build_seeded --------------------------------------------------------------------------------------------


def test_build_seeded_is_the_task_model_initialised_from_the_seed(denoise):
    problem = Problem(torch.zeros(1, 3, 16, 16), (16, 16))
    request = FitRequest(denoise, problem, presets()["dip-skip"], SMALL, FitSettings(device="cpu", seed=3))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        expected = denoise.build_model(request.arch, request.config, problem)
    built = build_seeded(request)
    pairs = list(zip(built.state_dict().values(), expected.state_dict().values(), strict=True))
    assert pairs and all(torch.equal(a, b) for a, b in pairs)
    assert all(p.device == request.device for p in built.parameters())
    other = build_seeded(request.with_settings(seed=4))
    assert not all(torch.equal(a, b) for a, b in zip(built.parameters(), other.parameters(), strict=True))


def test_build_seeded_leaves_the_global_generator_alone(denoise):
    problem = Problem(torch.zeros(1, 3, 16, 16), (16, 16))
    request = FitRequest(denoise, problem, presets()["dip-skip"], SMALL, FitSettings(device="cpu"))
    state = torch.get_rng_state()
    build_seeded(request)
    assert torch.equal(torch.get_rng_state(), state)


# -- heldout_mask --------------------------------------------------------------------------------------------


def test_no_fraction_holds_nothing_out(denoise, problem):
    assert heldout_mask(denoise, problem, 0.0, 0) is None
    assert heldout_mask(denoise, problem, -0.1, 0) is None


def test_the_heldout_fraction_is_within_binomial_tolerance(denoise):
    problem = Problem(torch.zeros(1, 3, 48, 48), (48, 48))
    pixels = 48 * 48
    for fraction in (0.1, 0.2, 0.4):
        for seed in (0, 1):
            mask = heldout_mask(denoise, problem, fraction, seed)
            assert mask.shape == (1, 1, 48, 48) and set(mask.unique().tolist()) <= {0.0, 1.0}
            tolerance = 4 * math.sqrt(pixels * fraction * (1 - fraction))
            assert abs(mask.sum().item() - pixels * fraction) < tolerance


def test_the_mask_is_drawn_from_its_own_seed_on_the_cpu(denoise, problem):
    assert HOLDOUT_SEED_OFFSET == 7919
    draw = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(5 + HOLDOUT_SEED_OFFSET))
    assert torch.equal(heldout_mask(denoise, problem, 0.3, 5), (draw < 0.3).float())
    assert torch.equal(heldout_mask(denoise, problem, 0.3, 5), heldout_mask(denoise, problem, 0.3, 5))
    assert not torch.equal(heldout_mask(denoise, problem, 0.3, 5), heldout_mask(denoise, problem, 0.3, 6))


def test_inpainting_holds_out_known_pixels_only():
    task = registry.get("tasks", "inpaint")()
    problem = builtin_problem(task, seed=0, crop=32)
    mask = heldout_mask(task, problem, 0.3, 0)
    known = problem.extras["mask"]
    assert mask.sum() > 0 and torch.all(mask <= known)
    # Among the known pixels the fraction is the one asked for (binomial tolerance).
    count = known.sum().item()
    assert abs(mask.sum().item() - 0.3 * count) < 4 * math.sqrt(count * 0.3 * 0.7)


def test_a_holdout_that_leaves_no_pixel_is_refused():
    task = registry.get("tasks", "denoise")()
    problem = builtin_problem(task, seed=0, crop=11)  # the smallest crop denoising takes
    message = ("a held-out fraction of 0.0001 leaves no observed pixel out of 11x11; raise --holdout or use a "
               "larger image")
    with pytest.raises(NasdipError, match=f"^{re.escape(message)}$"):
        heldout_mask(task, problem, 1e-4, 0)


# -- noise input, jitter, loss -------------------------------------------------------------------------------


def test_the_noise_input_is_uniform_at_the_output_size_and_seeded():
    task = registry.get("tasks", "sr")(scale=2)
    problem = task.observe(random(1, 3, 8, 10))
    tracker = stub(task, problem, input_scale=0.1, seed=7)
    expected = torch.rand(1, 2, 16, 20, generator=torch.Generator().manual_seed(7)) * 0.1
    assert torch.equal(tracker.z, expected)
    assert tracker.z.min() >= 0 and tracker.z.max() < 0.1


def test_without_jitter_the_input_is_the_noise_itself(denoise, problem):
    tracker = stub(denoise, problem, reg_noise=0.0)
    assert tracker.jittered() is tracker.z


def test_the_jitter_is_fresh_at_every_step_and_drawn_from_the_fits_generator(denoise, problem):
    tracker = stub(denoise, problem, reg_noise=0.05, seed=2)
    generator = torch.Generator().manual_seed(2)
    z = torch.rand(1, 2, 16, 16, generator=generator) * tracker.settings.input_scale
    first, second = tracker.jittered(), tracker.jittered()
    torch.testing.assert_close(first, z + 0.05 * torch.randn(z.shape, generator=generator), rtol=0, atol=0)
    torch.testing.assert_close(second, z + 0.05 * torch.randn(z.shape, generator=generator), rtol=0, atol=0)


def test_the_loss_leaves_the_heldout_pixels_out(denoise, problem):
    output = random(1, 3, 16, 16, seed=9)
    plain = stub(denoise, problem)
    assert plain.holdout is None and plain.fit_weight is None and plain.heldout is None
    assert torch.equal(plain.loss(output), denoise.loss(output, problem))
    held = stub(denoise, problem, holdout=0.3)
    mask = heldout_mask(denoise, problem, 0.3, 0)
    assert torch.equal(held.holdout, mask) and torch.equal(held.fit_weight, 1 - mask)
    torch.testing.assert_close(held.loss(output), denoise.loss(output, problem, 1 - mask))
    assert held.heldout.shape == (20,) and bool(held.heldout.isnan().all())


def test_an_inpainting_fit_weighs_only_known_pixels_not_held_out():
    task = registry.get("tasks", "inpaint")()
    problem = builtin_problem(task, seed=0, crop=16)
    tracker = stub(task, problem, holdout=0.2)
    mask = heldout_mask(task, problem, 0.2, 0)
    assert torch.equal(tracker.fit_weight, (1 - mask) * problem.extras["mask"])


# -- synchronisations ----------------------------------------------------------------------------------------


def test_synchronisations_fall_every_sync_every_steps_and_at_the_last(denoise, problem):
    tracker = stub(denoise, problem, iters=25, sync_every=10)
    due = []
    for step in range(1, 26):
        tracker.record(problem.observation, torch.tensor(1.0))
        if tracker.due():
            due.append(step)
    assert due == [10, 20, 25]


def test_progress_is_reported_every_log_every_steps_at_the_synchronisations(denoise, problem):
    recorder = Recorder()
    tracker = stub(denoise, problem, recorder)
    outputs = noisy_outputs(problem, [0.1] * 20)
    tracker.feed(outputs, falling(20))
    assert recorder.events == [("progress", 3), ("progress", 6), ("progress", 9), ("progress", 10),
                               ("callback", 10),
                               ("progress", 12), ("progress", 15), ("progress", 18), ("progress", 20),
                               ("callback", 20)]
    for step, metrics in recorder.progress:
        assert set(metrics) == {"loss", "psnr"}
        assert metrics["loss"] == torch.tensor(1.0 / step).item()
        assert metrics["psnr"] == pytest.approx(denoise.score(outputs[step - 1], problem.clean).item(), rel=1e-6)


def test_callbacks_see_the_last_step_of_each_window(denoise, problem):
    recorder = Recorder()
    tracker = stub(denoise, problem, recorder, holdout=0.2)
    tracker.feed(noisy_outputs(problem, [0.1] * 20), falling(20))
    assert [step for step, _ in recorder.callbacks] == [10, 20]
    for step, metrics in recorder.callbacks:
        assert set(metrics) == {"loss", "psnr", "holdout_psnr"}
        assert metrics["loss"] == torch.tensor(1.0 / step).item()
        assert metrics["holdout_psnr"] == pytest.approx(heldout_psnr(tracker.heldout[step - 1].item()))


def test_a_callback_returning_true_stops_the_fit(denoise, problem):
    recorder = Recorder(stop_at_call=2)
    tracker = stub(denoise, problem, recorder, iters=50, sync_every=5)
    tracker.feed(noisy_outputs(problem, [0.1] * 50), falling(50))
    assert tracker.steps == 10 and tracker.stop_reason == "callback"
    assert [step for step, _ in recorder.callbacks] == [5, 10]


def test_a_rolled_back_window_reports_nothing(denoise, problem):
    recorder = Recorder()
    tracker = stub(denoise, problem, recorder)
    losses = falling(20)
    losses[14] = math.nan
    tracker.feed(noisy_outputs(problem, [0.1] * 20), losses)
    assert recorder.events == [("progress", 3), ("progress", 6), ("progress", 9), ("progress", 10),
                               ("callback", 10)]
    assert tracker.guard.rollbacks == 1 and tracker.steps == 20 and tracker.stop_reason == "iters"


def test_without_a_run_nothing_is_reported_but_callbacks_are_called(denoise, problem):
    seen = []
    settings = FitSettings(iters=20, sync_every=10, reg_noise=0.0, device="cpu")
    request = FitRequest(denoise, problem, presets()["dip-skip"], SMALL, settings,
                         callbacks=(lambda step, metrics: seen.append(step),))
    Stub(request).feed(noisy_outputs(problem, [0.1] * 20), falling(20))
    assert seen == [10, 20]


# -- stop reasons and the returned step ----------------------------------------------------------------------


def test_a_fit_without_a_detector_runs_all_its_steps(denoise, problem):
    tracker = stub(denoise, problem)
    assert tracker.stopper is None and tracker.stop_reason == "iters"
    tracker.feed(noisy_outputs(problem, [0.1] * 20), falling(20))
    result = tracker.result(0.0)
    assert result.stop_reason == "iters" and result.iters == 20 and result.metrics["stop_step"] == 20


def test_a_detector_that_does_not_fire_reaches_the_cap(denoise, problem):
    tracker = stub(denoise, problem, stop="wmv", stop_window=3, stop_patience=100)
    assert tracker.stop_reason == "cap"
    tracker.feed(noisy_outputs(problem, [0.1] * 20), falling(20))
    result = tracker.result(0.0)
    assert result.stop_reason == "cap" and result.iters == 20 and result.metrics["stop_step"] == 20


def test_a_detector_that_fires_returns_the_output_of_the_detected_step(denoise, problem):
    # Outputs off the observation by a constant d_k: the held-out error of step k is d_k^2. The window of two
    # steps with the lowest mean error ends at the step found below; patience 4 stops the fit 4 steps later.
    offsets = [0.05 * (6 - k) + 0.01 if k <= 6 else 0.03 * (k - 6) + 0.01 for k in range(1, 31)]
    means = {k: (offsets[k - 2] ** 2 + offsets[k - 1] ** 2) / 2 for k in range(2, 31)}
    best = min(means, key=means.get)
    assert best == 7
    tracker = stub(denoise, problem, iters=30, sync_every=1, stop="holdout", holdout=0.2, stop_window=2,
                   stop_patience=4)
    outputs = [problem.observation + d for d in offsets]
    tracker.feed(outputs, falling(30))
    assert tracker.stop_reason == "detected" and tracker.steps == best + 4
    step, output = tracker.final()
    assert step == best and torch.equal(output, outputs[best - 1])
    result = tracker.result(0.0)
    assert result.metrics["stop_step"] == best and torch.equal(result.output, outputs[best - 1])
    assert result.iters == best + 4 and len(result.losses) == len(result.heldout) == best + 4
    assert result.heldout[best - 1] == pytest.approx(offsets[best - 1] ** 2, rel=1e-4)
    # The reported held-out PSNR averages the detector's window ending at the returned step.
    window = result.heldout[best - 2 : best]
    assert result.metrics["holdout_psnr"] == pytest.approx(heldout_psnr(sum(window) / 2), rel=1e-6)


def test_without_an_average_the_network_on_the_clean_input_is_returned(denoise, problem):
    fixed = random(1, 3, 16, 16, seed=11)
    tracker = stub(denoise, problem, clean_output=fixed)
    tracker.feed(noisy_outputs(problem, [0.1] * 20), falling(20))
    step, output = tracker.final()
    assert step == 20 and output is fixed


def test_with_an_average_the_average_is_returned(denoise, problem):
    tracker = stub(denoise, problem, ema=0.5)
    outputs = noisy_outputs(problem, [0.1] * 20)
    tracker.feed(outputs, falling(20))
    expected = outputs[0]
    for output in outputs[1:]:
        expected = 0.5 * expected + 0.5 * output
    step, output = tracker.final()
    assert step == 20
    torch.testing.assert_close(output, expected, rtol=0, atol=1e-6)


def test_a_fit_that_diverged_at_every_check_has_no_restoration(denoise, problem):
    tracker = stub(denoise, problem, lr=0.01)
    tracker.feed(noisy_outputs(problem, [0.1] * 20), [math.nan] * 20)
    assert tracker.guard.rollbacks == 2 and tracker.guard.good_checks == 0
    message = ("the fit diverged at every check (2 rollbacks) and has no restoration; lower the learning rate "
               "(--lr, now 0.01)")
    with pytest.raises(FitDiverged, match=f"^{re.escape(message)}$"):
        tracker.final()


def test_a_restoration_that_is_not_finite_is_refused(denoise, problem):
    tracker = stub(denoise, problem, clean_output=torch.full((1, 3, 16, 16), math.nan))
    tracker.feed(noisy_outputs(problem, [0.1] * 20), falling(20))
    message = "the restoration is not finite (the fit diverged); lower the learning rate (--lr)"
    with pytest.raises(FitDiverged, match=f"^{re.escape(message)}$"):
        tracker.result(0.0)


# -- the result ----------------------------------------------------------------------------------------------


def test_the_oracle_is_the_best_scoring_step(denoise, problem):
    amplitudes = [0.2, 0.1, 0.02, 0.1, 0.2]
    outputs = noisy_outputs(problem, amplitudes)
    tracker = stub(denoise, problem, iters=5, sync_every=5, clean_output=outputs[0])
    tracker.feed(outputs, falling(5))
    result = tracker.result(0.0)
    scores = [denoise.score(output, problem.clean).item() for output in outputs]
    assert result.scores == pytest.approx(scores, rel=1e-6)
    assert result.metrics["psnr_max_step"] == 3 and result.metrics["psnr_max"] == pytest.approx(scores[2])
    assert result.metrics["psnr"] == pytest.approx(scores[0], rel=1e-6)  # the returned output


def test_the_oracle_counts_the_returned_output(denoise, problem):
    outputs = noisy_outputs(problem, [0.2] * 5)
    returned = noisy_outputs(problem, [0.01], seed=4)[0]
    tracker = stub(denoise, problem, iters=5, sync_every=5, clean_output=returned)
    tracker.feed(outputs, falling(5))
    result = tracker.result(0.0)
    assert result.metrics["psnr_max_step"] == 5
    assert result.metrics["psnr_max"] == result.metrics["psnr"] > max(result.scores)


def test_without_ground_truth_there_are_no_scores(denoise):
    observed = Problem(random(1, 3, 16, 16, seed=12), (16, 16))
    tracker = stub(denoise, observed, holdout=0.2)
    tracker.feed([observed.observation + 0.1] * 20, falling(20))
    result = tracker.result(0.0)
    assert set(result.metrics) == {"stop_step", "holdout_psnr"}
    assert all(math.isnan(value) for value in result.scores) and len(result.scores) == 20


# -- with the engine -----------------------------------------------------------------------------------------


def test_a_real_fit_reports_progress_and_its_end_to_the_run(denoise):
    problem = builtin_problem(denoise, seed=0, crop=32)
    recorder = Recorder()
    settings = denoise.settings().replace(iters=12, sync_every=5, log_every=4, device="cpu", precision="fp32")
    request = FitRequest(denoise, problem, presets()["dip-skip"], SMALL, settings, run=recorder.run,
                         callbacks=(recorder.callback,))
    result = denoise.fit(request)
    assert recorder.events == [("progress", 4), ("progress", 5), ("callback", 5), ("progress", 8),
                               ("progress", 10), ("callback", 10), ("progress", 12), ("callback", 12)]
    for step, metrics in recorder.progress:
        assert metrics == {"loss": result.losses[step - 1], "psnr": result.scores[step - 1]}
    assert len(recorder.finished) == 1 and recorder.finished[0] is result
