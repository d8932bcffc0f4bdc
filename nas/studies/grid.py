"""Compound scaling step 1 (EfficientNet §3.3): grid-search alpha, beta, gamma at phi = 1.

The grid runs through the same machinery as a search (Ray trials, run directory, journal,
`status`, `load_results`, `pareto`, `resume`): `GridSpace` maps a one-token candidate to the base
architecture scaled by one (alpha, beta, gamma) point, and `controllers.grid.GridSearch` proposes
the points in order. Each point is proxy-trained at the proxy resolution scaled by its gamma^phi,
so resolution scaling is measured rather than ignored.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from controllers.grid import GridSearch
from search_space import Arch, load_arch, scale
from search_space.errors import SpecError
from search_space.validators import choice, positive
from search_space.yaml_file import read_yaml


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


class GridSpace:
    """The grid seen as a search space of one decision: which point."""

    flops_band = (None, None)

    def __init__(self, base: Arch, points: list[tuple[float, float, float]], phi: float = 1.0):
        self.base, self.phi = base, phi
        # rounding (ceil on repeats, widths to 8) can give two points one model: train it once
        unique = {}
        for point in points:
            unique.setdefault(self._scaled(*point), point)
        self.archs, self.points = tuple(unique), tuple(unique.values())
        self._index = {arch: i for i, arch in enumerate(self.archs)}

    def _scaled(self, alpha: float, beta: float, gamma: float) -> Arch:
        arch = scale(self.base, self.phi, alpha, beta, gamma)
        return arch.replace(name=f"{self.base.name or 'base'}-a{alpha:g}-b{beta:g}-g{gamma:g}")

    @property
    def reference(self) -> Arch:
        return self.base

    @property
    def cardinalities(self) -> tuple[int, ...]:
        return (len(self.points),)

    def decode(self, tokens: list[int]) -> Arch:
        return self.archs[tokens[0]]

    def encode(self, arch: Arch) -> list[int]:
        if arch not in self._index:
            raise SpecError("arch", arch.name, "is not a point of this grid")
        return [self._index[arch]]

    def in_band(self, arch: Arch) -> bool:
        return True

    def row_fields(self, tokens: list[int]) -> dict[str, float]:
        alpha, beta, gamma = self.points[tokens[0]]
        return {"alpha": alpha, "beta": beta, "gamma": gamma, "phi": self.phi}


def grid_parts(grid: GridConfig) -> tuple[GridSpace, GridSearch]:
    space = GridSpace(load_arch(grid.base), grid_points(grid), grid.phi)
    return space, GridSearch(space)


def write_coefficients(path: str | Path, alpha: float, beta: float, gamma: float,
                       note: str = "") -> Path:
    path = Path(path)
    header = f"# {note}\n" if note else ""
    values = {"alpha": float(alpha), "beta": float(beta), "gamma": float(gamma)}
    path.write_text(header + yaml.safe_dump(values, sort_keys=False))
    return path


def read_coefficients(path: str | Path) -> tuple[float, float, float]:
    """(alpha, beta, gamma) from a coefficients YAML (as `nas-search grid` writes it)."""
    path = Path(path)
    data = read_yaml(path, "--coefficients")
    if not isinstance(data, dict):
        raise SpecError("(top level)", data, "must be a mapping of alpha, beta, gamma", str(path))
    values = []
    for key in ("alpha", "beta", "gamma"):
        try:
            values.append(positive(key, data.get(key)))
        except SpecError as err:
            raise err.with_source(str(path)) from None
    return values[0], values[1], values[2]
