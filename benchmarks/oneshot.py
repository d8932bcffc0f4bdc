"""What weight sharing buys: supernet cost, seconds per candidate vs a proxy trial, rank fidelity.

Trains the `oneshot-demo` supernet on the synthetic data, then for K seeded candidates of its
space measures (a) the supernet score (the path inside the supernet, BN recalibration,
held-out top-1) and its seconds, (b) a standalone proxy training of the same candidate under
the config's `proxy` recipe and its seconds, and prints the ratio of the per-candidate costs
and Kendall's tau between the two rankings. One torch thread; run it with `nice -n 10` on a
shared machine.

    python -m benchmarks.oneshot [--k 12] [--ref-seeds 2] [--set supernet.epochs=8 ...]
    python -m benchmarks.oneshot --decisions     # which decisions defeat weight sharing

`--decisions` instead scores, after training, the sandwich's largest and smallest paths, 6
random ones, and the largest with one kind of decision (op, kernel, se, skip, width, layers)
drawn at random in every stage (4 draws each): where inherited weights stop working.

`--train-only` stops after training and prints the supernet's loss after every epoch (the mean
per path; ln 10 = 2.30 is chance on the synthetic data): whether a space's paths train at all.
`benchmarks/spaces/` holds `b0-elastic` with one of `b0`'s other decisions added back (skip,
op, width), for `--set space=benchmarks/spaces/b0-elastic-skip.yaml`.

`--ref-seeds S` trains the standalone reference with S seeds (proxy seed + 0..S-1) and ranks by
their mean; it also prints seed 0 vs seed 1's tau, the reference's own noise ceiling: no scorer
can be expected to agree with a reference better than the reference agrees with itself.
`--set proxy.epochs=E` lengthens the reference only (the supernet trains `supernet.epochs`).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import numpy as np
import torch
from scipy.stats import kendalltau

from nas.config import load_config
from nas.engine.runner import build_space
from objectives import load_dataset, score_candidates, train_proxy, train_supernet
from objectives.supernet_training import extremes
from search_space.space_file import DECISION_FIELDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="oneshot-demo")
    parser.add_argument("--k", type=int, default=12, help="architectures to compare")
    parser.add_argument("--ref-seeds", type=int, default=1,
                        help="seeds of the standalone reference (ranked by their mean)")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--train-only", action="store_true",
                        help="train the supernet only, printing its loss after every epoch")
    parser.add_argument("--decisions", action="store_true",
                        help="score paths that differ from the largest in one kind of decision")
    args = parser.parse_args()
    if args.ref_seeds < 1:
        parser.error(f"--ref-seeds must be at least 1, not {args.ref_seeds}")
    torch.set_num_threads(1)
    config = load_config(args.config, args.overrides)
    space, proxy, cfg = build_space(config), config.proxy, config.supernet
    data = load_dataset(proxy)
    print(f"config {args.config}: space {config.space}, {cfg.epochs} supernet epochs "
          f"({cfg.sampling}), proxy {proxy.epochs} epoch(s) at {proxy.resolution} px, "
          f"{len(data.train)} train / {len(data.val)} held-out images, "
          f"BN calibration {cfg.calibration} images, scored on "
          f"{cfg.holdout or len(data.val)} held-out images, 1 thread")

    start = time.perf_counter()
    every = 1 if args.train_only else max(1, cfg.epochs // 10)
    supernet = train_supernet(space, proxy, cfg, data=data, on_epoch=lambda e: print(
        f"  epoch {e['epoch']}/{cfg.epochs}  loss {e['loss']:.3f}", flush=True)
        if e["epoch"] % every == 0 else None)
    print(f"supernet training: {time.perf_counter() - start:.1f} s "
          f"(final loss {supernet.history[-1]['loss']:.3f})")

    if args.train_only:
        return None
    if args.decisions:
        return score_decisions(space, supernet, proxy, cfg, data, config.seed)
    rng = np.random.default_rng(config.seed + 1)
    archs = [space.sample(rng) for _ in range(args.k)]
    score_candidates(supernet, archs[:1], proxy, cfg, data)  # warm-up: first-call overheads
    scores = score_candidates(supernet, archs, proxy, cfg, data)
    runs = [[train_proxy(arch, replace(proxy, seed=proxy.seed + s), data=data)
             for arch in archs] for s in range(args.ref_seeds)]
    reference = np.mean([[r.accuracy for r in run] for run in runs], axis=0)

    per_candidate = statistics.median(s["seconds"] for s in scores)
    per_trial = statistics.median(r.train_seconds for run in runs for r in run)
    tau = kendalltau([s["accuracy"] for s in scores], reference)
    print(f"{'arch':<14} {'supernet acc':>12} {'s':>6} {'proxy acc':>10} {'s':>6}")
    for arch, s, acc, r in zip(archs, scores, reference, runs[0], strict=True):
        print(f"{arch.name[-12:]:<14} {s['accuracy']:>12.3f} {s['seconds']:>6.2f} "
              f"{acc:>10.3f} {r.train_seconds:>6.1f}")
    print(f"seconds per candidate (median of {args.k}): supernet {per_candidate:.2f} s, "
          f"proxy trial {per_trial:.1f} s, ratio {per_trial / per_candidate:.0f}x")
    what = "standalone proxy accuracy" + (
        f" (mean of {args.ref_seeds} seeds)" if args.ref_seeds > 1 else "")
    print(f"Kendall tau, supernet vs {what} over {args.k} architectures: "
          f"{tau.statistic:.2f} (p = {tau.pvalue:.3f})")
    if args.ref_seeds > 1:
        ceiling = kendalltau(*([r.accuracy for r in run] for run in runs[:2]))
        print(f"Kendall tau, reference seed 0 vs seed 1 (its noise ceiling): "
              f"{ceiling.statistic:.2f}")


def score_decisions(space, supernet, proxy, cfg, data, seed: int) -> None:
    rng = np.random.default_rng(seed + 2)
    largest, smallest = extremes(space)
    top = space.encode(largest)

    def draw() -> list[int]:
        return [int(rng.integers(c)) for c in space.cardinalities]

    groups = {"largest": [largest], "smallest": [smallest],
              "random": [space.decode(draw()) for _ in range(6)]}
    per_stage = len(DECISION_FIELDS)
    for j, field in enumerate(DECISION_FIELDS):
        paths = []
        for _ in range(4):
            tokens, other = list(top), draw()
            tokens[j::per_stage] = other[j::per_stage]
            paths.append(space.decode(tokens))
        groups[f"largest, random {field}"] = paths
    print("held-out top-1 with inherited weights (chance 0.10)")
    for name, paths in groups.items():
        scores = score_candidates(supernet, paths, proxy, cfg, data)
        print(f"{name:<24} " + " ".join(f"{s['accuracy']:.2f}" for s in scores), flush=True)


if __name__ == "__main__":
    main()
