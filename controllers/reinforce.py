"""TuNAS's controller: independent per-decision softmaxes trained with REINFORCE."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from controllers.policy import FactorizedPolicy
from controllers.policy_gradient import PolicyGradient

if TYPE_CHECKING:
    from search_space.space import SearchSpace


class Reinforce(PolicyGradient):
    """REINFORCE on one independent softmax per decision, all starting uniform (TuNAS).

    Asks, tells, batching and the baseline are `PolicyGradient`'s. Each batch of results gets
    one Adam step on ``mean(A * log p(tokens)) + entropy_weight * entropy``. Unlike PPO there
    is no importance ratio: asks that ran ahead of an update count as if sampled by the current
    policy, which is fine while few are in flight. There is no LSTM either, so decisions are
    learnt independently: cheap, and blind to interactions except through the reward.

    From TuNAS (google-research ``tunas/``): Adam with beta1 = 0, beta2 = 0.999, eps 1e-8;
    baseline decay 0.95; entropy weight 0; lr 0.0003 x batch / 256 = 4.8e-3 at their batch of
    4096 (their warm-up and x10 ramp of the rate are left out). TuNAS updates after every
    training step of a one-shot supernet; here a step is `batch_size` finished trials.

    Args:
        space: the search space.
        seed: seeds the sampling (a numpy Generator); the logits start at 0.
        failure_reward: see `Controller`.
        lr: Adam learning rate.
        batch_size: results per policy update.
        entropy_weight: weight of the entropy bonus.
        baseline_decay: weight of the old baseline in its moving average.
    """

    name = "reinforce"

    def __init__(self, space: SearchSpace, *, seed: int = 0, failure_reward: float = 0.0,
                 lr: float = 4.8e-3, batch_size: int = 1, entropy_weight: float = 0.0,
                 baseline_decay: float = 0.95):
        super().__init__(space, seed=seed, failure_reward=failure_reward, lr=lr,
                         batch_size=batch_size, entropy_weight=entropy_weight,
                         baseline_decay=baseline_decay)
        self.policy = FactorizedPolicy(space.cardinalities)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.options["lr"],
                                          betas=(0.0, 0.999), eps=1e-8)

    def _improve(self, tokens: torch.Tensor, old_logp: torch.Tensor,
                 advantages: torch.Tensor) -> None:
        logp, entropy = self.policy.log_prob(tokens)
        loss = -((advantages * logp).mean() + self.options["entropy_weight"] * entropy.mean())
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
