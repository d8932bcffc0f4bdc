"""The MnasNet controller: an LSTM policy trained with PPO on batches of asynchronous results."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from controllers.policy import TokenPolicy
from controllers.policy_gradient import PolicyGradient
from search_space.validators import integer, number

if TYPE_CHECKING:
    from search_space.space import SearchSpace


class PPO(PolicyGradient):
    """Sample token sequences from an LSTM policy; push up the ones that beat the baseline.

    Asks, tells, batching and the baseline are `PolicyGradient`'s. Each batch of results gets
    `epochs` Adam steps on the PPO clipped surrogate plus an entropy bonus::

        mean(min(ratio * A, clip(ratio, 1 - clip, 1 + clip) * A)) + entropy_weight * entropy

    with ratio = p_now(tokens) / p_at_ask(tokens): asks that ran ahead of an update (Ray runs
    many trials at once) are weighted correctly, and no step strays far from the sampling policy.

    The defaults are the NASNet controller that MnasNet reuses (1-layer LSTM, 100 units,
    lr 3.5e-4, entropy weight 1e-5, baseline decay 0.95, 20 results per update), with PPO's usual
    clip 0.2 (no paper gives one) and 5 epochs per batch (NNI's ``repeat=5``; the papers are
    silent). They are meant for ~8K samples: on budgets of a few hundred, pass a larger `lr`
    (the tests use 3e-3; the benchmark shows both).

    Args:
        space: the search space.
        seed: seeds the policy's initial weights (a `torch.Generator`) and the sampling (a numpy
            Generator).
        failure_reward: see `Controller`.
        lr: Adam learning rate.
        batch_size: results per policy update.
        epochs: PPO passes over each batch.
        clip: PPO ratio clip epsilon.
        entropy_weight: weight of the entropy bonus.
        baseline_decay: weight of the old baseline in its moving average.
        hidden_size: LSTM width (and token embedding size).
    """

    name = "ppo"

    def __init__(self, space: SearchSpace, *, seed: int = 0, failure_reward: float = 0.0,
                 lr: float = 3.5e-4, batch_size: int = 20, epochs: int = 5, clip: float = 0.2,
                 entropy_weight: float = 1e-5, baseline_decay: float = 0.95,
                 hidden_size: int = 100):
        super().__init__(space, seed=seed, failure_reward=failure_reward, lr=lr,
                         batch_size=batch_size, entropy_weight=entropy_weight,
                         baseline_decay=baseline_decay,
                         epochs=integer("controller.epochs", epochs, 1),
                         clip=number("controller.clip", clip, 0.0, 1.0, low_open=True),
                         hidden_size=integer("controller.hidden_size", hidden_size, 1))
        self.policy = TokenPolicy(space.cardinalities, self.options["hidden_size"],
                                  torch.Generator().manual_seed(self.seed))
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.options["lr"])

    def _improve(self, tokens: torch.Tensor, old_logp: torch.Tensor,
                 advantages: torch.Tensor) -> None:
        clip = self.options["clip"]
        for _ in range(self.options["epochs"]):
            logp, entropy = self.policy.log_prob(tokens)
            ratio = torch.exp(logp - old_logp)
            surrogate = torch.min(ratio * advantages,
                                  ratio.clamp(1 - clip, 1 + clip) * advantages)
            loss = -(surrogate.mean() + self.options["entropy_weight"] * entropy.mean())
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
