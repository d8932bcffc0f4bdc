"""Proxy recipes side by side: seed-vs-seed and short-vs-long Kendall tau on `synthetic`.

The same K architectures as `nas-search fidelity demo --archs K` (sampled from the demo's space
with its seed; `--arch-seed N` samples K others, to check a recipe on a second sample) are
proxy-trained with each recipe, S seeds, under the demo's proxy config (short) and with
`epochs` = LONG (long). Prints, per recipe, the figures `nas-search fidelity` writes to
fidelity.json, plus the mean accuracy and the number of collapsed trainings (top-1 below 0.2 on
10 classes). Run with nice; one torch thread per worker.

    nice -n 10 python benchmarks/fidelity_recipe.py --recipes old new --archs 12 --seeds 2
    nice -n 10 python benchmarks/fidelity_recipe.py --curves 1 --recipes old lr0.01
    nice -n 10 python benchmarks/fidelity_recipe.py --long-only --recipes new ls lr0.005

`--long-only` trains only the long setting (S seeds, K archs): the seed-vs-seed tau of the long
training (`seed_tau_long`, the noise ceiling) at a third of a full study's cost.

`--from-csv fidelity.csv` instead prints the same figures for the first K architectures of a
`nas-search fidelity` study (its architectures are sampled the same way, so they are the K
drawn without `--arch-seed`).

`--agreement CSV [CSV ...]` instead reads trainings that `--save` wrote and prints, for the
long setting, how the seeds agree: Kendall's tau of every pair of seeds over all architectures
and over each block of 12 (the first 12 are the goal study's); for k = 2 .. S/2, the least,
median and largest tau of the mean of k seeds against the mean of k others (what k trainings
per candidate buy), and what the Spearman-Brown rule predicts for k = 1..8 from the median
single pair; and how far seeds 0 and 1 lie apart for the architectures whose mean
top-1 is 0.6 or more and for the rest. `--first-seed N` trains seeds N.. instead of 0.., so
seeds can be added to a saved run; `--agreement A.csv B.csv --merge` reads them as one.

`--curves ID` instead prints, for architecture ID, each epoch's training loss / held-out top-1
of a LONG-epoch training per recipe and seed: where a collapse comes from.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from statistics import median

import pandas as pd
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas.config import load_config  # noqa: E402
from nas.engine.runner import build_space  # noqa: E402
from nas.studies.rank_agreement import (  # noqa: E402
    agreement,
    make_jobs,
    sample_archs,
    spearman_brown_tau,
    summary_lines,
)
from objectives import ProxyConfig, load_dataset, train_proxy  # noqa: E402

# Changes to the demo's proxy section; "old" is the recipe before the fidelity work.
OLD = dict(epochs=1, lr=0.05, warmup_epochs=0.0, batch_size=64, label_smoothing=0.0,
           train_size=1024, val_size=512, optimizer="sgd")
SGD = dict(optimizer="sgd", lr=0.01, epochs=2)
RECIPES = {
    "old": OLD,
    # the "warm-up, smaller batch, label smoothing, more data" at the old lr
    "candA": {**OLD, "warmup_epochs": 0.5, "batch_size": 32, "label_smoothing": 0.1,
              "train_size": None},
    "lr0.01": {**OLD, "lr": 0.01},
    "new": {},  # the demo config as it is now (lr 0.01, batch 32, 2 epochs, 1488 images)
    "sgd": SGD,  # the same, spelled out
    # tried on top of it while chasing seed_tau_long
    "ls": {**SGD, "label_smoothing": 0.1},
    "lr0.02ls": {**SGD, "lr": 0.02, "warmup_epochs": 1.0, "label_smoothing": 0.1},
    "b16": {**SGD, "batch_size": 16},
    "clip2": {**SGD, "clip_grad": 2.0},
    "lr0.005": {**SGD, "lr": 0.005},
    "lr0.005ls": {**SGD, "lr": 0.005, "label_smoothing": 0.1},
    "nodrop": {**SGD, "dropout": 0.0, "drop_path": 0.0},
    "adamw": {"optimizer": "adamw", "lr": 0.001},
    "adamw_nodrop": {"optimizer": "adamw", "lr": 0.001, "dropout": 0.0, "drop_path": 0.0},
    "adamw2e-3": {"optimizer": "adamw", "lr": 0.002},
    "b64": {**SGD, "batch_size": 64, "lr": 0.02},  # the same step per image, half the noise
    "warm1": {**SGD, "warmup_epochs": 1.0},
    "clip5": {**SGD, "clip_grad": 5.0},
    "clip10": {**SGD, "clip_grad": 10.0},
}
COLLAPSED = 0.2


def _train(task: tuple) -> dict:
    arch, proxy, job = task
    result = train_proxy(arch, proxy, data=load_dataset(proxy))
    return {"arch_id": job.arch_id, "setting": job.setting, "seed": job.seed,
            "status": result.status, "accuracy": result.accuracy,
            "train_seconds": result.train_seconds}


def run_recipe(name: str, archs: list, base: ProxyConfig, long_epochs: int, seeds: int,
               workers: int, long_only: bool = False, first_seed: int = 0) -> pd.DataFrame:
    short = dataclasses.replace(base, **RECIPES[name], threads=1)
    settings = {"short": short, "long": dataclasses.replace(short, epochs=long_epochs)}
    jobs = [dataclasses.replace(j, seed=j.seed + first_seed)
            for j in make_jobs(len(archs), seeds) if not long_only or j.setting == "long"]
    tasks = [(archs[j.arch_id], dataclasses.replace(settings[j.setting], seed=j.seed), j)
             for j in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return pd.DataFrame(list(pool.map(_train, tasks)))


def print_curves(arch, base: ProxyConfig, recipes: list[str], epochs: int, seeds: int) -> None:
    print(f"{arch.name}: ops {[s.op for s in arch.stages]}, skips {[s.skip for s in arch.stages]}")
    print(f"training loss / held-out top-1 after each of {epochs} epochs (chance: loss "
          "2.30, top-1 0.10)")
    for name in recipes:
        for seed in range(seeds):
            proxy = dataclasses.replace(base, **{**RECIPES[name], "epochs": epochs}, seed=seed,
                                        threads=1)
            result = train_proxy(arch, proxy, data=load_dataset(proxy))
            print(f"{name:<8} seed {seed}  " + "  ".join(
                f"{h['loss']:.2f}/{h['accuracy']:.2f}" for h in result.history), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["old", "new"], choices=list(RECIPES))
    parser.add_argument("--archs", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="train seeds N..N+S-1 (to add seeds to a saved run; "
                        "`--agreement A.csv B.csv --merge` reads them together)")
    parser.add_argument("--long", type=int, default=6, help="epochs of the long setting")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--config", default="demo")
    parser.add_argument("--curves", type=int, metavar="ID")
    parser.add_argument("--long-only", action="store_true",
                        help="train the long setting only: seed_tau_long and mean top-1")
    parser.add_argument("--from-csv", metavar="CSV")
    parser.add_argument("--agreement", nargs="+", metavar="CSV", type=Path,
                        help="seed agreement of trainings saved with --save (no training)")
    parser.add_argument("--merge", action="store_true",
                        help="with --agreement: read the CSVs as one set of trainings")
    parser.add_argument("--save", metavar="DIR", type=Path,
                        help="also write each recipe's trainings to DIR/RECIPE.csv")
    parser.add_argument("--arch-seed", type=int,
                        help="sample other architectures (default: the config's seed, as "
                        "`nas-search fidelity` does): a recipe chosen on one sample, checked on "
                        "another")
    args = parser.parse_args()
    if args.agreement:
        runs = [(str(path), pd.read_csv(path)) for path in args.agreement]
        if args.merge:
            rows = pd.concat([r for _, r in runs])
            if rows.duplicated(["arch_id", "setting", "seed"]).any():  # else pivot would average
                parser.error("--merge: the CSVs share seeds (train the second with --first-seed)")
            runs = [(" + ".join(name for name, _ in runs), rows)]
        for name, rows in runs:
            print_agreement(name, rows)
        return
    if args.from_csv:
        rows = pd.read_csv(args.from_csv)
        report(f"the first {args.archs} archs of {args.from_csv}",
               rows[rows["arch_id"] < args.archs])
        return

    config = load_config(args.config)
    seed = config.seed if args.arch_seed is None else args.arch_seed
    archs = sample_archs(build_space(config), args.archs, seed)
    if args.curves is not None:
        print_curves(archs[args.curves], config.proxy, args.recipes, args.long, args.seeds)
        return
    print(f"{args.config}: {len(archs)} archs (sampled with seed {seed}), {args.seeds} seeds, "
          f"long = {args.long} epochs", flush=True)
    for name in args.recipes:
        start = time.perf_counter()
        rows = run_recipe(name, archs, config.proxy, args.long, args.seeds, args.workers,
                          args.long_only, args.first_seed)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            rows.to_csv(args.save / f"{name}.csv", index=False)
        # the seed taus compare the first two seeds trained (statistics reads them as 0 and 1)
        report(f"recipe {name}: {RECIPES[name] or 'the demo config'}",
               rows.assign(seed=rows["seed"] - args.first_seed), time.perf_counter() - start)


def print_agreement(path: Path | str, rows: pd.DataFrame, block: int = 12) -> None:
    """Seed-vs-seed agreement of the long trainings in `rows` (see the module docstring)."""
    acc = rows[rows["setting"] == "long"].pivot_table(index="arch_id", columns="seed",
                                                      values="accuracy")
    ids = acc.index.to_numpy()
    slices = {"all": acc.index == acc.index}
    slices |= {f"{lo}-{lo + block - 1}": (ids >= lo) & (ids < lo + block)
               for lo in range(0, len(acc), block)} if len(acc) > block else {}
    seeds = list(acc.columns)
    print(f"\n== {path}: {len(acc)} archs, seeds {seeds}, long setting")
    print(f"{'pair':<22}" + "".join(f"{name:>9}" for name in slices))

    def taus(a: pd.Series, b: pd.Series) -> list[float]:
        return [kendalltau(a[m], b[m]).statistic for m in slices.values()]

    singles = [taus(acc[i], acc[j]) for i, j in itertools.combinations(seeds, 2)]
    for (i, j), row in zip(itertools.combinations(seeds, 2), singles, strict=True):
        print(f"{f'seed {i} v {j}':<22}" + "".join(f"{t:>9.3f}" for t in row))
    for k in range(2, len(seeds) // 2 + 1):
        pairs = [taus(acc[list(one)].mean(axis=1), acc[list(other)].mean(axis=1))
                 for one, other in _disjoint_pairs(seeds, k)]
        print(f"mean of {k} v mean of {k}, {len(pairs)} pairs: min / median / max")
        for name, pick in (("  min", min), ("  median", median), ("  max", max)):
            print(f"{name:<22}" + "".join(f"{pick(col):>9.3f}" for col in zip(*pairs)))
    one = median(row[0] for row in singles)
    print(f"mean of k v mean of k, by Spearman-Brown from the median single pair ({one:.3f}):")
    print("  " + "  ".join(f"k={k} {_show(spearman_brown_tau(one, k))}" for k in range(1, 9)))
    gap = (acc[seeds[0]] - acc[seeds[1]]).abs()
    strong = acc[seeds[:2]].mean(axis=1) >= 0.6
    for name, mask in (("mean >= 0.6", strong), ("mean < 0.6", ~strong)):
        print(f"{name}: {int(mask.sum())} archs, |seed {seeds[0]} - seed {seeds[1]}| "
              f"{gap[mask].min():.2f}-{gap[mask].max():.2f} (median {gap[mask].median():.2f})")


def _show(tau: float | None) -> str:
    return "-" if tau is None else f"{tau:.3f}"


def _disjoint_pairs(seeds: list, k: int) -> list[tuple[tuple, tuple]]:
    """Every unordered pair of disjoint k-seed sets."""
    sets = list(itertools.combinations(seeds, k))
    return [(a, b) for a, b in itertools.combinations(sets, 2) if not set(a) & set(b)]


def report(title: str, rows: pd.DataFrame, seconds: float | None = None) -> None:
    means = rows.groupby("setting")["accuracy"].mean()
    collapsed = int((rows["accuracy"] < COLLAPSED).sum())
    print(f"\n== {title}" + (f" ({seconds:.0f} s)" if seconds is not None else ""))
    print("\n".join(summary_lines(agreement(rows))))
    print(f"mean top-1 short {means.get('short', float('nan')):.3f}  long "
          f"{means.get('long', float('nan')):.3f}  collapsed (< {COLLAPSED}) "
          f"{collapsed}/{len(rows)}")
    # how far apart the architectures score: the spread seed noise has to be smaller than
    long = rows[rows["setting"] == "long"].groupby("arch_id")["accuracy"].mean()
    if len(long):
        q = long.quantile([0, 0.25, 0.5, 0.75, 1]).to_numpy()
        print("long top-1 over archs (mean of seeds): min / quartiles / max "
              + " / ".join(f"{v:.3f}" for v in q) + f", middle half {q[3] - q[1]:.3f} wide",
              flush=True)


if __name__ == "__main__":
    main()
