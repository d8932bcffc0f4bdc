"""Confirmation against the winner's curse: does the confirmed winner train better than the
single-seed one?

R independent small searches of the bundled demo (on the `synthetic` data), each with its own
controller seed and proxy seed, and with ``confirm: {top: 3, seeds: 2}``. Per search, two
winners: the single-seed winner (the best search reward) and the confirmed winner (rank 1 of
`nas.load_confirmed`). Each winner's *true* accuracy is the mean held-out top-1 of
``--true-seeds`` trainings of the demo recipe at ``--true-epochs`` epochs, with seeds apart from
both the search's and the confirmation's. It prints both per search, the gain (confirmed minus
single-seed true accuracy), its mean, the seed noise (the std of one winner's true-accuracy
seeds, averaged over winners) and a verdict on the goal: the confirmed winner is better on
average and never worse by more than the seed noise.

    nice -n 10 python benchmarks/confirm.py --out benchmarks/results/confirm.md
    python benchmarks/confirm.py --quick          # a smoke run of a minute or two

At its defaults (4 searches of 12 trials, 4 true seeds of 6 epochs) it takes about 10-15
minutes on 2 idle cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import multiprocessing
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results_page import save  # noqa: E402

# the smoke run: tiny searches on tiny data, one epoch everywhere
QUICK_PROXY = ["proxy.epochs=1", "proxy.train_size=128", "proxy.val_size=64"]
TRUE_SEED_BASE = 5000  # search seeds are 0..R-1, confirmation seeds 1000 above them
WORKERS = 2


@dataclass(frozen=True)
class Winner:
    """One search's winner by one rule: its block table, tokens and the score that chose it."""

    tokens: tuple[int, ...]
    arch: str  # YAML block table
    accuracy: float  # what the search saw: one seed's, or the confirmed mean

    @property
    def key(self) -> str:
        return hashlib.sha1(repr(self.tokens).encode()).hexdigest()[:12]


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be >= 1")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--searches", type=positive_int, default=None,
                        help="independent searches R (default 4; --quick: 2)")
    parser.add_argument("--trials", type=positive_int, default=None,
                        help="trials per search (default 12; --quick: 4)")
    parser.add_argument("--true-seeds", type=positive_int, default=None,
                        help="trainings behind each true accuracy (default 4; --quick: 2)")
    parser.add_argument("--true-epochs", type=positive_int, default=None,
                        help="epochs of those trainings (default 6; --quick: 1)")
    parser.add_argument("--confirm-top", type=positive_int, default=None,
                        help="candidates each search confirms (default 3; --quick: 2)")
    parser.add_argument("--confirm-seeds", type=positive_int, default=2,
                        help="confirming trainings per candidate (default 2)")
    parser.add_argument("--confirm-epochs", type=positive_int, default=None,
                        help="epochs of the confirming trainings (default: the search's)")
    parser.add_argument("--runs", type=Path, default=None,
                        help="keep the searches' run directories here (default: a temporary "
                             "folder, deleted at the end)")
    parser.add_argument("--out", type=Path, default=None,
                        help="also save the output as markdown (command, commit, date)")
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run")
    args = parser.parse_args(argv)
    defaults = (2, 4, 2, 1, 2) if args.quick else (4, 12, 4, 6, 3)
    names = ("searches", "trials", "true_seeds", "true_epochs", "confirm_top")
    for name, default in zip(names, defaults):
        if getattr(args, name) is None:
            setattr(args, name, default)
    return args


def overrides(args: argparse.Namespace, r: int) -> list[str]:
    """Search `r`'s config changes: its own seeds, the budget, confirmation on."""
    return [f"seed={r}", f"proxy.seed={r}", f"budget.num_samples={args.trials}",
            *confirm(args), *(QUICK_PROXY if args.quick else [])]


def confirm(args: argparse.Namespace) -> list[str]:
    epochs = [f"confirm.set={{epochs: {args.confirm_epochs}}}"] if args.confirm_epochs else []
    return [f"confirm.top={args.confirm_top}", f"confirm.seeds={args.confirm_seeds}", *epochs]


def winners(run_dir: Path) -> tuple[Winner, Winner]:
    """(single-seed winner, confirmed winner) of one finished run."""
    import nas

    df = nas.load_results(run_dir)
    search = df[df["stage"].isna()] if "stage" in df else df
    best = search.dropna(subset=["reward"]).sort_values("reward", ascending=False).iloc[0]
    top = nas.load_confirmed(run_dir).iloc[0]
    return (Winner(_tokens(best["tokens"]), best["arch"], float(best["accuracy"])),
            Winner(_tokens(top["tokens"]), top["arch"], float(top["accuracy_mean"])))


