"""Re-initialisation from a seed: the weights a fresh build under that seed would get, bit for bit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nasdip.nn.cell import GroupedConv2d
from nasdip.nn.init import conv_bounds, reinitialisable, reinitialise


def layers() -> nn.Sequential:
    """One of each layer kind the networks hold (biased and unbiased, transposed, grouped, batch norm)."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 1, bias=False),
        nn.Sequential(nn.ReflectionPad2d(1), nn.ConvTranspose2d(8, 4, 5, stride=2)),
        GroupedConv2d(4, 8, 3, groups=4, bias=False), nn.ConvTranspose2d(8, 8, 3, bias=False), nn.BatchNorm2d(8),
    )


def built(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return layers()


def assert_same_state(one: nn.Module, other: nn.Module) -> None:
    ours, theirs = one.state_dict(), other.state_dict()
    assert list(ours) == list(theirs)
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key


def test_reinitialising_gives_a_fresh_build_s_weights_bit_for_bit():
    module = built(0)
    with torch.no_grad():  # disturb everything, batch-norm statistics included
        for tensor in module.state_dict().values():
            tensor.add_(1)
    assert_same_state(reinitialise(module, 7), built(7))


def test_the_bounds_are_torch_s_default_initialisation():
    """An independent computation: Kaiming uniform with a = sqrt(5) is 1/sqrt(fan_in) for the weight too."""
    conv = nn.Conv2d(6, 5, 3)
    weight, bias = conv_bounds(conv)
    assert weight == pytest.approx(1 / 54**0.5, rel=1e-12) and bias == pytest.approx(1 / 54**0.5, rel=1e-12)
    transposed = nn.ConvTranspose2d(6, 5, 3)  # weight (6, 5, 3, 3): fan_in is 5 * 9
    assert conv_bounds(transposed)[0] == pytest.approx(1 / 45**0.5, rel=1e-12)


def test_global_random_state_is_left_alone():
    module = layers()
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    reinitialise(module, 1)
    assert torch.equal(torch.rand(4), expected)


def test_reinitialisable_only_with_layers_whose_initialisation_it_replays():
    assert reinitialisable(layers())

    class Custom(nn.Conv2d):
        def reset_parameters(self) -> None:
            nn.init.zeros_(self.weight)

    assert not reinitialisable(nn.Sequential(nn.Conv2d(1, 1, 1), nn.PReLU()))
    assert not reinitialisable(nn.Sequential(Custom(1, 1, 1)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_network_on_the_gpu_gets_the_cpu_build_s_weights():
    module = built(0).cuda()
    reinitialise(module, 5)
    assert_same_state(module.cpu(), built(5))


def counted_draws(monkeypatch) -> list[torch.Size]:
    """The shapes of the tensors :func:`reinitialise` draws from then on."""
    from nasdip.nn import init

    drawn = []
    original = init._draw

    def draw(tensor, bound, generator):
        drawn.append(tensor.shape)
        original(tensor, bound, generator)

    monkeypatch.setattr(init, "_draw", draw)
    return drawn


def test_reinitialising_again_skips_the_draws_it_would_repeat_and_still_matches_a_fresh_build(monkeypatch):
    module = built(0)
    reinitialise(module, 7)
    drawn = counted_draws(monkeypatch)
    with torch.no_grad():
        module[7].weight.add_(1)  # batch norm: reset whatever happens
    assert_same_state(reinitialise(module, 7), built(7))
    assert drawn == []  # every conv parameter unchanged since the last draw
    with torch.no_grad():
        module[3].weight.add_(1)  # changed in place: it and everything after it are drawn again
    assert_same_state(reinitialise(module, 7), built(7))
    assert drawn == [torch.Size([8, 8, 1, 1]), torch.Size([8, 4, 5, 5]), torch.Size([4]), torch.Size([8, 1, 3, 3]),
                     torch.Size([8, 8, 3, 3])]


def test_a_swapped_module_is_drawn_from_the_generator_state_before_it(monkeypatch):
    module = built(0)
    reinitialise(module, 7)
    module[4] = nn.ConvTranspose2d(8, 4, 5, stride=2)  # a new module where a rewired network swaps its cell
    drawn = counted_draws(monkeypatch)
    reinitialise(module, 7)
    assert len(drawn) == 4  # the new module's weight and bias, then the two convolutions after it
    torch.manual_seed(7)
    expected = layers()
    expected[4] = expected[4][1]  # no padding module: the same parameters in the same order
    assert_same_state(module, expected)


def test_another_seed_draws_everything(monkeypatch):
    module = built(0)
    reinitialise(module, 7)
    drawn = counted_draws(monkeypatch)
    assert_same_state(reinitialise(module, 8), built(8))
    assert len(drawn) == 7  # every conv weight and bias


def test_inference_tensors_are_always_drawn(monkeypatch):
    with torch.inference_mode():
        module = built(0)
        reinitialise(module, 7)
        drawn = counted_draws(monkeypatch)
        reinitialise(module, 7)
    assert len(drawn) == 7
    assert_same_state(module, built(7))
