"""Regularized (aging) evolution, Real et al. 2019, Algorithm 1, made asynchronous for Ray."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from controllers.base import Controller, Missing, Payload, Tokens, rng_state, set_rng_state
from search_space.errors import SpecError
from search_space.validators import integer

if TYPE_CHECKING:
    from search_space import Arch
    from search_space.space import SearchSpace


class Evolution(Controller):
    """Aging evolution: tournament-select a parent, mutate one decision, retire the oldest.

    The population holds the last `population_size` results, oldest first. Each ask after the
    start draws `tournament_size` members uniformly *with replacement*, takes the best (the
    first drawn among equals) and returns ``space.mutate`` of it: exactly one decision changed,
    within the space's FLOPs band. Each tell appends the result and, once the population is
    full, removes the oldest member, whatever its reward (the "aging" that regularizes).

    Asynchronous start: asks are random samples while ``population + pending < population_size``,
    so the first `population_size` asks of a fresh search are random, as in the paper, however
    many are in flight, and the search does not keep sampling at random just because their
    results are slow to arrive. After that, parents come from whatever results are in; only
    while none is in yet (all asks still pending) is an ask random.

    Warm starts (tells of archs never asked) join the population like any result. A failed trial
    joins it with `failure_reward`, so it ages out in turn and, with the default 0.0 under a
    non-negative reward, never wins a tournament against a real result (it can still win one
    whose draws all failed, which keeps the search moving if everything fails).

    The paper's identity mutation (probability 0.05, a re-evaluation of the parent) is left
    out: every child differs from its parent.

    Args:
        space: the search space.
        seed: seeds sampling, tournaments and mutations.
        failure_reward: see `Controller`.
        population_size: P (paper: 100).
        tournament_size: S, at most P (paper: 25; S = 1 is random search over the population).
    """

    name = "evolution"

    def __init__(self, space: SearchSpace, *, seed: int = 0, failure_reward: float = 0.0,
                 population_size: int = 100, tournament_size: int = 25):
        population_size = integer("controller.population_size", population_size, 1)
        tournament_size = integer("controller.tournament_size", tournament_size, 1)
        if tournament_size > population_size:
            raise SpecError("controller.tournament_size", tournament_size,
                            f"must be <= population_size ({population_size})")
        super().__init__(space, seed=seed, failure_reward=failure_reward,
                         population_size=population_size, tournament_size=tournament_size)
        self.population_size, self.tournament_size = population_size, tournament_size
        self.rng = np.random.default_rng(self.seed)
        self.population: deque[tuple[Tokens, float]] = deque()

    def _propose(self) -> tuple[Arch, Payload]:
        if not self.population or len(self.population) + self.num_pending < self.population_size:
            return self.space.sample(self.rng), None
        return self.space.mutate(self.space.decode(self._tournament()), self.rng), None

    def _tournament(self) -> Tokens:
        draws = self.rng.integers(len(self.population), size=self.tournament_size)
        best = max(draws, key=lambda i: self.population[i][1])  # first drawn wins ties
        return self.population[best][0]

    def _learn(self, tokens: Tokens, reward: float, payload: Payload | Missing) -> None:
        self.population.append((tokens, reward))
        if len(self.population) > self.population_size:
            self.population.popleft()

    def _state(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng),
                "population": [[list(tokens), reward] for tokens, reward in self.population]}

    def _load_state(self, state: dict[str, Any]) -> None:
        set_rng_state(self.rng, state["rng"])
        self.population = deque((tuple(tokens), float(reward))
                                for tokens, reward in state["population"])
