"""Cheap synthetic reward landscapes over a search space's tokens, for comparing controllers.

Each builder returns ``tokens -> reward`` in microseconds, seeded, so a controller can be run
for thousands of samples and many seeds in seconds. The shapes differ on purpose, so that no
controller wins by being tuned to one:

- ``additive``: every decision adds its own random value; no interactions (easy, separable).
- ``pairwise``: half additive, half random pair terms, each decision coupled to two others.
- ``nk``: Kauffman's NK landscape: each decision's value depends on itself and K=3 random
  others through a random table; rugged, many local optima.
- ``mnas``: the MnasNet reward ``ACC * (FLOPs / 400M) ** -0.07`` on the real multiply-adds of
  the decoded block table, with a made-up accuracy that saturates in FLOPs and rewards SE and
  residuals and penalises plain convs; interactions come through FLOPs (width x layers x op).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from objectives import analytic_flops
from search_space import SearchSpace

Landscape = Callable[[Sequence[int]], float]


def additive(space: SearchSpace, seed: int) -> Landscape:
    """Mean over decisions of a random U(0, 1) value per choice."""
    rng = np.random.default_rng(seed)
    values = [rng.random(card).tolist() for card in space.cardinalities]

    def reward(tokens: Sequence[int]) -> float:
        return sum(v[t] for v, t in zip(values, tokens)) / len(values)

    return reward


def pairwise(space: SearchSpace, seed: int, partners: int = 2) -> Landscape:
    """Half `additive`, half the mean of random U(0, 1) tables over (decision, partner) pairs."""
    rng = np.random.default_rng(seed)
    alone = additive(space, seed)
    n = len(space.cardinalities)
    pairs = [(i, int(j)) for i in range(n)
             for j in rng.choice([k for k in range(n) if k != i], partners, replace=False)]
    tables = [rng.random((space.cardinalities[i], space.cardinalities[j])) for i, j in pairs]

    def reward(tokens: Sequence[int]) -> float:
        coupled = sum(float(tab[tokens[i], tokens[j]]) for (i, j), tab in zip(pairs, tables))
        return 0.5 * alone(tokens) + 0.5 * coupled / len(pairs)

    return reward


def nk(space: SearchSpace, seed: int, k: int = 3) -> Landscape:
    """Mean over decisions i of ``table_i[t_i, t_(n_i1), ..., t_(n_ik)]``, U(0, 1) tables."""
    rng = np.random.default_rng(seed)
    cards = space.cardinalities
    n = len(cards)
    neighbours = [[i, *rng.choice([j for j in range(n) if j != i], k, replace=False).tolist()]
                  for i in range(n)]
    tables = [rng.random(tuple(cards[j] for j in group)) for group in neighbours]

    def reward(tokens: Sequence[int]) -> float:
        return sum(float(tab[tuple(tokens[j] for j in group)])
                   for group, tab in zip(neighbours, tables)) / n

    return reward


def mnas(space: SearchSpace, seed: int) -> Landscape:
    """A made-up accuracy times MnasNet's soft FLOPs penalty (target 400M, w = -0.07).

    ACC = 0.80 - 0.35 exp(-FLOPs / 200M) + per-stage terms: +0.006 with SE, +0.004 with an
    identity skip, -0.03 for a plain conv op, + a seeded U(0, 0.004) per kernel choice. The
    best tables found sit near 550M multiply-adds, in the upper tail of the space's FLOPs.
    """
    rng = np.random.default_rng(seed)
    kernel_bonus = rng.uniform(0.0, 0.004, size=(len(space.reference.stages), 8))

    def reward(tokens: Sequence[int]) -> float:
        arch = space.decode(tokens)
        flops = analytic_flops(arch)
        acc = 0.80 - 0.35 * math.exp(-flops / 200e6)
        for i, stage in enumerate(arch.stages):
            acc += 0.006 * (stage.se > 0) + 0.004 * (stage.skip == "id")
            acc += kernel_bonus[i, stage.kernel] - 0.03 * (stage.block == "conv")
        return acc * (flops / 400e6) ** -0.07

    return reward


LANDSCAPES: dict[str, Callable[[SearchSpace, int], Landscape]] = {
    "additive": additive, "pairwise": pairwise, "nk": nk, "mnas": mnas,
}
