"""How well the per-block latency table predicts whole networks (nn-Meter's +-10% measure).

Samples N archs of a space (seeded), times every part they need into a fresh table (the
table-building time printed), then times each arch end to end and compares. Also prints how
many distinct parts the whole space has (what a search's table holds). `--repeat` then times
the same archs end to end once more: how often two measurements agree within 10% is the ceiling
any prediction can reach on this machine at this moment.

    nice -n 10 python benchmarks/latency_table.py                  # b0, CPU, 1 thread, batch 1
    nice -n 10 python benchmarks/latency_table.py --clock cpu      # thread CPU time
    python benchmarks/latency_table.py --device cuda --batch 64
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from objectives.latency import LatencySetup, measure_arch
from objectives.latency_table import LatencyTable, space_parts, validate
from search_space import load_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="b0")
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", default="wall")
    parser.add_argument("--min-run-time", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", action="store_true",
                        help="re-measure the archs end to end: the noise ceiling")
    args = parser.parse_args()

    space = load_space(args.space)
    setup = LatencySetup(args.device, args.batch, args.threads, clock=args.clock,
                         min_run_time=args.min_run_time)
    with tempfile.TemporaryDirectory() as cache:
        table = LatencyTable(setup, cache)
        marks: dict[str, float] = {"start": time.perf_counter()}

        def progress(what: str, done: int, total: int) -> None:
            if done == total:
                marks[what] = time.perf_counter()

        result = validate(space, args.n, table, args.seed, progress)
    build = marks.get("parts", marks["start"]) - marks["start"]
    print(f"space {args.space} at {space.reference.resolution} px, {args.device} "
          f"({table.fingerprint['device_name']}), batch {args.batch}, {args.threads} thread(s), "
          f"{args.clock} clock, torch {table.fingerprint['torch']}")
    print(f"table: {len(table.entries)} parts for {args.n} archs timed in {build:.0f} s "
          f"({build / max(1, len(table.entries)):.2f} s/part); the whole space has "
          f"{len(space_parts(space))} parts")
    errors = sorted(100 * (p / m - 1) for _, p, m in result.rows)
    print(f"within_10pct {result.within_10pct:.2f} ({round(result.within_10pct * result.n)}/"
          f"{result.n}), mean_abs_error_pct {result.mean_abs_error_pct:.1f}, errors "
          f"min {errors[0]:+.1f}% median {errors[len(errors) // 2]:+.1f}% max {errors[-1]:+.1f}%")
    if args.repeat:
        rng = np.random.default_rng(args.seed)  # the same samples as `validate` drew
        archs = [space.sample(rng) for _ in range(args.n)]
        again = [measure_arch(arch, setup).median_ms for arch in archs]
        drift = np.array([abs(b / m - 1) for (_, _, m), b in zip(result.rows, again)])
        print(f"repeatability: a second end-to-end run within 10% of the first for "
              f"{np.mean(drift <= 0.10):.2f} of archs, "
              f"mean |difference| {100 * drift.mean():.1f}%")


if __name__ == "__main__":
    main()
