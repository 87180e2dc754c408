"""Shared layers: activations by value, "same" convolutions against F.pad + F.conv2d, the conv-BN-act unit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nasdip.nn.layers import activation, conv, conv_bn_act


def conv_of(module: nn.Module) -> nn.Conv2d:
    (found,) = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    return found


@pytest.mark.parametrize(
    ("name", "expected"),
    [("none", [-2.0, -0.5, 0.0, 1.5]), ("relu", [0.0, 0.0, 0.0, 1.5]), ("leaky_relu", [-0.4, -0.1, 0.0, 1.5])],
)
def test_activations_by_value(name, expected):
    x = torch.tensor([-2.0, -0.5, 0.0, 1.5])
    torch.testing.assert_close(activation(name)(x), torch.tensor(expected))


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match=r"^unknown activation 'gelu'$"):
        activation("gelu")


@pytest.mark.parametrize("kernel", [3, 5, 7])
@pytest.mark.parametrize("stride", [1, 2])
def test_reflection_conv_equals_reflect_pad_then_conv(kernel, stride):
    torch.manual_seed(0)
    module = conv(3, 4, kernel, stride, pad="reflection")
    x = torch.randn(2, 3, 9, 8)
    layer, amount = conv_of(module), kernel // 2
    expected = F.conv2d(F.pad(x, (amount,) * 4, mode="reflect"), layer.weight, layer.bias, stride=stride)
    out = module(x)
    assert out.shape == (2, 4, -(-9 // stride), -(-8 // stride))
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_zero_padded_conv_equals_conv_with_zero_padding(kernel):
    torch.manual_seed(1)
    module = conv(3, 2, kernel, pad="zero")
    assert isinstance(module, nn.Conv2d)
    x = torch.randn(1, 3, 6, 7)
    torch.testing.assert_close(module(x), F.conv2d(x, module.weight, module.bias, padding=kernel // 2))


def test_reflection_differs_from_zero_padding_at_the_border_only():
    torch.manual_seed(2)
    reflect, zero = conv(1, 1, 3, pad="reflection"), conv(1, 1, 3, pad="zero")
    zero.load_state_dict(conv_of(reflect).state_dict())
    x = torch.rand(1, 1, 6, 6) + 1
    difference = (reflect(x) - zero(x)).abs()[0, 0]
    assert difference[1:-1, 1:-1].max() < 1e-6
    assert (difference[[0, -1]] > 1e-3).all() and (difference[:, [0, -1]] > 1e-3).all()


def test_pointwise_conv_needs_no_padding_module():
    module = conv(4, 6, 1, pad="reflection")
    assert isinstance(module, nn.Conv2d) and module.padding == (0, 0)


@pytest.mark.parametrize(("bias", "expected"), [(True, 3 * 5 * 9 + 5), (False, 3 * 5 * 9)])
def test_conv_parameter_count(bias, expected):
    module = conv(3, 5, 3, bias=bias)
    assert sum(p.numel() for p in module.parameters()) == expected
    assert (conv_of(module).bias is None) is not bias


@pytest.mark.parametrize("pad", ["reflection", "zero"])
def test_conv_bn_act_computes_act_of_normalised_conv(pad):
    torch.manual_seed(3)
    layers = conv_bn_act(3, 4, 3, 2, pad, "leaky_relu")
    convolution, norm, act = layers
    assert isinstance(norm, nn.BatchNorm2d) and norm.num_features == 4 and isinstance(act, nn.LeakyReLU)
    with torch.no_grad():
        norm.running_mean.copy_(torch.tensor([0.1, -0.2, 0.3, 0.0]))
        norm.running_var.copy_(torch.tensor([1.0, 2.0, 0.5, 4.0]))
        norm.weight.copy_(torch.tensor([1.0, -1.0, 2.0, 0.5]))
        norm.bias.copy_(torch.tensor([0.0, 0.1, -0.1, 0.2]))
    unit = nn.Sequential(*layers).eval()
    x = torch.randn(1, 3, 8, 8)
    y = convolution(x)
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    normalised = (y - norm.running_mean.view(1, -1, 1, 1)) * scale.view(1, -1, 1, 1) + norm.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(unit(x), torch.where(normalised > 0, normalised, 0.2 * normalised))
    assert unit(x).shape == (1, 4, 4, 4)


def test_conv_bn_act_without_activation():
    layers = conv_bn_act(2, 2, 1, 1, "zero", "none")
    assert [type(m) for m in layers] == [nn.Conv2d, nn.BatchNorm2d, nn.Identity]
