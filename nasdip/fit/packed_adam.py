"""Adam for a packed network: every parameter in one flat buffer, one step count per member.

A packed network (:mod:`nasdip.nn.packed`) stores member ``k``'s part of each parameter as block ``k`` of its
dimension 0. :class:`PackedAdam` moves all parameters (and their gradients) into flat buffers, so one Adam step
is a dozen operations on those buffers whatever the number of parameter tensors, and keeps a step count and an
``active`` flag per member: each member's update is the one ``torch.optim.Adam`` makes for its own network
(bias corrections from its own count), a stopped member's parameters no longer move, and
:class:`MemberSnapshot` saves and restores one member's parameters, moments and count for its divergence guard
without touching the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from nasdip.fit.average import OutputAverage


class PackedAdam:
    """Adam (PyTorch's defaults: betas 0.9/0.999, eps 1e-8, no weight decay) over a packed network's parameters.

    The parameters become views into :attr:`param` and their ``.grad`` views into :attr:`grad` (autograd
    accumulates into them in place), so :meth:`zero_grad` clears one buffer.
    """

    def __init__(self, params: Sequence[torch.nn.Parameter], members: int, lr: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        device = params[0].device
        self.members, self.lr, self.betas, self.eps = members, lr, betas, eps
        total = sum(p.numel() for p in params)
        self.param = torch.empty(total, device=device)
        self.grad = torch.zeros(total, device=device)
        owners, offset = [], 0
        for p in params:
            if p.numel() % members:
                raise ValueError(f"a parameter of {p.numel()} values cannot be split among {members} members")
            size = p.numel()
            view = self.param[offset : offset + size].as_strided(p.shape, p.stride())
            view.copy_(p.detach())
            p.data = view
            p.grad = self.grad[offset : offset + size].as_strided(p.shape, p.stride())
            owners.append(torch.arange(members, device=device).repeat_interleave(size // members))
            offset += size
        #: The member that owns each value of the flat buffers.
        self.owner = torch.cat(owners)
        self.exp_avg = torch.zeros(total, device=device)
        self.exp_avg_sq = torch.zeros(total, device=device)
        self.counts = torch.zeros(members, dtype=torch.float64, device=device)
        self.active = torch.ones(members, dtype=torch.float64, device=device)

    def zero_grad(self) -> None:
        self.grad.zero_()

    def deactivate(self, member: int) -> None:
        """Freeze ``member``'s parameters from now on (its fit has stopped)."""
        self.active[member] = 0.0

    def member_index(self, member: int) -> torch.Tensor:
        """Positions of ``member``'s values in the flat buffers."""
        return torch.nonzero(self.owner == member).squeeze(1)

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        self.counts.add_(self.active)
        running = self.active > 0
        scale = torch.where(running, -self.lr / (1 - beta1**self.counts), 0.0).float()[self.owner]
        root = torch.where(running, (1 - beta2**self.counts).sqrt(), 1.0).float()[self.owner]
        self.exp_avg.lerp_(self.grad, 1 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(self.grad, self.grad, value=1 - beta2)
        denom = self.exp_avg_sq.sqrt().div_(root).add_(self.eps)
        self.param.addcdiv_(self.exp_avg * scale, denom)  # the arithmetic of torch.optim.Adam, value for value


class MemberSnapshot:
    """One member's device-side copy of its parameters, Adam moments and step count, and its output average:
    the divergence guard's :class:`nasdip.fit.guard.Snapshot` for a member of a packed fit."""

    def __init__(self, optimizer: PackedAdam, member: int, average: OutputAverage) -> None:
        self.optimizer, self.member, self.average = optimizer, member, average
        self.index = optimizer.member_index(member)
        self.saved = [buffer.index_select(0, self.index) for buffer in self._buffers()]
        self.saved_count = optimizer.counts[member].clone()
        self.saved_average: torch.Tensor | None = None

    def _buffers(self) -> tuple[torch.Tensor, ...]:
        return self.optimizer.param, self.optimizer.exp_avg, self.optimizer.exp_avg_sq

    @torch.no_grad()
    def save(self) -> None:
        for saved, buffer in zip(self.saved, self._buffers(), strict=True):
            torch.index_select(buffer, 0, self.index, out=saved)
        self.saved_count.copy_(self.optimizer.counts[self.member])
        self.saved_average = self.average.save(self.saved_average)

    @torch.no_grad()
    def restore(self) -> None:
        for saved, buffer in zip(self.saved, self._buffers(), strict=True):
            buffer.index_copy_(0, self.index, saved)
        self.optimizer.counts[self.member] = self.saved_count
        self.average.restore(self.saved_average)
