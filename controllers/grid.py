"""Grid search: every candidate of a space once, in order (the alpha/beta/gamma scaling grid)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from controllers.base import Controller, Missing, Payload, Tokens, TokenSpace
from search_space.errors import SpecError

if TYPE_CHECKING:
    from search_space import Arch


class GridSearch(Controller):
    """Proposes the space's token lists in lexicographic order, the last decision fastest.

    Meant for small spaces: a study's enumerated space (one decision, which (alpha, beta, gamma)
    point) or a factorized space of a few decisions. Results teach it nothing; tells only clear
    pending asks and count failures. The seed changes nothing: the order is fixed. Asking past
    the last candidate is an error (the budget must not exceed the space's size).

    Args:
        space: the space to enumerate (anything with `cardinalities`, `encode`, `decode`).
        seed: accepted like every controller's, unused.
        failure_reward: see `Controller`.
    """

    name = "grid"

    def __init__(self, space: TokenSpace, *, seed: int = 0, failure_reward: float = 0.0):
        super().__init__(space, seed=seed, failure_reward=failure_reward)
        self.size = math.prod(space.cardinalities)
        self.next = 0  # index of the next candidate to propose

    def _propose(self) -> tuple[Arch, Payload]:
        if self.next >= self.size:
            raise SpecError("controller", self.name, f"proposed all {self.size} candidates of "
                            "the space; the budget must not exceed them")
        index, tokens = self.next, []
        for card in reversed(self.space.cardinalities):
            index, token = divmod(index, card)
            tokens.append(token)
        self.next += 1
        return self.space.decode(tokens[::-1]), None

    def _learn(self, tokens: Tokens, reward: float, payload: Payload | Missing) -> None:
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.keys() == {"next"}:  # saved by the old nas.grid.GridController
            self.next = int(state["next"])
            return
        super().load_state_dict(state)

    def _state(self) -> dict[str, Any]:
        return {"next": self.next}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.next = int(state["next"])