def _tokens(value) -> tuple[int, ...]:
    return tuple(int(t) for t in value)  # a list, array or tuple of (numpy) ints


def run_searches(args: argparse.Namespace, folder: Path, say) -> list[tuple[Winner, Winner]]:
    import nas

    found = []
    for r in range(args.searches):
        start = time.perf_counter()
        config = nas.load_config("demo", overrides(args, r))
        run = nas.search(config, folder / f"search-{r}", progress=lambda line: None)
        found.append(winners(run.path))
        say(f"search {r}: {args.trials} trials + confirmation in "
            f"{time.perf_counter() - start:.0f} s")
    return found


def _train(task: tuple[str, str, int, int, bool]) -> tuple[str, float]:
    """One true-accuracy training: (arch key, held-out top-1)."""
    from nas.config import load_config
    from nas.engine.runner import build_space
    from nas.engine.trial import TrialSetup, proxy_resolution
    from objectives import load_dataset, train_proxy
    from search_space import Arch

    key, arch_yaml, seed, epochs, quick = task
    config = load_config("demo", QUICK_PROXY if quick else [])
    arch = Arch.from_yaml(arch_yaml)
    setup = TrialSetup(config.proxy, config.objective,
                       reference_resolution=build_space(config).reference.resolution)
    proxy = dataclasses.replace(config.proxy, epochs=epochs, seed=seed, threads=1,
                                resolution=proxy_resolution(setup, arch))
    return key, train_proxy(arch, proxy, data=load_dataset(proxy.data)).accuracy


def true_accuracies(found: list[tuple[Winner, Winner]],
                    args: argparse.Namespace) -> dict[str, list[float]]:
    """Arch key -> the true-accuracy seeds of every distinct winner."""
    distinct = {w.key: w for pair in found for w in pair}
    tasks = [(key, w.arch, TRUE_SEED_BASE + s, args.true_epochs, args.quick)
             for key, w in distinct.items() for s in range(args.true_seeds)]
    out: dict[str, list[float]] = {key: [] for key in distinct}
    # spawned: the searches' Ray has run in this process, and forked children inherit it
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        for key, accuracy in pool.map(_train, tasks):
            out[key].append(accuracy)
    return out


def verdict(gains: list[float], noise: float) -> str:
    mean = statistics.fmean(gains)
    met = mean > 0 and min(gains) >= -noise
    error = statistics.stdev(gains) / len(gains) ** 0.5 if len(gains) > 1 else 0.0
    return (f"goal {'met' if met else 'NOT met'}: mean gain {mean:+.4f} +- {error:.4f} (s.e.) "
            f"({'higher' if mean > 0 else 'not higher'} on average), worst {min(gains):+.4f} "
            f"vs seed noise {noise:.4f}")


def report(found: list[tuple[Winner, Winner]], true: dict[str, list[float]], say) -> None:
    say(f"{'search':>6}  {'single-seed winner':<12} {'search acc':>10} {'true acc':>15}  "
        f"{'confirmed winner':<12} {'conf. mean':>10} {'true acc':>15}  {'gain':>7}")
    gains = []
    for r, (single, confirmed) in enumerate(found):
        a, b = (statistics.fmean(true[w.key]) for w in (single, confirmed))
        gains.append(b - a)
        say(f"{r:>6}  {single.key:<12} {single.accuracy:>10.4f} {a:>8.4f} +- "
            f"{_std(true[single.key]):.3f}  {confirmed.key:<12} {confirmed.accuracy:>10.4f} "
            f"{b:>8.4f} +- {_std(true[confirmed.key]):.3f}  {b - a:>+7.4f}")
    noise = statistics.fmean(_std(seeds) for seeds in true.values())
    same = sum(s.key == c.key for s, c in found)
    say(f"same winner in {same} of {len(found)} searches; seed noise (std of one winner's "
        f"true-accuracy seeds, mean over {len(true)} winners): {noise:.4f}")
    say(verdict(gains, noise))


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    lines: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    say(f"{args.searches} demo searches of {args.trials} trials, "
        f"confirm {' '.join(confirm(args))}; "
        f"true accuracy: mean of {args.true_seeds} seeds x {args.true_epochs} epochs"
        + (" (quick)" if args.quick else ""))
    if args.runs:
        args.runs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        found = run_searches(args, args.runs or Path(tmp), say)
    start = time.perf_counter()
    true = true_accuracies(found, args)
    say(f"true accuracies: {sum(map(len, true.values()))} trainings in "
        f"{time.perf_counter() - start:.0f} s")
    report(found, true, say)
    if args.out:
        save(args.out, "confirm: the confirmed winner against the single-seed winner",
             "benchmarks/confirm.py", lines)


if __name__ == "__main__":
    main()
