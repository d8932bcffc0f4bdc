"""The ask/tell contract every controller follows, and the bookkeeping they share.

A controller proposes candidates from a `SearchSpace` and learns from their rewards. It knows
nothing about Ray, trials or time: `nas.ledger` drives it (and `nas.engine.searcher` connects the
ledger to Ray's `suggest` / `on_trial_complete`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from search_space.errors import SpecError
from search_space.validators import integer, number

if TYPE_CHECKING:
    from search_space import Arch

Tokens = tuple[int, ...]
# What a controller remembers about one ask until its tell: PPO and REINFORCE keep the
# log-probability the policy gave the tokens when it sampled them; evolution and random, nothing.
Payload = float | None

STATE_VERSION = 1


class AskTell(Protocol):
    """What a search driver (the `Ledger`) needs from a controller: see `Controller`."""

    def ask(self) -> Arch: ...

    def tell(self, arch: Arch, reward: float | None) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class TokenSpace(Protocol):
    """What `Controller` itself needs from a space: a `SearchSpace`, or a study's space."""

    @property
    def cardinalities(self) -> tuple[int, ...]: ...

    def encode(self, arch: Arch) -> list[int]: ...

    def decode(self, tokens: Sequence[int]) -> Arch: ...


class Controller(ABC):
    """Proposes architectures (`ask`) and learns from their rewards (`tell`).

    Lifecycle:

    1. ``make(name, space, seed=..., **options)`` builds a controller; the seed fixes every
       random choice it will make.
    2. ``ask()`` returns an `Arch` of the space. It may be called any number of times before
       any ``tell``: Ray runs many trials at once. Each ask stays *pending* until told.
    3. ``tell(arch, reward)`` reports one result, in any order. The arch is matched to a pending
       ask by its tokens (two identical pending asks: the older one is matched). A tell for an
       arch that was never asked is accepted as a warm start: it is learnt from like any result.
       ``reward=None``, NaN or +-inf means the trial failed; it counts as `failure_reward`
       (default 0.0: a model that learnt nothing scores 0 under the MnasNet reward
       ``ACC * (FLOPs / T) ** w``, which is never negative; pick a value below your reward's
       range if yours can be negative).
    4. ``state_dict()`` / ``load_state_dict(state)`` save and restore everything, pending asks
       included, as plain data (dicts, lists, ints, floats, str, torch tensors) that
       ``torch.load(..., weights_only=True)`` reads back. A restored controller asks exactly
       what the saved one would have asked next.

    The same seed and the same sequence of asks and tells give the same proposals. Proposals
    are not de-duplicated: an arch may be asked again (evolution, a converged policy).

    Subclasses implement `_propose` (the next arch, and what to remember about it until told),
    `_learn` (use one result), and `_state` / `_load_state` for their own fields.

    Args:
        space: the search space to propose from.
        seed: seeds the controller's own random generators.
        failure_reward: the reward a failed trial counts as (a finite number).
    """

    name: ClassVar[str]

    def __init__(self, space: TokenSpace, *, seed: int = 0, failure_reward: float = 0.0,
                 **options: Any):
        self.space = space
        self.seed = integer("controller.seed", seed, 0)
        self.failure_reward = number("controller.failure_reward", failure_reward)
        self.options = {"failure_reward": self.failure_reward, **options}
        self.num_told = 0
        self.num_failed = 0
        self._pending = Pending()

    @property
    def num_pending(self) -> int:
        """Asks not told yet."""
        return len(self._pending)

    def ask(self) -> Arch:
        """Propose the next architecture to evaluate; it stays pending until told."""
        arch, payload = self._propose()
        self._pending.add(tuple(self.space.encode(arch)), payload)
        return arch

    def tell(self, arch: Arch, reward: float | None) -> None:
        """Report the reward of `arch`; None, NaN or inf mean the trial failed.

        Raises:
            SpecError: `arch` is not in the space (from ``space.encode``).
        """
        tokens = tuple(self.space.encode(arch))
        value = finite_or_none(reward)
        if value is None:
            value = self.failure_reward
            self.num_failed += 1
        self.num_told += 1
        self._learn(tokens, value, self._pending.pop(tokens))

    @abstractmethod
    def _propose(self) -> tuple[Arch, Payload]:
        """The next candidate and what to remember about it until told."""

    @abstractmethod
    def _learn(self, tokens: Tokens, reward: float, payload: Payload | Missing) -> None:
        """Use one result; `payload` is `MISSING` when the arch was never asked."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue, as plain data (see the class docstring)."""
        return {
            "controller": self.name,
            "version": STATE_VERSION,
            "cardinalities": list(self.space.cardinalities),
            "options": dict(self.options),
            "num_told": self.num_told,
            "num_failed": self.num_failed,
            "pending": self._pending.to_list(),
            **self._state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state`, made by `state_dict()` of the same controller and options.

        Raises:
            SpecError: the state belongs to another controller, space, options or version.
        """
        self._check_state(state)
        self.num_told = state["num_told"]
        self.num_failed = state["num_failed"]
        self._pending = Pending.from_list(state["pending"])
        self._load_state(state)

    @abstractmethod
    def _state(self) -> dict[str, Any]:
        """The subclass's own fields for `state_dict`, as plain data."""

    @abstractmethod
    def _load_state(self, state: dict[str, Any]) -> None:
        """Restore the fields `_state` saved."""

    def _check_state(self, state: dict[str, Any]) -> None:
        mine = {"controller": self.name, "version": STATE_VERSION,
                "cardinalities": list(self.space.cardinalities)}
        for key, value in mine.items():
            if state.get(key) != value:
                raise SpecError(f"state.{key}", state.get(key), f"this controller has {value!r}")
        for key, value in self.options.items():
            if state["options"].get(key) != value:
                raise SpecError(f"state.options.{key}", state["options"].get(key),
                                f"this controller was made with {value!r}")


class Missing:
    """The payload of a tell whose arch was never asked (a warm start)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = Missing()


class Pending:
    """Asks not yet told, keyed by tokens; identical asks queue oldest first."""

    def __init__(self) -> None:
        self._by_tokens: dict[Tokens, list[Payload]] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[tuple[Tokens, Payload]]:
        for tokens, payloads in self._by_tokens.items():
            for payload in payloads:
                yield tokens, payload

    def add(self, tokens: Tokens, payload: Payload) -> None:
        self._by_tokens.setdefault(tokens, []).append(payload)
        self._count += 1

    def pop(self, tokens: Tokens) -> Payload | Missing:
        """The payload of the oldest pending ask of `tokens`, or `MISSING` if there is none."""
        payloads = self._by_tokens.get(tokens)
        if not payloads:
            return MISSING
        payload = payloads.pop(0)
        if not payloads:
            del self._by_tokens[tokens]
        self._count -= 1
        return payload

    def to_list(self) -> list[list[Any]]:
        return [[list(tokens), payload] for tokens, payload in self]

    @classmethod
    def from_list(cls, rows: list[list[Any]]) -> Pending:
        pending = cls()
        for tokens, payload in rows:
            pending.add(tuple(tokens), payload)
        return pending


def finite_or_none(reward: float | None) -> float | None:
    """`reward` as a float, or None when the trial failed (None, NaN, +-inf)."""
    if reward is None:
        return None
    value = float(reward)
    return value if math.isfinite(value) else None


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """A numpy Generator's state as plain dicts and ints."""
    return rng.bit_generator.state


def set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = state
