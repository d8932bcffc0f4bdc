"""What PPO and REINFORCE share: sample from a policy, batch asynchronous results, a baseline."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from controllers.base import (
    Controller,
    Missing,
    Payload,
    Tokens,
    rng_state,
    set_rng_state,
)
from search_space.validators import integer, number

if TYPE_CHECKING:
    from search_space import Arch
    from search_space.space import SearchSpace


class Policy(Protocol):
    """A distribution over token sequences (see `controllers.policy`)."""

    def sample(self, rng: np.random.Generator) -> tuple[list[int], float]: ...

    def log_prob(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> Any: ...


class PolicyGradient(Controller):
    """Samples token sequences from `policy`; every `batch_size` results, improves it.

    ``ask`` samples one token per decision (numpy, no gradient) and remembers the sequence's
    log-probability under the policy of that moment. Tells arrive in any order and collect
    (tokens, old log-prob, reward). When `batch_size` are in, `_improve` gets them with
    advantages A = reward - baseline. The baseline is an exponential moving average of rewards
    with weight `baseline_decay` on the old value; it starts at the first batch's mean and is
    updated reward by reward after each batch's advantages are taken.

    A failed trial is learnt from as `failure_reward`, so the policy learns to avoid what
    fails. A warm-start tell (never asked) is scored with the current policy's log-probability,
    as if sampled just now.

    Subclasses set `policy` and `optimizer` in their constructor, after calling this one with
    the options every policy gradient has (checked here) and their own, and define `_improve`.
    """

    policy: Policy
    optimizer: torch.optim.Optimizer

    def __init__(self, space: SearchSpace, *, seed: int, failure_reward: float, lr: float,
                 batch_size: int, entropy_weight: float, baseline_decay: float, **options: Any):
        super().__init__(
            space, seed=seed, failure_reward=failure_reward,
            lr=number("controller.lr", lr, 0.0, 10.0, low_open=True),
            batch_size=integer("controller.batch_size", batch_size, 1),
            entropy_weight=number("controller.entropy_weight", entropy_weight, 0.0),
            baseline_decay=number("controller.baseline_decay", baseline_decay, 0.0, 1.0),
            **options)
        self.rng = np.random.default_rng(self.seed)
        self.baseline: float | None = None
        self.batch: list[tuple[Tokens, float, float]] = []  # (tokens, old log-prob, reward)
        self.num_updates = 0

    @abstractmethod
    def _improve(self, tokens: torch.Tensor, old_logp: torch.Tensor,
                 advantages: torch.Tensor) -> None:
        """Update the policy from one batch: tokens (batch, decisions), the rest (batch,)."""

    def _propose(self) -> tuple[Arch, Payload]:
        tokens, logp = self.policy.sample(self.rng)
        return self.space.decode(tokens), logp

    def _learn(self, tokens: Tokens, reward: float, payload: Payload | Missing) -> None:
        if isinstance(payload, Missing) or payload is None:  # never asked: a warm start
            with torch.no_grad():
                payload = float(self.policy.log_prob(torch.tensor([tokens]))[0][0])
        self.batch.append((tokens, payload, reward))
        if len(self.batch) >= self.options["batch_size"]:
            self._update()

    def _update(self) -> None:
        rewards = [row[2] for row in self.batch]
        if self.baseline is None:
            self.baseline = sum(rewards) / len(rewards)
        advantages = torch.tensor(rewards) - self.baseline
        decay = self.options["baseline_decay"]
        for reward in rewards:
            self.baseline = decay * self.baseline + (1.0 - decay) * reward
        self._improve(torch.tensor([row[0] for row in self.batch]),
                      torch.tensor([row[1] for row in self.batch]), advantages)
        self.batch.clear()
        self.num_updates += 1

    def _state(self) -> dict[str, Any]:
        return {
            "rng": rng_state(self.rng),
            "policy": dict(self.policy.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "baseline": self.baseline,
            "batch": [[list(tokens), logp, reward] for tokens, logp, reward in self.batch],
            "num_updates": self.num_updates,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        set_rng_state(self.rng, state["rng"])
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline = state["baseline"]
        self.batch = [(tuple(tokens), float(logp), float(reward))
                      for tokens, logp, reward in state["batch"]]
        self.num_updates = state["num_updates"]
