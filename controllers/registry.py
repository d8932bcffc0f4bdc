"""Controllers by name: `make("evolution", space, seed=0, population_size=50)`."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from controllers.base import Controller
from controllers.evolution import Evolution
from controllers.grid import GridSearch
from controllers.ppo import PPO
from controllers.random_search import RandomSearch
from controllers.reinforce import Reinforce
from search_space.errors import SpecError
from search_space.validators import check_keys

if TYPE_CHECKING:
    from search_space.space import SearchSpace

_REGISTRY: dict[str, type[Controller]] = {
    cls.name: cls for cls in (RandomSearch, Evolution, PPO, Reinforce, GridSearch)
}


def names() -> tuple[str, ...]:
    """The controller names `make` accepts."""
    return tuple(_REGISTRY)


def controller_class(name: str) -> type[Controller]:
    """The class registered as `name`.

    Raises:
        SpecError: `name` is not a controller.
    """
    if name not in _REGISTRY:
        raise SpecError("controller", name,
                        f"unknown controller (choose from {', '.join(names())})")
    return _REGISTRY[name]


def options(name: str) -> dict[str, Any]:
    """The options of controller `name` (besides space and seed) with their defaults."""
    params = inspect.signature(controller_class(name)).parameters.values()
    return {p.name: p.default for p in params
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "seed"}


def make(name: str, space: SearchSpace, seed: int = 0, **kwargs: Any) -> Controller:
    """A controller of `space`, seeded.

    Args:
        name: one of `names()`: ``random``, ``evolution``, ``ppo``, ``reinforce``, ``grid``.
        space: the search space to propose from.
        seed: seeds every random choice of the controller.
        **kwargs: the controller's options (see its class docstring), e.g.
            ``population_size=100, tournament_size=25`` for evolution.

    Returns:
        A fresh `Controller`.

    Raises:
        SpecError: unknown name or option, or a bad option value.

    Example::

        from search_space import load_space
        ctrl = make("evolution", load_space("b0"), seed=0)
        arch = ctrl.ask()
        ctrl.tell(arch, 0.71)
    """
    check_keys(kwargs, options(name), "controller.")
    return controller_class(name)(space, seed=seed, **kwargs)
