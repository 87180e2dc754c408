"""Small layers shared by the backbones: padded convolution, batch norm, activations."""

from __future__ import annotations

from torch import nn


def activation(name: str) -> nn.Module:
    """``none`` | ``relu`` | ``leaky_relu`` (slope 0.2, as in DIP)."""
    if name == "none":
        return nn.Identity()
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(0.2)
    raise ValueError(f"unknown activation {name!r}")


def conv(c_in: int, c_out: int, kernel: int, stride: int = 1, pad: str = "reflection", bias: bool = True) -> nn.Module:
    """Convolution with "same" padding (reflection by default, as DIP's ``conv``)."""
    amount = (kernel - 1) // 2
    if pad == "reflection" and amount:
        return nn.Sequential(nn.ReflectionPad2d(amount), nn.Conv2d(c_in, c_out, kernel, stride, bias=bias))
    return nn.Conv2d(c_in, c_out, kernel, stride, padding=amount, bias=bias)


def conv_bn_act(c_in: int, c_out: int, kernel: int, stride: int, pad: str, act: str) -> list[nn.Module]:
    """The backbone's unit: padded convolution, batch norm, activation."""
    return [conv(c_in, c_out, kernel, stride, pad), nn.BatchNorm2d(c_out), activation(act)]
