"""``rl``: the NAS-DIP strategy, an LSTM controller trained with REINFORCE on the rewards.

The controller takes the space's decisions one at a time: its input is the embedding of the previous choice
(a learned start vector first), an LSTM cell updates its state, and a per-decision linear head gives logits
(squashed as ``tanh_constant * tanh(logits / temperature)``). Choices the space masks out get probability 0,
so every sample is buildable. After each batch of rewards the controller takes one Adam step on

    loss = -mean_i[(R_i - b) * log p(arch_i)] - entropy_weight * mean_i[H_i]

with ``b`` an exponential moving average of the rewards. A failed candidate counts as the lowest reward seen.
Under a multi-fidelity schedule each rung has its own baseline and lowest reward, and each round's rewards at a
rung above 0 make one more update against that rung's baseline.
Log-probabilities are recomputed at update time by replaying the chosen decisions, so the state to save is just
the controller, its optimiser, the baseline and the random generators.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nasdip.arch.document import Arch
from nasdip.arch.space import Space
from nasdip.options import MAX_LEARNING_RATE, Option
from nasdip.search.searcher import Searcher


class Controller(nn.Module):
    """An LSTM that emits one categorical decision per step, fed the embedding of the previous choice."""

    def __init__(self, choice_counts: list[int], hidden: int) -> None:
        super().__init__()
        self.start = nn.Parameter(torch.zeros(1, hidden))
        self.embeddings = nn.ModuleList(nn.Embedding(count, hidden) for count in choice_counts)
        self.cell = nn.LSTMCell(hidden, hidden)
        self.heads = nn.ModuleList(nn.Linear(hidden, count) for count in choice_counts)

    def walk(self, space: Space, squash, chosen: list[int] | None = None, generator: torch.Generator | None = None):
        """Sample (``chosen`` is None) or replay decisions; returns indices, summed log-prob and entropy."""
        state = None
        inputs = self.start
        indices: list[int] = []
        prior: dict[str, Any] = {}
        log_prob = torch.zeros(())
        entropy = torch.zeros(())
        for position, decision in enumerate(space.decisions):
            state = self.cell(inputs, state)
            logits = squash(self.heads[position](state[0])[0])
            mask = torch.tensor(space.allowed(decision, prior))
            logits = logits.masked_fill(~mask, float("-inf"))
            distribution = torch.distributions.Categorical(logits=logits)
            if chosen is None:
                index = int(torch.multinomial(distribution.probs.detach(), 1, generator=generator))
            else:
                index = chosen[position]
            indices.append(index)
            prior[decision.name] = decision.choices[index]
            log_prob = log_prob + distribution.log_prob(torch.tensor(index))
            probs = distribution.probs
            entropy = entropy - (probs[mask] * probs[mask].log()).sum()
            inputs = self.embeddings[position](torch.tensor([index]))
        return indices, log_prob, entropy


class RLSearcher(Searcher):
    """REINFORCE with an LSTM controller over the space's decisions (NAS-DIP's search strategy)."""

    name = "rl"
    help = "LSTM controller trained with REINFORCE, moving-average baseline and entropy bonus (NAS-DIP)"
    options = (
        Option("hidden", int, 64, "LSTM state size", min=1, max=4096),
        Option("lr", float, 0.005, "Adam learning rate of the controller", min=0, min_open=True,
               max=MAX_LEARNING_RATE),
        Option("baseline_decay", float, 0.9, "decay of the moving-average reward baseline", min=0, max=1),
        Option("entropy_weight", float, 0.001, "weight of the entropy bonus", min=0, max=100),
        # float32 logits: a larger squash or a smaller temperature overflows them into NaN probabilities
        Option("tanh_constant", float, 2.5, "logits are squashed to tanh_constant * tanh(logits / temperature)",
               min=0, min_open=True, max=100),
        Option("temperature", float, 1.0, "softmax temperature of the logits", min=0.01, max=100),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.controller = Controller([len(d.choices) for d in self.space.decisions], self.values["hidden"])
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=self.values["lr"])
        self.generator = torch.Generator().manual_seed(self.seed)
        self.baselines: dict[int, float] = {}  # one moving-average baseline per fidelity rung
        self.worst: dict[int, float] = {}
        self.outstanding = 0
        self.update_size = 0  # candidates of the last ask_batch (0: update only when none is outstanding)
        self.buffer: list[tuple[Arch, float | None]] = []
        self.updates = 0

    def _squash(self, logits: torch.Tensor) -> torch.Tensor:
        return self.values["tanh_constant"] * torch.tanh(logits / self.values["temperature"])

    def ask(self) -> Arch:
        if not self.space.decisions:
            self.outstanding += 1
            return self.space.arch({})
        with torch.no_grad():
            indices, _, _ = self.controller.walk(self.space, self._squash, generator=self.generator)
        self.outstanding += 1
        return self.space.decode(indices)

    def ask_batch(self, count: int) -> list[Arch]:
        self.update_size = count
        return super().ask_batch(count)

    def tell(self, arch: Arch, reward: float | None) -> None:
        """Buffer the reward; update once the last batch asked for is complete (with an asynchronous schedule,
        batches of one, while other candidates are still running)."""
        self.buffer.append((arch, reward))
        self.outstanding = max(self.outstanding - 1, 0)
        if self.outstanding == 0 or 0 < self.update_size <= len(self.buffer):
            batch, self.buffer = self.buffer, []
            self._update(batch, rung=0)

    def tell_round(self, results) -> None:
        """Rung-0 rewards as :meth:`tell`; each higher rung's rewards are one more update against that rung's
        own baseline (rewards of different fidelities are never compared)."""
        super().tell_round(results)
        for rung in sorted({rung for _, _, rung in results if rung > 0}):
            self._update([(arch, reward) for arch, reward, r in results if r == rung], rung)

    def _update(self, batch: list[tuple[Arch, float | None]], rung: int) -> None:
        for _, reward in batch:
            if reward is not None:
                self.worst[rung] = min(self.worst.get(rung, reward), reward)
        scored = [(arch, self.worst.get(rung) if reward is None else reward) for arch, reward in batch]
        scored = [(arch, reward) for arch, reward in scored if reward is not None]
        if not scored or not self.space.decisions:
            return
        rewards = torch.tensor([reward for _, reward in scored])
        baseline = self.baselines.setdefault(rung, float(rewards.mean()))
        advantages = rewards - baseline
        log_probs, entropies = [], []
        for arch, _ in scored:
            _, log_prob, entropy = self.controller.walk(self.space, self._squash, chosen=list(self.space.encode(arch)))
            log_probs.append(log_prob)
            entropies.append(entropy)
        entropy = torch.stack(entropies).mean()
        loss = -(advantages * torch.stack(log_probs)).mean() - self.values["entropy_weight"] * entropy
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        decay = self.values["baseline_decay"]
        self.baselines[rung] = decay * baseline + (1 - decay) * float(rewards.mean())
        self.updates += 1
        suffix = f"_rung{rung}" if rung else ""
        self.context.log({"rl/entropy": float(entropy.detach()), f"rl/baseline{suffix}": self.baselines[rung],
                          f"rl/reward_mean{suffix}": float(rewards.mean()),
                          "rl/advantage_mean": float(advantages.mean())}, self.updates)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "controller": self.controller.state_dict(),
                "optimizer": self.optimizer.state_dict(), "generator": self.generator.get_state(),
                "baselines": self.baselines, "outstanding": self.outstanding, "worst": self.worst,
                "update_size": self.update_size,
                "updates": self.updates, "buffer": [(arch.to_dict(), reward) for arch, reward in self.buffer]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        if "baselines" in state:
            self.baselines, self.worst = dict(state["baselines"]), dict(state["worst"])
        else:  # a run directory written before per-rung baselines
            self.baselines = {} if state["baseline"] is None else {0: state["baseline"]}
            self.worst = {} if state["worst"] is None else {0: state["worst"]}
        self.outstanding = state["outstanding"]
        self.update_size = state.get("update_size", 0)
        self.updates = state["updates"]
        self.buffer = [(Arch.from_dict(document), reward) for document, reward in state["buffer"]]
