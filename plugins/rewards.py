"""Built-in rewards: final PSNR (default), oracle max PSNR (the release's choice), SSIM, the no-reference
held-out PSNR (self-validation on observed pixels left out of the fit), the cross-scale PSNR (self-validation on
the observation downscaled once more: :meth:`nasdip.Task.self_validation_problem`), the recorrupted PSNR
(self-validation on the observation with extra noise added, scored against it with that noise taken away) and the
training-free scores (:mod:`nasdip.plugins.scores`)."""

from __future__ import annotations

from nasdip.plugins.scores import SCORES
from nasdip.search.reward import Reward, mean_metric

REWARDS = (
    Reward("psnr", lambda c: mean_metric(c.results, "psnr"),
           "mean PSNR of the final restorations against the clean search images (default)", default=True,
           unit="dB", baseline="psnr"),
    Reward("psnr-max", lambda c: mean_metric(c.results, "psnr_max"),
           "mean of the best PSNR over iterations (an oracle, as the NAS-DIP release rewards)", unit="dB",
           baseline="psnr"),
    Reward("ssim", lambda c: mean_metric(c.results, "ssim"), "mean SSIM of the final restorations", baseline="ssim"),
    Reward("holdout", lambda c: mean_metric(c.results, "holdout_psnr"),
           "mean PSNR of the held-out observed pixels at the returned step: no ground truth needed",
           needs_clean=False, needs_holdout=True, unit="dB"),
    Reward("cross-scale", lambda c: mean_metric(c.results, c.task.score_name),
           "self-validation across scales (ZSSR): fit the observation downscaled once more by the task's operator "
           "and score the fit against the observation itself; no ground truth needed (super-resolution)",
           needs_clean=False, self_validation=True, unit="dB"),
    Reward("recorrupted", lambda c: mean_metric(c.results, c.task.score_name),
           "self-validation by recorruption: fit the observation with Gaussian noise of the task's sigma added and "
           "score the fit against the observation with that noise subtracted (its noise independent of the fit's); "
           "no ground truth needed (denoising)", needs_clean=False, self_validation=True, unit="dB"),
    *SCORES,
)
