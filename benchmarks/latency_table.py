"""How well the per-block latency table predicts whole networks (nn-Meter's +-10% measure).

Samples N archs of a space (seeded), times every part they need (the table-building time
printed), then times each arch end to end in two sweeps and compares. Each timing keeps the
minimum and the median of its blocks, so both estimates (`LatencySetup.estimate`) are judged
side by side on the same measurements, raw and scaled as `LatencyTable.calibrate` scales them
(by the median measured / sum over a few other archs). The second end-to-end pass is the noise
ceiling: how often two measurements of one arch agree within 10% bounds what any prediction can
reach on this machine at this moment; the best of both sweeps is what `validate` and
calibration measure (`objectives.latency.measure_archs`, as `nas-search latency ARCH` does),
judged in the last columns. Also prints how many distinct parts the whole space has (what a
search's table holds). `--sweeps S` times every part S times, sweep after sweep, and judges the
first sweep alone beside each part's best sweep: a burst of other work during one part's timing
inflates it in one sweep, rarely in both.

    nice -n 10 python -m benchmarks.latency_table                 # b0, CPU, 1 thread, batch 1
    nice -n 10 python -m benchmarks.latency_table --clock cpu     # thread CPU time
    python -m benchmarks.latency_table --device cuda --batch 64
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import time

import numpy as np

from objectives.latency import LatencySetup, measure_archs
from objectives.latency_table import arch_parts, calibration_archs, space_parts, time_part
from search_space import load_space

ESTIMATES = ("min", "median")


def time_parts(parts, setup: LatencySetup) -> dict[str, dict[str, float]]:
    """{estimate: {part key: ms}}, each part timed once as `LatencyTable.fill` times it."""
    table: dict[str, dict[str, float]] = {e: {} for e in ESTIMATES}
    for part in parts:
        result = time_part(part, setup)
        table["min"][part.key], table["median"][part.key] = result.min_ms, result.median_ms
    return table


def end_to_end(archs, setup: LatencySetup) -> dict[str, np.ndarray]:
    """{estimate: ms per arch} of one sweep of `measure_archs`, the one standard (the best of
    two such sweeps is what it keeps with its default two sweeps)."""
    results = measure_archs(archs, dataclasses.replace(setup, sweeps=1))
    return {"min": np.array([r.min_ms for r in results]),
            "median": np.array([r.median_ms for r in results])}


def within(a: np.ndarray, b: np.ndarray) -> tuple[float, float, np.ndarray]:
    errors = a / b - 1
    return float(np.mean(np.abs(errors) <= 0.10)), float(100 * np.abs(errors).mean()), errors


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
    parser.add_argument("--sweeps", type=int, default=2,
                        help="time every part this many times, one sweep after another; rows "
                        "for the first sweep alone and for each part's best sweep")
    parser.add_argument("--calibrate", type=int, default=10,
                        help="archs whose end-to-end / sum ratio scales the sums "
                        "(`LatencyTable.calibrate`)")
    args = parser.parse_args()

    space = load_space(args.space)
    setup = LatencySetup(args.device, args.batch, args.threads, clock=args.clock,
                         min_run_time=args.min_run_time)
    rng = np.random.default_rng(args.seed)  # the samples `latency_table.validate` draws
    archs = [space.sample(rng) for _ in range(args.n)]
    calib = calibration_archs(space, args.seed, args.calibrate)
    parts = {p.key: p for arch in archs + calib for p in arch_parts(arch)}
    start = time.perf_counter()
    sweeps = [time_parts(parts.values(), setup) for _ in range(args.sweeps)]
    build = (time.perf_counter() - start) / args.sweeps
    tables = {"1st sweep": sweeps[0]}
    if args.sweeps > 1:
        tables[f"best of {args.sweeps}"] = {e: {k: min(t[e][k] for t in sweeps) for k in parts}
                                            for e in ESTIMATES}
    first, second = end_to_end(archs, setup), end_to_end(archs, setup)
    calib_first, calib_second = end_to_end(calib, setup), end_to_end(calib, setup)
    best = {e: np.minimum(first[e], second[e]) for e in ESTIMATES}
    calib_best = {e: np.minimum(calib_first[e], calib_second[e]) for e in ESTIMATES}

    print(f"space {args.space} at {space.reference.resolution} px, {args.device}, batch "
          f"{args.batch}, {args.threads} thread(s), {args.clock} clock, N = {args.n}")
    print(f"table: {len(parts)} parts timed in {build:.0f} s a sweep ({build / len(parts):.2f} "
          f"s/part); the whole space has {len(space_parts(space))} parts")
    print(f"{'estimate':<9}{'parts':<11}{'within_10pct':>13}{'mean_abs_err%':>15}{'median_err%':>13}"
          f"{'repeat_within_10pct':>21}{'repeat_mean_diff%':>19}{'scale':>7}{'scaled_within':>15}"
          f"{'scaled_mae%':>12}{'scale_b2':>9}{'within_b2':>11}{'mae_b2%':>9}")
    for estimate, (name, table) in itertools.product(ESTIMATES, tables.items()):
        predicted = np.array([sum(table[estimate][p.key] for p in arch_parts(arch))
                              for arch in archs])
        hit, mae, errors = within(predicted, first[estimate])
        again, drift, _ = within(second[estimate], first[estimate])
        sums = np.array([sum(table[estimate][p.key] for p in arch_parts(arch)) for arch in calib])
        scale = float(np.median(calib_first[estimate] / sums))
        shit, smae, _ = within(scale * predicted, first[estimate])
        scale2 = float(np.median(calib_best[estimate] / sums))  # both ends: best of 2 sweeps
        hit2, mae2, scaled = within(scale2 * predicted, best[estimate])
        print(f"{estimate:<9}{name:<11}{hit:>13.2f}{mae:>15.1f}{100 * np.median(errors):>+13.1f}"
              f"{again:>21.2f}{drift:>19.1f}{scale:>7.3f}{shit:>15.2f}{smae:>12.1f}"
              f"{scale2:>9.3f}{hit2:>11.2f}{mae2:>9.1f}")
        print("  errors % (b2) " + " ".join(f"{100 * e:+.0f}" for e in sorted(scaled)))


if __name__ == "__main__":
    main()
