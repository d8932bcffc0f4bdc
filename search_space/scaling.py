"""Compound scaling (EfficientNet §3.3): widths, depths and resolution grown together.

The rounding rules are TF's `round_filters` / `round_repeats`, so scaling B0 by the official
(width, depth) multipliers gives exactly the B1..B7 tables.
"""

from __future__ import annotations

import dataclasses
import math

from search_space.arch import Arch
from search_space.errors import SpecError

ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15  # depth, width, resolution (EfficientNet, phi = 1 grid)
MAX_MULTIPLIER = 64.0  # far beyond EfficientNet-L2 (5.3); stops phi typos building 10^79 layers


def round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """Scale channels by `width` and round to a multiple of `divisor`, losing at most 10%."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:  # rounding down may not lose more than 10%
        rounded += divisor
    return int(rounded)


def round_repeats(repeats: int, depth: float) -> int:
    """Scale a stage's layer count by `depth`, rounding up so no stage ever shrinks."""
    return int(math.ceil(depth * repeats))


def scale_by(arch: Arch, width: float = 1.0, depth: float = 1.0,
             resolution: int | None = None, dropout: float | None = None,
             name: str | None = None) -> Arch:
    """Scale a block table by explicit multipliers (the form of the official B0..B7 table).

    Stem and head are scaled with the stages, as in TF and timm. `resolution` is absolute.
    """
    for field, value in (("width", width), ("depth", depth)):
        if not 0 < value <= MAX_MULTIPLIER:  # also rejects NaN
            raise SpecError(field, value, f"multiplier must be in (0, {MAX_MULTIPLIER:g}]")
    stages = tuple(dataclasses.replace(s, out=round_filters(s.out, width),
                                       repeats=round_repeats(s.repeats, depth))
                   for s in arch.stages)
    return arch.replace(
        stages=stages,
        stem=round_filters(arch.stem, width),
        head=round_filters(arch.head, width),
        resolution=arch.resolution if resolution is None else resolution,
        dropout=arch.dropout if dropout is None else dropout,
        name=arch.name if name is None else name,
    )


def multipliers(phi: float, alpha: float = ALPHA, beta: float = BETA,
                gamma: float = GAMMA) -> tuple[float, float, float]:
    """(depth, width, resolution) multipliers alpha^phi, beta^phi, gamma^phi."""
    return alpha**phi, beta**phi, gamma**phi


def scale(arch: Arch, phi: float, alpha: float = ALPHA, beta: float = BETA,
          gamma: float = GAMMA) -> Arch:
    """Compound-scale `arch` by phi: depth alpha^phi, width beta^phi, resolution gamma^phi.

    The resolution is rounded to the nearest integer (the paper publishes no rule; its B1..B7
    resolutions are hand-picked, see `presets`).
    """
    if not math.isfinite(phi):
        raise SpecError("phi", phi, "must be a finite number")
    try:
        depth, width, res = multipliers(phi, alpha, beta, gamma)
    except OverflowError:
        raise SpecError("phi", phi, "scales past any sensible network") from None
    if not 0 < res <= MAX_MULTIPLIER:  # width and depth are checked by scale_by
        raise SpecError("gamma", gamma, f"gamma^phi must be in (0, {MAX_MULTIPLIER:g}]")
    label = f"{arch.name or 'arch'}-phi{phi:g}"
    return scale_by(arch, width, depth, int(round(arch.resolution * res)), name=label)
