"""The super-resolution operator against kornia/torch and against a hand-built blur-then-bicubic matrix."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from kornia.filters import gaussian_blur2d

from nasdip.ops import Downsample, downsample, upsample_bicubic

#: PyTorch's bicubic convolution kernel parameter (Keys' a).
CUBIC_A = -0.75


def cubic(x: float) -> float:
    """Keys' cubic convolution kernel with a = -0.75, as PyTorch's bicubic interpolation uses."""
    x, a = abs(x), CUBIC_A
    if x <= 1:
        return (a + 2) * x**3 - (a + 3) * x**2 + 1
    if x < 2:
        return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return 0.0


def bicubic_matrix(size_in: int, size_out: int) -> np.ndarray:
    """Bicubic resampling of one axis (half-pixel centres, borders clamped) as a ``size_out x size_in`` matrix."""
    scale = size_in / size_out
    matrix = np.zeros((size_out, size_in))
    for i in range(size_out):
        source = (i + 0.5) * scale - 0.5
        base = math.floor(source)
        for tap in range(base - 1, base + 3):
            matrix[i, min(max(tap, 0), size_in - 1)] += cubic(source - tap)
    return matrix


def gaussian_matrix(size: int, sigma: float) -> np.ndarray:
    """Gaussian smoothing of one axis with reflection padding (kornia's kernel size rule) as a matrix."""
    ksize = int(max(4 * sigma, 3))
    ksize += 1 - ksize % 2
    offsets = np.arange(ksize) - ksize // 2
    kernel = np.exp(-(offsets**2) / (2 * sigma**2))
    kernel /= kernel.sum()
    matrix = np.zeros((size, size))
    for i in range(size):
        for weight, offset in zip(kernel, offsets, strict=True):
            j = i + offset
            j = -j if j < 0 else (2 * (size - 1) - j if j >= size else j)  # reflect, edge not repeated
            matrix[i, j] += weight
    return matrix


def hand_downsample(image: torch.Tensor, factor: int) -> torch.Tensor:
    """``B_h G_h X G_w^T B_w^T`` per channel: blur (sigma = (s - 1) / 2) then bicubic, built from scratch."""
    h, w = image.shape[-2:]
    sigma = (factor - 1) / 2
    rows = bicubic_matrix(h, h // factor) @ gaussian_matrix(h, sigma)
    cols = bicubic_matrix(w, w // factor) @ gaussian_matrix(w, sigma)
    out = np.einsum("ij,ncjk,lk->ncil", rows, image.double().numpy(), cols)
    return torch.from_numpy(out).to(image.dtype)


@pytest.mark.parametrize(("factor", "size"), [(2, (16, 12)), (3, (18, 24)), (4, (32, 24))])
def test_downsample_equals_a_hand_built_blur_and_bicubic_operator(factor, size):
    image = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(factor))
    torch.testing.assert_close(downsample(image, factor), hand_downsample(image, factor), atol=1e-5, rtol=1e-5)


def test_downsample_is_kornias_gaussian_blur_then_torch_bicubic():
    image = torch.rand(2, 3, 32, 24, generator=torch.Generator().manual_seed(0))
    expected = F.interpolate(gaussian_blur2d(image, (7, 7), (1.5, 1.5)), size=(8, 6), mode="bicubic",
                             align_corners=False)
    torch.testing.assert_close(downsample(image, 4), expected)
    torch.testing.assert_close(Downsample(4)(image), expected)


def test_downsample_preserves_constant_images():
    flat = torch.full((1, 1, 16, 16), 0.3)
    torch.testing.assert_close(downsample(flat, 2), torch.full((1, 1, 8, 8), 0.3))


def test_downsample_is_linear():
    generator = torch.Generator().manual_seed(1)
    a, b = torch.rand(1, 3, 24, 24, generator=generator), torch.rand(1, 3, 24, 24, generator=generator)
    torch.testing.assert_close(downsample(0.3 * a - 2.0 * b, 3), 0.3 * downsample(a, 3) - 2.0 * downsample(b, 3),
                               atol=1e-5, rtol=1e-5)


def test_downsample_by_one_returns_the_image_itself():
    image = torch.rand(1, 3, 7, 5)
    assert downsample(image, 1) is image


@pytest.mark.parametrize(
    ("shape", "factor", "message"),
    [
        ((1, 3, 10, 10), 4, r"^image size \(10, 10\) is not divisible by the factor 4$"),
        ((1, 3, 8, 12), 3, r"^image size \(8, 12\) is not divisible by the factor 3$"),
        ((1, 3, 8, 8), 0, r"^image size \(8, 8\) is not divisible by the factor 0$"),
        ((3, 8, 8), 2, r"^expected a \(N, C, H, W\) tensor, got shape \(3, 8, 8\)$"),
    ],
)
def test_downsample_refuses_bad_shapes_and_factors(shape, factor, message):
    with pytest.raises(ValueError, match=message):
        downsample(torch.rand(*shape), factor)


def test_downsample_is_differentiable_with_the_operators_adjoint_as_gradient():
    image = torch.rand(1, 1, 16, 16, requires_grad=True)
    weights = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    (downsample(image, 2) * weights).sum().backward()
    operator = bicubic_matrix(16, 8) @ gaussian_matrix(16, 0.5)
    expected = operator.T @ weights[0, 0].double().numpy() @ operator  # adjoint of X -> M X M^T
    np.testing.assert_allclose(image.grad[0, 0].numpy(), expected, atol=1e-6)


def test_module_form_reports_its_factor():
    module = Downsample(3)
    assert module.factor == 3 and repr(module) == "Downsample(factor=3)"
    assert list(module.parameters()) == []


def test_bicubic_upsampling_equals_the_hand_built_bicubic_operator():
    image = torch.rand(1, 2, 6, 5, generator=torch.Generator().manual_seed(3)) * 0.5 + 0.25
    rows, cols = bicubic_matrix(6, 24), bicubic_matrix(5, 20)
    expected = np.einsum("ij,ncjk,lk->ncil", rows, image.double().numpy(), cols).clip(0, 1)
    torch.testing.assert_close(upsample_bicubic(image, 4), torch.from_numpy(expected).float(), atol=1e-5, rtol=1e-5)


def test_bicubic_upsampling_clamps_the_overshoot_at_edges():
    step = torch.zeros(1, 1, 8, 8)
    step[..., 4:] = 1.0
    raw = F.interpolate(step, scale_factor=4, mode="bicubic", align_corners=False)
    assert raw.min() < 0 and raw.max() > 1  # plain bicubic rings past the range
    up = upsample_bicubic(step, 4)
    assert up.shape == (1, 1, 32, 32) and up.min() == 0 and up.max() == 1
    torch.testing.assert_close(up, raw.clamp(0, 1))
