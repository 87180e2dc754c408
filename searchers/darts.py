"""``darts``: differentiable architecture search (Liu et al., 2019) on the DIP objective.

The space's super-network relaxes every decision into a softmax-weighted mixture. One super-network per search
image (each with its own weights: a DIP fit is per image) shares one set of architecture logits. The observed
pixels of each image are split at random into two halves; alternating first-order steps fit the weights on one
half and the architecture logits on the other, so the architecture is chosen by how well it predicts pixels the
weights were not fitted to. After ``steps`` steps the discrete architecture is derived (masked argmax, decision
by decision) and proposed once, to be evaluated like any other candidate.
"""

from __future__ import annotations

from typing import Any

import torch

from nasdip.arch.build import build_supernetwork, weight_parameters
from nasdip.arch.document import Arch
from nasdip.errors import NasdipError
from nasdip.fit.device import resolve_device
from nasdip.fit.task import weighted_mean_square
from nasdip.nn.supernet import new_arch_logits
from nasdip.options import MAX_LEARNING_RATE, MAX_STEPS, Option
from nasdip.search.searcher import Searcher


class DartsSearcher(Searcher):
    """Continuous relaxation with a held-out pixel split for the architecture step; derives one architecture."""

    name = "darts"
    help = "differentiable search: super-network, weights and architecture fitted on disjoint pixel halves"
    options = (
        Option("steps", int, None, "super-network fitting steps (default: the search's --iters)", min=1,
               max=MAX_STEPS),
        Option("arch_lr", float, 0.003, "Adam learning rate of the architecture logits", min=0, min_open=True,
               max=MAX_LEARNING_RATE),
        Option("arch_weight_decay", float, 0.001, "weight decay of the architecture logits", min=0, max=1),
        Option("log_every", int, 10, "steps between mixture-weight logs", min=1, max=MAX_STEPS),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.derived: list[dict[str, Any]] = []
        self.proposed = 0

    def ask(self) -> Arch:
        return self.ask_batch(1)[0]

    def ask_batch(self, count: int) -> list[Arch]:
        if not self.derived:
            self.derived = [self.search().to_dict()]
        start = min(self.proposed, len(self.derived) - 1)
        batch = self.derived[start : start + max(1, min(count, len(self.derived) - self.proposed))]
        self.proposed += len(batch)
        return [Arch.from_dict(document) for document in batch]

    def tell(self, arch: Arch, reward: float | None) -> None:
        """The derived architecture's reward is recorded by the driver; nothing to learn from it."""
    def finished(self) -> bool:
        return bool(self.derived) and self.proposed >= len(self.derived)

    def search(self) -> Arch:
        """Fit the super-networks and architecture logits; return the derived architecture."""
        objective = self.context.objective
        if objective is None:
            raise NasdipError("the darts searcher needs the search's task and images (run it through nasdip search)")
        task, problems, settings, config = objective.task, objective.problems, objective.settings, objective.config
        device = resolve_device(settings.device)
        steps = self.values["steps"] or settings.iters
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            logits = new_arch_logits(self.space.decisions)
            nets = [build_supernetwork(self.space, config.replace(out_channels=problem.channels), logits).to(device)
                    for problem in problems]
        problems = [problem.to(device) for problem in problems]
        generator = torch.Generator(device=device).manual_seed(self.seed)
        noise = [torch.rand(1, config.input_depth, *p.output_size, generator=generator, device=device)
                 * settings.input_scale for p in problems]
        splits = [(torch.rand(1, 1, *p.observation.shape[-2:], generator=generator, device=device) < 0.5).float()
                  for p in problems]
        weights = [parameter for net in nets for parameter in weight_parameters(net, logits)]
        weight_optimizer = torch.optim.Adam(weights, lr=settings.lr)
        arch_optimizer = torch.optim.Adam(logits.parameters(), lr=self.values["arch_lr"], betas=(0.5, 0.999),
                                          weight_decay=self.values["arch_weight_decay"])

        def objective(held_out: bool) -> torch.Tensor:
            total = torch.zeros((), device=device)
            for net, problem, z, split in zip(nets, problems, noise, splits, strict=True):
                jitter = torch.randn(z.shape, generator=generator, device=device) * settings.reg_noise
                residual = task.residual(net(z + jitter), problem)
                total = total + weighted_mean_square(residual, 1.0 - split if held_out else split)
            return total / len(nets)

        for step in range(1, steps + 1):
            for optimizer, held_out in ((weight_optimizer, False), (arch_optimizer, True)):
                weight_optimizer.zero_grad(set_to_none=True)
                arch_optimizer.zero_grad(set_to_none=True)
                loss = objective(held_out)
                loss.backward()
                optimizer.step()
            if step % self.values["log_every"] == 0 or step == steps:
                self.context.log(self._mixture_scalars(logits, held_out_loss=float(loss.detach())), step)
        return self.space.derive({name: value.detach().cpu() for name, value in logits.items()})

    def _mixture_scalars(self, logits, held_out_loss: float) -> dict[str, float]:
        scalars = {"darts/held_out_loss": held_out_loss}
        for decision in self.space.decisions:
            probabilities = torch.softmax(logits[decision.name].detach(), dim=0).tolist()
            for choice, probability in zip(decision.choices, probabilities, strict=True):
                scalars[f"darts/{decision.name}/{choice}"] = probability
        return scalars

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "derived": self.derived, "proposed": self.proposed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.derived, self.proposed = state["derived"], state["proposed"]
