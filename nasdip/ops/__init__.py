"""Degradation operators (kornia-backed), one per module, each a function and an ``nn.Module``.

Every operator here is differentiable, so the same operator synthesises an observation and sits inside the
fitting loss.
"""

from nasdip.ops.downsample import Downsample, downsample, upsample_bicubic
from nasdip.ops.mask import apply_mask, bernoulli_mask
from nasdip.ops.noise import add_gaussian_noise

__all__ = ["Downsample", "add_gaussian_noise", "apply_mask", "bernoulli_mask", "downsample", "upsample_bicubic"]
