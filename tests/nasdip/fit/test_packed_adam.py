"""Packed Adam: each member's update is torch.optim.Adam's, value for value; members stop and roll back alone."""

from __future__ import annotations

import torch

from nasdip.fit.average import OutputAverage
from nasdip.fit.packed_adam import MemberSnapshot, PackedAdam

MEMBERS = 3
SHAPES = [(MEMBERS * 4, 2, 3, 3), (MEMBERS * 4,), (MEMBERS * 5, 1)]


def gradients(generator: torch.Generator) -> list[torch.Tensor]:
    """Gradients spanning many orders of magnitude (DIP's range, including numerically zero ones)."""
    return [torch.randn(shape, generator=generator) * 10.0 ** torch.randint(-9, 1, shape, generator=generator)
            for shape in SHAPES]


def setup():
    generator = torch.Generator().manual_seed(0)
    packed = [torch.nn.Parameter(torch.randn(shape, generator=generator)) for shape in SHAPES]
    members = [[torch.nn.Parameter(p.detach().chunk(MEMBERS)[k].clone()) for p in packed] for k in range(MEMBERS)]
    references = [torch.optim.Adam(params, lr=0.01) for params in members]
    return packed, PackedAdam(packed, MEMBERS, lr=0.01), members, references, generator


def step(packed, optimizer, members, references, grads, active=range(MEMBERS)):
    optimizer.zero_grad()
    for p, g in zip(packed, grads, strict=True):
        p.grad += g  # accumulate in place, as autograd does
    optimizer.step()
    for k in active:
        for p, g in zip(members[k], grads, strict=True):
            p.grad = g.chunk(MEMBERS)[k].clone()
        references[k].step()


def assert_members_equal(packed, members, which=range(MEMBERS)):
    for k in which:
        for mine, theirs in zip(packed, members[k], strict=True):
            assert torch.equal(mine.detach().chunk(MEMBERS)[k], theirs.detach())


def test_each_member_steps_exactly_like_torch_adam():
    packed, optimizer, members, references, generator = setup()
    for _ in range(20):
        step(packed, optimizer, members, references, gradients(generator))
    assert_members_equal(packed, members)
    assert optimizer.counts.tolist() == [20.0] * MEMBERS


def test_parameters_and_gradients_live_in_the_flat_buffers():
    packed, optimizer, *_ = setup()
    for p in packed:
        assert p.untyped_storage().data_ptr() == optimizer.param.untyped_storage().data_ptr()
        assert p.grad.untyped_storage().data_ptr() == optimizer.grad.untyped_storage().data_ptr()
    loss = sum((p * p).sum() for p in packed)
    loss.backward()
    assert torch.equal(optimizer.grad, 2 * optimizer.param)


def test_a_stopped_member_is_frozen_and_the_others_go_on():
    packed, optimizer, members, references, generator = setup()
    for _ in range(5):
        step(packed, optimizer, members, references, gradients(generator))
    optimizer.deactivate(1)
    frozen = [p.detach().chunk(MEMBERS)[1].clone() for p in packed]
    for _ in range(5):
        step(packed, optimizer, members, references, gradients(generator), active=(0, 2))
    assert all(torch.equal(p.detach().chunk(MEMBERS)[1], f) for p, f in zip(packed, frozen, strict=True))
    assert_members_equal(packed, members, (0, 2))
    assert optimizer.counts.tolist() == [10.0, 5.0, 10.0]


def test_one_member_rolls_back_alone_with_its_step_count():
    packed, optimizer, members, references, generator = setup()
    average = OutputAverage(0.5)
    snapshot = MemberSnapshot(optimizer, 2, average)
    for _ in range(4):
        step(packed, optimizer, members, references, gradients(generator))
    average.update(torch.ones(2))
    snapshot.save()
    saved = {k: [p.detach().clone() for p in members[k]] for k in range(MEMBERS)}
    saved_state = {id(p): {key: value.clone() for key, value in references[2].state[p].items()} for p in members[2]}
    for _ in range(3):
        step(packed, optimizer, members, references, gradients(generator))
    average.update(torch.zeros(2))
    snapshot.restore()
    # The reference for member 2 rolls back the way the single-fit guard does (parameters and Adam state).
    with torch.no_grad():
        for p, value in zip(members[2], saved[2], strict=True):
            p.copy_(value)
            references[2].state[p] = saved_state[id(p)]
    assert_members_equal(packed, members)
    assert torch.equal(average.value, torch.ones(2))
    assert optimizer.counts.tolist() == [7.0, 7.0, 4.0]
    for _ in range(3):  # and it goes on from there exactly, with bias corrections from its own count
        step(packed, optimizer, members, references, gradients(generator))
    assert_members_equal(packed, members)
