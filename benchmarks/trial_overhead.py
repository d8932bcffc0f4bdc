"""Per-trial overhead of a nas-search search vs a bare Ray Tune function trainable, side by side.

Both run near-zero trials on the same local Ray (127.0.0.1), the same concurrency and
reuse_actors. Per-trial overhead is the median time between trial completions (as the driver
sees them) after the first few, which leaves out the fixed cost of a Tuner (actor start-up,
imports such as torch in ours); runs alternate between the two, several times.
The search's trials use an `evaluate` hook that returns at once, so what is left is our
overhead: controller ask/tell, space encode/decode, the analytic FLOPs count, the journal, the
parquet/CSV tables and the state checkpoint. Then, unless --skip-demo, the wall time of the
bundled demo (`nas-search run`) in a fresh process.

A search keeps only Tune's JSON logger (its CSV and TensorBoard loggers cost more than a
near-zero trial; `nas.engine.tuning`), so the bare trainable runs twice: with Tune's default
loggers (what a bare user gets) and with the JSON logger alone (like for like). `--against DIR`
also times the search of another checkout (e.g. the commit before a change, unpacked with
`git archive REF | tar -x -C DIR`) in a child process, alternating with the rest: a before/after
in one run.

    python benchmarks/trial_overhead.py [--trials 200] [--skip-demo] [--against DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def instant(arch, proxy, report):
    """The near-zero objective: a constant accuracy, no training."""
    return {"accuracy": 0.5}


def steady_seconds(stamps: list[float], skip: int) -> float:
    """Median seconds between trial completions after the first `skip` (actor start-up); the
    median keeps a stall of the shared 2-core machine from standing in for the overhead."""
    return float(statistics.median(b - a for a, b in zip(sorted(stamps)[skip:],
                                                          sorted(stamps)[skip + 1:])))


def bare_tune(trials: int, concurrency: int, default_loggers: bool = True) -> list[float]:
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback

    from nas.engine.tuning import tune_loggers  # here: a --child imports another checkout's

    stamps: list[float] = []

    class Stamp(tune.Callback):
        def on_trial_complete(self, iteration, trials, trial, **info):
            stamps.append(time.time())

    def trainable(config):
        tune.report({"accuracy": 0.5})

    tuner = tune.Tuner(
        trainable, param_space={"x": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(num_samples=trials, max_concurrent_trials=concurrency,
                                    reuse_actors=True),
        run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(), verbose=0,
                                  callbacks=[Stamp()] + [JsonLoggerCallback()] * (
                                      not default_loggers)))
    with tune_loggers(default_loggers):
        tuner.fit()
    return stamps


def nas_search(trials: int, concurrency: int) -> list[float]:
    from nas import load_config, search

    config = load_config("demo", [f"budget.num_samples={trials}",
                                  f"budget.max_concurrent={concurrency}",
                                  "evaluate=benchmarks.trial_overhead:instant"])
    run = search(config, Path(tempfile.mkdtemp()) / "run", progress=lambda line: None)
    return [row["finished_at"] for row in run.rows()]


def other_search(tree: Path, trials: int, concurrency: int) -> float:
    """`nas_search`'s steady seconds with the `nas` of checkout `tree`, in a child process
    (with its own local Ray: a process imports one `nas`)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run([sys.executable, __file__, "--child", str(tree), "--trials",
                           str(trials), "--concurrency", str(concurrency)], cwd=tree, env=env,
                          capture_output=True, text=True, check=True, timeout=1800)
    return float(proc.stdout.split()[-1])


def child(tree: str, trials: int, concurrency: int) -> None:
    """The child of `other_search`: prints the steady seconds as its last word."""
    sys.path.insert(0, tree)  # before this file's checkout
    from nas.engine.ray_session import ray_session

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    with ray_session(None, num_cpus=2):
        print(steady_seconds(nas_search(trials, concurrency), 2 * concurrency))


def demo_seconds() -> float:
    start = time.perf_counter()
    out = Path(tempfile.mkdtemp()) / "demo"
    subprocess.run([sys.executable, "-m", "nas", "run", "--output", str(out)], check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--against", type=Path, metavar="DIR",
                        help="also time the search of the checkout in DIR (a child process)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.child:
        return child(args.child, args.trials, args.concurrency)
    from nas.engine.ray_session import ray_session

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no Tune tables in the output
    n, k, skip = args.trials, args.concurrency, 2 * args.concurrency
    runs = {"bare Ray Tune function trainable, Tune's default loggers":
            lambda: steady_seconds(bare_tune(n, k), skip),
            "bare Ray Tune function trainable, JSON logger only (as a search)":
            lambda: steady_seconds(bare_tune(n, k, default_loggers=False), skip),
            "nas-search (controller, journal, tables, checkpoint)":
            lambda: steady_seconds(nas_search(n, k), skip)}
    if args.against:
        runs[f"nas-search of {args.against}"] = lambda: other_search(args.against.resolve(), n, k)
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    with ray_session(None, num_cpus=2):
        for _ in range(args.repeats):  # alternate, so drifts in machine load hit all alike
            for name, run in runs.items():
                seconds[name].append(run())
    print(f"{n} near-zero trials x {args.repeats} runs, {k} at a time, reuse_actors, local Ray "
          "on 127.0.0.1; median s between trial completions")
    medians = {name: statistics.median(times) for name, times in seconds.items()}
    default, like = (medians[name] for name in list(runs)[:2])
    for name, times in seconds.items():
        print(f"{name}: {'  '.join(f'{t:.4f}' for t in times)}  (median {medians[name]:.4f}: "
              f"{medians[name] / default:.2f}x / {medians[name] / like:.2f}x the bare ones)")
    if not args.skip_demo:
        print(f"demo (`nas-search run`, fresh process, Ray start included): "
              f"{demo_seconds():.0f} s wall")


if __name__ == "__main__":
    main()
