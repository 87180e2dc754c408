"""Training-free scores: rewards computed from the UNTRAINED candidate's output, with no fit (``needs_fit=False``)
and no clean image (``needs_clean=False``).

* ``psd`` (image-dependent, after ISNAS-DIP, Arican et al., CVPR 2022): how far the spectrum of the untrained
  output, mapped into observation space by the task's operator (downsampled for super-resolution, masked for
  inpainting), is from the observation's: the root mean square difference, in dB, of the two radially averaged
  power spectra over the rings of :data:`BAND` (ISNAS-DIP's mean squared difference of log spectra in a band),
  negated (0 is a perfect match; higher is better).
* ``psd-hist``: the same band compared as distributions (ISNAS-DIP's histogram variant, without bins): the
  2-Wasserstein distance (dB) between the two sets of per-frequency log powers in the band, negated.
* ``lowpass`` (image-independent): the share of the untrained output's power (at the restoration's size, before the
  operator) below :data:`LOWPASS_CUTOFF`. Deep Image Prior works through spectral bias: a network fits low
  frequencies before high ones, and the fit is stopped before it fits the noise (Chakrabarty & Maji 2019; Shi et al.,
  CVPR 2022). A candidate whose random output already concentrates its power at low frequencies carries a stronger
  bias towards smooth, natural content. It sees only the problems' sizes, never their pixels.

Spectra are averaged over the channels and over :data:`nasdip.fit.untrained.NOISE_INPUTS` noise inputs. Over
several search problems the spectral scores take the root mean square of the per-problem distances: squared
differences are least at the problems' mean spectrum, where absolute ones would be the same for every output
between two problems' spectra. ``lowpass`` is the mean over the problems. Radial frequency is normalised to the
Nyquist frequency (:mod:`nasdip.ops.spectrum`).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable

import torch

from nasdip.fit.untrained import untrained_outputs
from nasdip.nn.config import NetConfig
from nasdip.ops.spectrum import (
    band,
    decibels,
    power_spectrum,
    radial_frequency,
    radial_profile,
    ring_index,
    rings,
)
from nasdip.search.reward import Reward, RewardContext

#: Rings of normalised radial frequency compared by ``psd`` and ``psd-hist``. Above the lowest rings (a few
#: coefficients each at search sizes, dominated by a crop's layout and brightness gradient) and below the
#: frequencies where the noise of a sigma-25 observation outweighs a natural image's power at 64x64 (about 0.4 of
#: Nyquist; the power of natural images falls as 1/f^2, the noise's is flat). On a 16x16 ``x4`` super-resolution
#: observation it holds rings 1 and 2 of 8.
BAND = (0.1, 0.4)
#: ``lowpass`` counts the power below this normalised radial frequency.
LOWPASS_CUTOFF = 0.25


def observation_outputs(context: RewardContext) -> list[torch.Tensor]:
    """Per problem, the untrained model's outputs mapped into observation space: ``(inputs, C, h, w)``."""
    outputs = raw_outputs(context)
    return [context.task.operator(output, problem.to(output.device))
            for output, problem in zip(outputs, context.problems, strict=True)]


def raw_outputs(context: RewardContext) -> list[torch.Tensor]:
    """Per problem, the untrained model's restorations (the task's :meth:`render`), ``(inputs, C, H, W)``."""
    settings = context.settings or context.task.settings()
    config = context.config or NetConfig()
    outputs = untrained_outputs(context.task, context.problems, context.arch, config, settings)
    return [context.task.render(output, problem) for output, problem in zip(outputs, context.problems, strict=True)]


def mean_power(images: torch.Tensor) -> torch.Tensor:
    """``(H, W)`` power spectrum of ``(N, C, H, W)`` images, averaged over images and channels (float64)."""
    return power_spectrum(images.double()).mean(dim=(0, 1))


#: The observations' spectra, kept while their tensors live and are unchanged (every candidate of a search or an
#: auto choice is compared with the same observations): id -> (a weak reference, the tensor's version, results).
_OBSERVED: dict[int, tuple[weakref.ref, int, dict[tuple[Callable, str], torch.Tensor]]] = {}


