"""Per-trial overhead of a nas-search search vs a bare Ray Tune function trainable, side by side.

Both run near-zero trials on the same local Ray (127.0.0.1), the same concurrency and
reuse_actors. Per-trial overhead is the median time between trial completions (as the driver
sees them) after the first few, which leaves out the fixed cost of a Tuner (actor start-up,
imports such as torch in ours); runs alternate between the two, several times.
The search's trials use an `evaluate` hook that returns at once, so what is left is our
overhead: controller ask/tell, space encode/decode, the analytic FLOPs count, the journal, the
parquet/CSV tables and the state checkpoint. Then, unless --skip-demo, the wall time of the
bundled demo (`nas-search run`) in a fresh process.

    python benchmarks/trial_overhead.py [--trials 200] [--skip-demo]
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


def bare_tune(trials: int, concurrency: int) -> list[float]:
    from ray import tune

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
                                  callbacks=[Stamp()]))
    tuner.fit()
    return stamps


def nas_search(trials: int, concurrency: int) -> list[float]:
    from nas import load_config, search

    config = load_config("demo", [f"budget.num_samples={trials}",
                                  f"budget.max_concurrent={concurrency}",
                                  "evaluate=benchmarks.trial_overhead:instant"])
    run = search(config, Path(tempfile.mkdtemp()) / "run", progress=lambda line: None)
    return [row["finished_at"] for row in run.rows()]


def demo_seconds() -> float:
    start = time.perf_counter()
    out = Path(tempfile.mkdtemp()) / "demo"
    subprocess.run([sys.executable, "-m", "nas", "run", "--output", str(out)], check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()

    from nas.engine.ray_session import ray_session

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no Tune tables in the output

    skip, bare, ours = 2 * args.concurrency, [], []
    with ray_session(None, num_cpus=2):
        for _ in range(args.repeats):  # alternate, so drifts in machine load hit both
            bare.append(steady_seconds(bare_tune(args.trials, args.concurrency), skip))
            ours.append(steady_seconds(nas_search(args.trials, args.concurrency), skip))
    print(f"{args.trials} near-zero trials x {args.repeats} runs, {args.concurrency} at a time, "
          "reuse_actors, local Ray on 127.0.0.1; median s between trial completions")
    print("bare Ray Tune function trainable:", "  ".join(f"{b:.3f}" for b in bare))
    print("nas-search (controller, journal, tables, checkpoint):",
          "  ".join(f"{o:.3f}" for o in ours))
    ratio = statistics.median(ours) / statistics.median(bare)
    print(f"ratio of medians: {ratio:.2f}x (goal <= 1.5x)")
    if not args.skip_demo:
        print(f"demo (`nas-search run`, fresh process, Ray start included): "
              f"{demo_seconds():.0f} s wall")


if __name__ == "__main__":
    main()
