"""Super-networks for differentiable search: every decision is a softmax-weighted mixture of its choices.

A :class:`SuperNet` holds one logit vector per decision (``arch_logits``, shareable between super-networks so
that several images fitted with their own weights share one architecture distribution) and a body built from
mixed operations:

* :class:`MixedCell`: the upsampling cell relaxed. Interpolations are mixed and feed one transform mixture;
  pixel shuffle mixes its two orders; the lone transposed convolution mixes its kernels. The branches are
  weighted by the ``spatial`` softmax. Within a transform, the four kernel sizes of a convolution are mixed
  exactly and cheaply by convolving once with ``sum_k w_k * pad7(W_k)`` (convolution is linear in its weights);
  every kernel keeps its own parameters. Transform weights are renormalised over the choices the masks allow
  (no identity after pixel shuffle).
* links: each cross-scale path is scaled by the probability of its ``on`` choice.

:meth:`nasdip.arch.space.Space.derive` turns the logits into the discrete architecture (masked argmax in decision
order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from nasdip.nn.cell import INTERPOLATIONS, KERNELS, TRANSFORMS, SplitStackSum, transform_layer

Mixture = Callable[[], Mapping[str, torch.Tensor]]


def mixed_activation(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``w0 * x + w1 * relu(x) + w2 * leaky_relu(x, 0.2)`` (the cell's activations: none, relu, leaky_relu)."""
    return weights[0] * x + weights[1] * F.relu(x) + weights[2] * F.leaky_relu(x, 0.2)


def _pad_to(weight: torch.Tensor, size: int) -> torch.Tensor:
    border = (size - weight.shape[-1]) // 2
    return F.pad(weight, (border,) * 4)


class MixedKernelTransform(nn.Module):
    """One transform type with its four kernel sizes mixed (each with its own parameters)."""

    def __init__(self, transform: str, c_in: int, c_out: int) -> None:
        super().__init__()
        self.transform = transform
        self.layers = nn.ModuleList(transform_layer(transform, c_in, c_out, k) for k in KERNELS)

    def forward(self, x: torch.Tensor, kernel_weights: torch.Tensor) -> torch.Tensor:
        size = max(KERNELS)
        if self.transform == "separable_conv":  # depthwise then pointwise: mixed branch by branch
            return sum(w * layer(x) for w, layer in zip(kernel_weights, self.layers, strict=True))
        if self.transform == "split_stack_sum":
            head: SplitStackSum = self.layers[0]
            missing = 4 * head.chunk - x.shape[1]
            if missing:
                x = F.pad(x, (0, 0, 0, 0, 0, missing))
            n, _, h, w = x.shape
            x = x.view(n, 4, head.chunk, h, w).sum(dim=1)
            convs = [layer.conv for layer in self.layers]
        else:
            convs = list(self.layers)
        weight = sum(w * _pad_to(conv.weight, size) for w, conv in zip(kernel_weights, convs, strict=True))
        if self.transform == "transposed_conv":
            bias = sum(w * conv.bias for w, conv in zip(kernel_weights, convs, strict=True))
            return F.conv_transpose2d(x, weight, bias, padding=size // 2)
        return F.conv2d(x, weight, padding=size // 2, groups=convs[0].groups)


def renormalised(weights: torch.Tensor) -> torch.Tensor:
    """``weights`` scaled to sum to 1; all zeros (softmax weights that underflowed because another choice
    dominates) stay zeros instead of becoming 0/0 = NaN."""
    return weights / weights.sum().clamp_min(torch.finfo(weights.dtype).tiny)


class MixedTransform(nn.Module):
    """The transform decision relaxed: ``sum_t w_t act(T_t(x))`` (+ ``w_identity * x`` where allowed)."""

    def __init__(self, c_in: int, c_out: int, identity: bool) -> None:
        super().__init__()
        self.identity = identity and c_in == c_out
        self.transforms = nn.ModuleList(MixedKernelTransform(t, c_in, c_out) for t in TRANSFORMS[:-1])

    def forward(self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
        transform_weights = weights["transform"] if self.identity else weights["transform"][:-1]
        transform_weights = renormalised(transform_weights)
        out = sum(w * mixed_activation(t(x, weights["kernel"]), weights["activation"])
                  for w, t in zip(transform_weights, self.transforms, strict=False))
        if self.identity:
            out = out + transform_weights[-1] * x
        return out


class MixedCell(nn.Module):
    """The upsampling cell with every decision relaxed; ``mixture()`` gives the decisions' softmax weights."""

    def __init__(self, c_in: int, c_out: int, mixture: Mixture) -> None:
        super().__init__()
        self.mixture = mixture
        self.after_interpolation = MixedTransform(c_in, c_out, identity=True)
        self.after_shuffle = MixedTransform(c_in // 4, c_out, identity=False)
        self.before_shuffle = MixedTransform(c_in, 4 * c_out, identity=False)
        self.transposed = nn.ModuleList(
            nn.ConvTranspose2d(c_in, c_out, k, stride=2, padding=k // 2, output_padding=1) for k in KERNELS
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.mixture()
        act, spatial = w["activation"], w["spatial"]

        def activate(t: torch.Tensor) -> torch.Tensor:
            return mixed_activation(t, act)

        interpolation_weights = renormalised(spatial[:3])
        upsampled = sum(weight * activate(F.interpolate(x, scale_factor=2, mode=mode,
                                                         align_corners=None if mode == "nearest" else False))
                        for weight, mode in zip(interpolation_weights, INTERPOLATIONS, strict=True))
        interpolated = self.after_interpolation(upsampled, w)
        shuffle_first = self.after_shuffle(activate(F.pixel_shuffle(x, 2)), w)
        shuffle_last = activate(F.pixel_shuffle(self.before_shuffle(x, w), 2))
        shuffled = w["order"][0] * shuffle_first + w["order"][1] * shuffle_last
        weight = sum(k * _pad_to(conv.weight, max(KERNELS)) for k, conv in zip(w["kernel"], self.transposed, strict=True))
        bias = sum(k * conv.bias for k, conv in zip(w["kernel"], self.transposed, strict=True))
        transposed = activate(F.conv_transpose2d(x, weight, bias, stride=2, padding=max(KERNELS) // 2, output_padding=1))
        return spatial[:3].sum() * interpolated + spatial[3] * shuffled + spatial[4] * transposed


class SuperNet(nn.Module):
    """A relaxed network: ``body`` built with mixed operations reading the softmax of ``arch_logits``."""

    def __init__(self, arch_logits: nn.ParameterDict, build_body: Callable[[SuperNet], nn.Module]) -> None:
        super().__init__()
        self.arch_logits = arch_logits
        self.body = build_body(self)

    def mixture(self) -> dict[str, torch.Tensor]:
        """Softmax weights of every decision."""
        return {name: torch.softmax(logits, dim=0) for name, logits in self.arch_logits.items()}

    def link_weight(self, row: str, source: str) -> torch.Tensor:
        """Probability that the link ``row_source`` is on."""
        return torch.softmax(self.arch_logits[f"{row}_{source}"], dim=0)[1]

    def weight_parameters(self) -> list[nn.Parameter]:
        """Network weights (everything but the architecture logits)."""
        return list(self.body.parameters())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z)


def new_arch_logits(decisions) -> nn.ParameterDict:
    """Zero logits (uniform mixtures) for ``decisions``."""
    return nn.ParameterDict({d.name: nn.Parameter(torch.zeros(len(d.choices))) for d in decisions})

