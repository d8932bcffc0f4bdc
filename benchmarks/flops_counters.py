"""Seconds per FLOPs count: the analytic counter against fvcore, per preset and random tables.

The search counts every candidate, so the analytic counter must be cheap: the goal is >= 1000x
faster than tracing the model with fvcore. Analytic calls bypass the LRU cache (a fresh table
each time in a search); fvcore traces an already built model, so building is not charged to it.

Run from the repository root::

    python3 -m benchmarks.flops_counters [--fvcore-calls 1] [--random 4] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from nas.outputs.table import format_table
from objectives import analytic_counts, fvcore_flops
from search_space import PRESETS, Arch, Stage, build_model, preset

B0 = preset("efficientnet-b0")


def random_stage(rng: np.random.Generator, base: Stage) -> Stage:
    """MnasNet-style choices around a B0 stage: same stride, width x {0.75, 1, 1.25}, +-1 layer."""
    width = base.out * float(rng.choice([0.75, 1.0, 1.25]))
    return Stage(expand=int(rng.choice([1, 3, 6])), kernel=int(rng.choice([3, 5])),
                 stride=base.stride, out=max(8, 8 * round(width / 8)),
                 repeats=max(1, base.repeats + int(rng.integers(-1, 2))),
                 se=float(rng.choice([0.0, 0.25])), skip=str(rng.choice(["id", "none"])))


def random_candidate(rng: np.random.Generator, index: int) -> Arch:
    """A B0-shaped candidate at 224 px, as a search would propose it."""
    stages = tuple(random_stage(rng, s) for s in B0.stages)
    return B0.replace(stages=stages, name=f"random-{index}")


def per_call(fn: Callable[[], object], *, min_seconds: float = 0.0,
             min_calls: int = 1) -> tuple[float, object]:
    """Mean seconds per call over at least `min_calls` calls and `min_seconds`; last result."""
    calls, start = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - start < min_seconds:
        result = fn()
        calls += 1
    return (time.perf_counter() - start) / calls, result


def measure(arch: Arch, fvcore_calls: int) -> tuple[object, ...]:
    """One table row: analytic (uncached, cached) and fvcore seconds per call, and agreement."""
    uncached = analytic_counts.__wrapped__
    analytic_s, counts = per_call(lambda: uncached(arch), min_seconds=0.2, min_calls=100)
    analytic_counts(arch)
    cached_s, _ = per_call(lambda: analytic_counts(arch), min_seconds=0.05, min_calls=1000)
    model = build_model(arch).eval()
    fvcore_s, traced = per_call(lambda: fvcore_flops(model, arch.resolution),
                                min_calls=fvcore_calls)
    return (arch.name, arch.resolution, arch.num_blocks, counts.flops / 1e9, analytic_s * 1e6,
            cached_s * 1e6, fvcore_s, round(fvcore_s / analytic_s),
            "yes" if traced == counts.flops else "NO")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fvcore-calls", type=int, default=1, choices=range(1, 11),
                        metavar="1..10", help="fvcore traces per table")
    parser.add_argument("--random", type=int, default=4, help="random B0-shaped tables")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    fvcore_flops(build_model(B0), 32)  # first trace pays fvcore's and the JIT's warm-up
    rng = np.random.default_rng(args.seed)
    archs = [*PRESETS.values(), *(random_candidate(rng, i) for i in range(args.random))]
    rows = [measure(arch, args.fvcore_calls) for arch in archs]
    print(format_table(("table", "res", "blocks", "GMACs", "analytic us", "cached us",
                        "fvcore s", "fvcore/analytic", "agree"), rows))
    print("FLOPs are multiply-adds. analytic: objectives.analytic_counts uncached; cached: its\n"
          "LRU hit (hashing the table); fvcore: one trace of a built model; 1 torch thread.")


if __name__ == "__main__":
    main()
