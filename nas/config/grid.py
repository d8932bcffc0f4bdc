"""The `grid` section: compound scaling's alpha/beta/gamma grid (`nas-search grid`); the grid
itself is enumerated by `nas.studies.grid`."""

from __future__ import annotations

import math
from dataclasses import dataclass

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


