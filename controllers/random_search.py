"""Random search: every ask is a uniform sample of the space, the baseline every report needs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from controllers.base import Controller, Missing, Payload, Tokens, rng_state, set_rng_state

if TYPE_CHECKING:
    from search_space import Arch
    from search_space.space import SearchSpace


class RandomSearch(Controller):
    """Uniform samples from the space (``space.sample``, which respects its FLOPs band).

    Results teach it nothing; tells only clear pending asks and count failures.

    Args:
        space: the search space.
        seed: seeds the sampling.
        failure_reward: see `Controller`.
    """

    name = "random"

    def __init__(self, space: SearchSpace, *, seed: int = 0, failure_reward: float = 0.0):
        super().__init__(space, seed=seed, failure_reward=failure_reward)
        self.rng = np.random.default_rng(self.seed)

    def _propose(self) -> tuple[Arch, Payload]:
        return self.space.sample(self.rng), None

    def _learn(self, tokens: Tokens, reward: float, payload: Payload | Missing) -> None:
        return None

    def _state(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng)}

    def _load_state(self, state: dict[str, Any]) -> None:
        set_rng_state(self.rng, state["rng"])
