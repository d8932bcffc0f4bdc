"""FLOPs and params from the block table alone: no torch, microseconds per call.

It mirrors `search_space.builder` layer by layer and counts by the convention of
`objectives.flops` (conv and classifier multiply-adds). Tests hold it equal to fvcore on every
preset and on random tables from the search spaces; the search calls it thousands of times.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from search_space import Arch, Stage
from search_space.blocks import se_channels


@dataclass(frozen=True)
class Counts:
    """FLOPs (multiply-adds) and params of a whole network, plus per part.

    `parts` holds (label, flops, params) for the stem, each stage, and the head (head conv +
    classifier), in that order.
    """

    flops: int
    params: int
    parts: tuple[tuple[str, int, int], ...]


def _out_size(size: int, kernel: int, stride: int) -> int:
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def _conv(size: int, cin: int, cout: int, k: int, stride: int = 1,
          groups: int = 1) -> tuple[int, int, int]:
    """(flops, params incl. BN gamma/beta, output size) of a ConvBnAct."""
    out = _out_size(size, k, stride)
    weights = k * k * (cin // groups) * cout
    return out * out * weights, weights + 2 * cout, out


def _se(chs: int, rd: int) -> tuple[int, int]:
    """(flops, params) of squeeze-and-excitation: two 1x1 convs with bias on a 1x1 map."""
    return 2 * chs * rd, 2 * chs * rd + rd + chs


def _layer(size: int, cin: int, stage: Stage, stride: int) -> tuple[int, int, int]:
    flops = params = 0
    if stage.block == "conv":
        mid = cout = stage.out
        f, p, size = _conv(size, cin, cout, stage.kernel, stride)
        flops, params = flops + f, params + p
    else:
        mid = cin * stage.expand
        if stage.expand != 1:
            f, p, _ = _conv(size, cin, mid, 1)
            flops, params = flops + f, params + p
        f, p, size = _conv(size, mid, mid, stage.kernel, stride, groups=mid)
        flops, params = flops + f, params + p
    if stage.se:
        f, p = _se(mid, se_channels(cin, stage.se))
        flops, params = flops + f, params + p
    if stage.block != "conv":
        f, p, _ = _conv(size, mid, stage.out, 1)
        flops, params = flops + f, params + p
    return flops, params, size


@lru_cache(maxsize=65536)
def analytic_counts(arch: Arch, resolution: int | None = None, num_classes: int = 1000) -> Counts:
    """Count FLOPs and params of `build_model(arch, num_classes)` at `resolution` px."""
    size = arch.resolution if resolution is None else resolution
    flops, params, size = _conv(size, 3, arch.stem, 3, arch.stem_stride)
    parts = [("stem", flops, params)]
    in_chs = arch.stem
    for i, stage in enumerate(arch.stages, 1):
        stage_flops = stage_params = 0
        for r in range(stage.repeats):  # only a stage's first layer strides, as in the builder
            f, p, size = _layer(size, in_chs, stage, stage.stride if r == 0 else 1)
            stage_flops, stage_params, in_chs = stage_flops + f, stage_params + p, stage.out
        parts.append((f"stage{i}", stage_flops, stage_params))
    f, p, _ = _conv(size, arch.stages[-1].out, arch.head, 1)
    f, p = f + arch.head * num_classes, p + arch.head * num_classes + num_classes
    parts.append(("head", f, p))
    return Counts(sum(x[1] for x in parts), sum(x[2] for x in parts), tuple(parts))


def analytic_flops(arch: Arch, resolution: int | None = None, num_classes: int = 1000) -> int:
    return analytic_counts(arch, resolution, num_classes).flops


def analytic_params(arch: Arch, num_classes: int = 1000) -> int:
    return analytic_counts(arch, None, num_classes).params
