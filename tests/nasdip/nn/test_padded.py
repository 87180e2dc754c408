"""PaddedNet: pads the noise up to a multiple (reflect, or replicate where reflection cannot reach) and crops back."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nasdip.arch.build import build_network
from nasdip.arch.catalog import presets
from nasdip.nn.config import NetConfig
from nasdip.nn.padded import PaddedNet


class Recorder(nn.Module):
    """Remembers what it is given and returns a position-dependent function of it (so a wrong crop shows)."""

    def __init__(self, multiple: int = 1) -> None:
        super().__init__()
        self.multiple = multiple
        self.seen: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-2] % self.multiple == 0 and x.shape[-1] % self.multiple == 0
        self.seen = x
        return x.cumsum(-1).cumsum(-2)


def padded(multiple: int, min_size: int) -> PaddedNet:
    return PaddedNet(Recorder(multiple), multiple, min_size, None, NetConfig(width=8))


@pytest.mark.parametrize(
    ("multiple", "min_size", "size", "expected"),
    [
        (32, 64, (61, 47), (64, 64)),
        (32, 64, (100, 47), (128, 64)),
        (32, 64, (64, 96), (64, 96)),
        (32, 64, (13, 20), (64, 64)),
        (8, 8, (9, 16), (16, 16)),
        (1, 12, (5, 30), (12, 30)),
    ],
)
def test_padded_size_rounds_up_to_the_multiple_and_the_minimum(multiple, min_size, size, expected):
    assert padded(multiple, min_size).padded_size(*size) == expected


def test_small_pads_reflect_and_the_output_is_cropped_back():
    torch.manual_seed(0)
    net = padded(32, 64)
    z = torch.rand(2, 3, 61, 47)
    out = net(z)
    pads = (8, 9, 1, 2)  # 47 -> 64: 8 left, 9 right; 61 -> 64: 1 above, 2 below
    reference = F.pad(z, pads, mode="reflect")
    torch.testing.assert_close(net.net.seen, reference, rtol=0, atol=0)
    assert out.shape == z.shape
    torch.testing.assert_close(out, reference.cumsum(-1).cumsum(-2)[..., 1:62, 8:55])


def test_pads_longer_than_the_image_replicate():
    torch.manual_seed(1)
    net = padded(32, 64)
    z = torch.rand(1, 2, 13, 20)
    out = net(z)
    pads = (22, 22, 25, 26)  # 26 rows below a 13-row image: more than reflection reaches
    reference = F.pad(z, pads, mode="replicate")
    torch.testing.assert_close(net.net.seen, reference, rtol=0, atol=0)
    torch.testing.assert_close(out, reference.cumsum(-1).cumsum(-2)[..., 25:38, 22:42])


@pytest.mark.parametrize(("size", "mode"), [((5, 5), "reflect"), ((4, 4), "replicate"), ((4, 12), "replicate")])
def test_reflection_is_used_exactly_while_every_pad_is_shorter_than_its_side(size, mode):
    net = padded(1, 12)
    z = torch.rand(1, 1, *size)
    net(z)
    height, width = size
    top, left = (12 - height) // 2, (12 - width) // 2
    reference = F.pad(z, (left, 12 - width - left, top, 12 - height - top), mode=mode)
    torch.testing.assert_close(net.net.seen, reference, rtol=0, atol=0)


def test_an_image_of_the_right_size_is_not_padded():
    net = padded(16, 32)
    z = torch.rand(1, 2, 32, 48)
    out = net(z)
    assert net.net.seen is z
    torch.testing.assert_close(out, z.cumsum(-1).cumsum(-2), rtol=0, atol=0)


def test_gradients_reach_the_noise_through_the_padding():
    z = torch.rand(1, 1, 5, 6, dtype=torch.float64, requires_grad=True)
    net = PaddedNet(Recorder(), 8, 8, None, NetConfig(width=8))
    upstream = torch.randn(1, 1, 5, 6, dtype=torch.float64)
    (ours,) = torch.autograd.grad(net(z), z, upstream)

    def by_hand(x):
        return F.pad(x, (1, 1, 1, 2), mode="reflect").cumsum(-1).cumsum(-2)[..., 1:6, 1:7]

    (theirs,) = torch.autograd.grad(by_hand(z), z, upstream)
    torch.testing.assert_close(ours, theirs)


def test_a_built_network_runs_the_raw_network_on_the_padded_noise():
    torch.manual_seed(2)
    net = build_network(presets()["dip-skip"], NetConfig(width=8, input_depth=4)).eval()
    assert (net.multiple, net.min_size) == (32, 64)
    z = torch.rand(1, 4, 61, 47)
    expected = net.net(F.pad(z, (8, 9, 1, 2), mode="reflect"))[..., 1:62, 8:55]
    torch.testing.assert_close(net(z), expected)


@pytest.mark.parametrize("name", ["dip-skip", "nasdip-sr", "nasdip-denoise", "nasdip-inpaint"])
@pytest.mark.parametrize("size", [(61, 47), (13, 20), (64, 96)])
def test_output_size_equals_input_size(name, size):
    net = build_network(presets()[name], NetConfig(width=8, input_depth=4))
    out = net(torch.rand(1, 4, *size))
    assert out.shape == (1, 3, *size)
    assert out.min() >= 0 and out.max() <= 1
