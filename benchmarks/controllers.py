"""Controllers on synthetic landscapes over the b0 space: best reward and samples to target.

For every landscape of `benchmarks.landscapes` and every controller setting, runs `--seeds`
searches of `--budget` samples with `--concurrency` asks in flight (the oldest told first, as
Ray would). Prints, over seeds, the median best reward after 200 / 500 / 1000 samples and the
median number of samples until the best reaches the landscape's target: the top 0.01% reward of
100,000 uniform samples of the space, which random search needs ~10,000 samples to reach
("> budget" when most seeds never get there). Then the mean microseconds per ask and per tell
(a tell's includes its share of policy updates; the landscape's own cost is not counted).

Controller settings are the defaults, plus the documented small-budget options: PPO's paper
lr 3.5e-4 is meant for ~8K samples, so PPO also runs at 3e-3; REINFORCE also runs at 2e-2;
evolution also runs with a population of 50, tournament 10.

Run from the repository root::

    python3 -m benchmarks.controllers [--budget 1000] [--seeds 10] [--concurrency 1] [--jobs 1]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

import controllers
from benchmarks.landscapes import LANDSCAPES, Landscape
from nas.outputs.table import format_table
from search_space import SearchSpace, load_space

SETTINGS: tuple[tuple[str, dict], ...] = (
    ("random", {}),
    ("evolution", {}),
    ("evolution", {"population_size": 50, "tournament_size": 10}),
    ("ppo", {}),
    ("ppo", {"lr": 3e-3}),
    ("reinforce", {}),
    ("reinforce", {"lr": 2e-2}),
)
CHECKPOINTS = (200, 500, 1000)
TARGET_QUANTILE, TARGET_SAMPLES, LANDSCAPE_SEED = 0.9999, 100_000, 2024


@dataclass(frozen=True)
class Run:
    """One search: the best reward after each sample, and seconds spent in ask and tell."""

    best: np.ndarray
    ask_s: float
    tell_s: float


def label(name: str, options: dict) -> str:
    return " ".join([name, *(f"{k}={v:g}" for k, v in options.items())])


def search(space: SearchSpace, reward: Landscape, name: str, options: dict, seed: int,
           budget: int, concurrency: int) -> Run:
    """`budget` asks with up to `concurrency` in flight; every result is told."""
    ctrl = controllers.make(name, space, seed=seed, **options)
    in_flight, rewards, ask_s, tell_s = [], [], 0.0, 0.0
    for step in range(budget):
        start = time.perf_counter()
        in_flight.append(ctrl.ask())
        ask_s += time.perf_counter() - start
        while len(in_flight) >= concurrency or (step == budget - 1 and in_flight):
            arch = in_flight.pop(0)
            rewards.append(reward(space.encode(arch)))
            start = time.perf_counter()
            ctrl.tell(arch, rewards[-1])
            tell_s += time.perf_counter() - start
    return Run(np.maximum.accumulate(rewards), ask_s, tell_s)


def target(space: SearchSpace, reward: Landscape) -> float:
    rng = np.random.default_rng(LANDSCAPE_SEED)
    samples = [reward(space.encode(space.sample(rng))) for _ in range(TARGET_SAMPLES)]
    return float(np.quantile(samples, TARGET_QUANTILE))


def _task(args: tuple) -> Run:
    landscape, name, options, seed, budget, concurrency = args
    torch.set_num_threads(1)
    space = load_space("b0")
    return search(space, LANDSCAPES[landscape](space, LANDSCAPE_SEED), name, options, seed,
                  budget, concurrency)


def summarise(runs: list[Run], goal: float, budget: int) -> list[object]:
    """Median best at each checkpoint, median samples to `goal`, mean ask and tell us."""
    bests = np.stack([run.best for run in runs])
    row: list[object] = [float(np.median(bests[:, n - 1])) for n in CHECKPOINTS if n <= budget]
    reached = [int(np.argmax(b >= goal)) + 1 if b[-1] >= goal else np.inf for b in bests]
    to_target = float(np.median(reached))
    row.append(int(to_target) if np.isfinite(to_target) else f"> {budget}")
    asks = budget * len(runs)
    row += [round(1e6 * sum(r.ask_s for r in runs) / asks),
            round(1e6 * sum(r.tell_s for r in runs) / asks)]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=1000, help="samples per search")
    parser.add_argument("--seeds", type=int, default=10, help="searches per setting")
    parser.add_argument("--concurrency", type=int, default=1, help="asks in flight")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--landscapes", nargs="+", default=list(LANDSCAPES),
                        choices=list(LANDSCAPES))
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = load_space("b0")
    tasks = [(land, name, options, seed, args.budget, args.concurrency)
             for land in args.landscapes for name, options in SETTINGS
             for seed in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(_task, tasks))
    rows = []
    for land in args.landscapes:
        goal = target(space, LANDSCAPES[land](space, LANDSCAPE_SEED))
        for name, options in SETTINGS:
            mine = [run for task, run in zip(tasks, runs) if task[:3] == (land, name, options)]
            rows.append([land, label(name, options), *summarise(mine, goal, args.budget)])
    checkpoints = [f"best@{n}" for n in CHECKPOINTS if n <= args.budget]
    print(format_table(("landscape", "controller", *checkpoints, "to target", "ask us",
                        "tell us"), rows))
    print(f"space b0 ({space.log10_size:.1f} log10 archs); {args.seeds} seeds; "
          f"{args.concurrency} in flight; medians over seeds; target = top "
          f"{100 * (1 - TARGET_QUANTILE):g}% of {TARGET_SAMPLES:,} uniform samples; 1 torch "
          "thread.")


if __name__ == "__main__":
    main()