def observed(observation: torch.Tensor, device: torch.device,
             compute: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``compute(observation on device)``, once per observation tensor, device and ``compute`` (and again if the
    tensor is changed in place)."""
    version = 0 if observation.is_inference() else observation._version  # inference tensors cannot change
    kept = _OBSERVED.get(id(observation))
    if kept is None or kept[0]() is not observation or kept[1] != version:
        while len(_OBSERVED) >= 64:
            del _OBSERVED[next(iter(_OBSERVED))]
        kept = _OBSERVED[id(observation)] = (weakref.ref(observation), version, {})
    key = (compute, str(device))
    if key not in kept[2]:
        kept[2][key] = compute(observation.to(device))
    return kept[2][key]


def in_band(images: torch.Tensor) -> torch.Tensor:
    """Mask of the entries inside :data:`BAND` of the ring profile of ``(..., H, W)`` images or spectra."""
    return band(rings(*images.shape[-2:]), *BAND).to(images.device)


def log_profile(images: torch.Tensor) -> torch.Tensor:
    """The radially averaged power spectrum (dB) of ``(N, C, H, W)`` images, averaged over images and channels."""
    return decibels(radial_profile(mean_power(images)))


def profile_distance(output: torch.Tensor, observation: torch.Tensor) -> float:
    """Root mean square difference (dB) of the radially averaged power spectra over the rings of :data:`BAND`."""
    gap = log_profile(output) - observed(observation, output.device, log_profile)
    return float(gap[in_band(output)].square().mean().sqrt())


def band_log_powers(images: torch.Tensor) -> torch.Tensor:
    """The log powers (dB) of ``(N, C, H, W)`` images' mean spectrum at the frequencies whose ring lies in
    :data:`BAND`, sorted."""
    power = mean_power(images)
    outside = torch.zeros(1, dtype=torch.bool, device=power.device)  # the corners, in no ring
    inside = torch.cat([in_band(power), outside])[ring_index(*power.shape[-2:], power.device)]
    return decibels(power[inside]).sort().values


def histogram_distance(output: torch.Tensor, observation: torch.Tensor) -> float:
    """2-Wasserstein distance (dB) between the distributions of the band's log powers: with as many values on
    each side, the root mean square difference of the sorted values."""
    gap = band_log_powers(output) - observed(observation, output.device, band_log_powers)
    return float(gap.square().mean().sqrt())


def spectral_score(distance: Callable[[torch.Tensor, torch.Tensor], float]) -> Callable[[RewardContext], float]:
    """A reward: minus the root mean square over the problems of ``distance(untrained output, observation)``."""

    def score(context: RewardContext) -> float:
        outputs = observation_outputs(context)
        distances = [distance(output, problem.observation)
                     for output, problem in zip(outputs, context.problems, strict=True)]
        return -math.sqrt(sum(d * d for d in distances) / len(distances))

    return score


def lowpass_share(context: RewardContext) -> float:
    """The share of the untrained restorations' power below :data:`LOWPASS_CUTOFF`, mean over the problems."""
    shares = []
    for output in raw_outputs(context):
        power = mean_power(output)
        low = radial_frequency(*power.shape[-2:], power.device) < LOWPASS_CUTOFF
        shares.append(float(power[low].sum() / power.sum().clamp_min(1e-30)))
    return sum(shares) / len(shares)


SCORES = (
    Reward("psd", spectral_score(profile_distance),
           "training-free: minus the RMS difference (dB) of the untrained output's radially averaged log power "
           "spectrum from the observation's, over radial frequencies 0.1-0.4 of Nyquist (ISNAS-DIP)",
           needs_fit=False, needs_clean=False, unit="dB"),
    Reward("psd-hist", spectral_score(histogram_distance),
           "training-free: minus the 2-Wasserstein distance (dB) between the untrained output's and the "
           "observation's log powers at radial frequencies 0.1-0.4 of Nyquist (ISNAS-DIP's histogram variant)",
           needs_fit=False, needs_clean=False, unit="dB"),
    Reward("lowpass", lowpass_share,
           "training-free, image-independent: the share of the untrained output's power below 0.25 of Nyquist "
           "(spectral bias)", needs_fit=False, needs_clean=False),
)
