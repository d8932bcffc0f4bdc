"""Compound scaling step 1 (EfficientNet §3.3): grid-search alpha, beta, gamma at phi = 1.

The grid runs through the same machinery as a search (Ray trials, run directory, journal,
`status`, `load_results`, `pareto`, `resume`): its space (`nas.studies.enumerated`) maps a
one-token candidate to the base architecture scaled by one (alpha, beta, gamma) point, and
`controllers.grid.GridSearch` proposes the points in order. Each point is proxy-trained at the
proxy resolution scaled by its gamma^phi, so resolution scaling is measured rather than ignored.
The chosen coefficients leave as a YAML file (`nas.outputs.coefficients`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from controllers.grid import GridSearch
from nas.studies.enumerated import Entry, EnumeratedSpace
from search_space import Arch, load_arch, scale
from search_space.errors import SpecError
from search_space.validators import choice, positive


@dataclass(frozen=True)
class GridConfig:
    """Which base to scale, the grid, the constraint and how the winner is chosen.

    Attributes:
        base: the block table to scale: a preset name or a block-table YAML path.
        alpha: depth multipliers searched, ``[low, high]``.
        beta: width multipliers searched, ``[low, high]``.
        gamma: resolution multipliers searched, ``[low, high]``.
        step: the grid's spacing on every axis.
        product: the constraint's target: alpha * beta^2 * gamma^2 should be about this.
        tolerance: how far from `product` a point may be and still be trained.
        phi: the compound coefficient each point scales the base by.
        metric: what picks the winner: ``accuracy`` or ``reward``.
    """

    base: str = "efficientnet-b0"  # preset name or block-table YAML
    alpha: tuple[float, ...] = (1.0, 1.4)  # depth range [low, high]
    beta: tuple[float, ...] = (1.0, 1.4)  # width range
    gamma: tuple[float, ...] = (1.0, 1.4)  # resolution range
    step: float = 0.05
    product: float = 2.0  # alpha * beta^2 * gamma^2 should be about this ...
    tolerance: float = 0.1  # ... within this
    phi: float = 1.0
    metric: str = "accuracy"  # or "reward"

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "gamma"):
            low_high = getattr(self, name)
            if len(low_high) != 2 or not 1.0 <= low_high[0] <= low_high[1] < math.inf:
                raise SpecError(name, list(low_high), "must be [low, high] with 1 <= low <= high")
        for name in ("step", "product", "tolerance", "phi"):
            positive(name, getattr(self, name))
        choice("metric", self.metric, ("accuracy", "reward"))


def _axis(low_high: tuple[float, ...], step: float) -> np.ndarray:
    count = int((low_high[1] - low_high[0]) / step + 1e-9) + 1  # never past the upper end
    return np.round(low_high[0] + step * np.arange(count), 6)


def grid_points(grid: GridConfig) -> list[tuple[float, float, float]]:
    """Every (alpha, beta, gamma) on the grid with |alpha*beta^2*gamma^2 - product| <= tol."""
    axes = (_axis(grid.alpha, grid.step), _axis(grid.beta, grid.step),
            _axis(grid.gamma, grid.step))
    points = [(float(a), float(b), float(g)) for a, b, g in itertools.product(*axes)
              if abs(a * b * b * g * g - grid.product) <= grid.tolerance]
    if not points:
        raise SpecError("grid.tolerance", grid.tolerance,
                        f"no grid point has alpha*beta^2*gamma^2 within it of {grid.product}")
    return points


def grid_space(base: Arch, points: list[tuple[float, float, float]],
               phi: float = 1.0) -> EnumeratedSpace:
    """The grid as a space of one decision, which point; each row carries the point."""
    entries: dict[Arch, Entry] = {}
    for alpha, beta, gamma in points:
        arch = scale(base, phi, alpha, beta, gamma).replace(
            name=f"{base.name or 'base'}-a{alpha:g}-b{beta:g}-g{gamma:g}")
        # rounding (ceil on repeats, widths to 8) can give two points one model: train it once
        entries.setdefault(arch, Entry(arch, {"alpha": alpha, "beta": beta, "gamma": gamma,
                                              "phi": phi}))
    return EnumeratedSpace(list(entries.values()), base)


def grid_parts(grid: GridConfig) -> tuple[EnumeratedSpace, GridSearch]:
    space = grid_space(load_arch(grid.base), grid_points(grid), grid.phi)
    return space, GridSearch(space)
