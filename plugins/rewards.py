"""Built-in rewards: final PSNR (default), oracle max PSNR (the release's choice), SSIM, and the no-reference
held-out PSNR (self-validation on observed pixels left out of the fit)."""

from __future__ import annotations

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
)
