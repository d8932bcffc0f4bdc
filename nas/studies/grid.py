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

import numpy as np

from controllers.grid import GridSearch
from nas.config import GridConfig
from nas.studies.enumerated import Entry, EnumeratedSpace
from search_space import Arch, load_arch, scale
from search_space.errors import SpecError


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
