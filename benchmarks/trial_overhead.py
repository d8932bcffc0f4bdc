"""Per-trial overhead of a nas-search search vs a bare Ray Tune function trainable, side by side.

Both run near-zero trials on the same local Ray (127.0.0.1), the same concurrency and
reuse_actors. Per-trial overhead is the marginal cost: (time of N trials - time of N/4 trials) /
(3N/4), which removes the fixed cost of a Tuner (actor start-up, imports such as torch in ours).
The search's trials use an `evaluate` hook that returns at once, so what is left is our
overhead: controller ask/tell, space encode/decode, the analytic FLOPs count, the journal, the
parquet/CSV tables and the state checkpoint. Then, unless --skip-demo, the wall time of the
bundled demo (`nas-search run`) in a fresh process.

    python benchmarks/trial_overhead.py [--trials 60] [--skip-demo]
"""

from __future__ import annotations

import argparse
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


def marginal(run, trials: int, concurrency: int) -> float:
    """Seconds per extra trial: fixed start-up costs cancel out."""
    few = max(2, trials // 4)
    return (run(trials, concurrency) - run(few, concurrency)) / (trials - few)


def bare_tune(trials: int, concurrency: int) -> float:
    from ray import tune

    def trainable(config):
        tune.report({"accuracy": 0.5})

    tuner = tune.Tuner(
        trainable, param_space={"x": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(num_samples=trials, max_concurrent_trials=concurrency,
                                    reuse_actors=True),
        run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(), verbose=0))
    start = time.perf_counter()
    tuner.fit()
    return time.perf_counter() - start


def nas_search(trials: int, concurrency: int) -> float:
    from nas import load_config, search

    config = load_config("demo", [f"budget.num_samples={trials}",
                                  f"budget.max_concurrent={concurrency}",
                                  "evaluate=benchmarks.trial_overhead:instant"])
    start = time.perf_counter()
    search(config, Path(tempfile.mkdtemp()) / "run", progress=lambda line: None)
    return time.perf_counter() - start


def demo_seconds() -> float:
    start = time.perf_counter()
    out = Path(tempfile.mkdtemp()) / "demo"
    subprocess.run([sys.executable, "-m", "nas", "run", "--output", str(out)], check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()

    from nas.ray_session import ray_session

    with ray_session(None, num_cpus=2):
        bare = marginal(bare_tune, args.trials, args.concurrency)
        ours = marginal(nas_search, args.trials, args.concurrency)
    print(f"{args.trials} near-zero trials, {args.concurrency} at a time, reuse_actors, "
          "local Ray on 127.0.0.1")
    print(f"bare Ray Tune function trainable: {bare:6.3f} s/trial")
    print(f"nas-search (controller, journal, tables, checkpoint): {ours:6.3f} s/trial")
    print(f"ratio: {ours / bare:.2f}x (goal <= 1.5x)")
    if not args.skip_demo:
        print(f"demo (`nas-search run`, fresh process, Ray start included): "
              f"{demo_seconds():.0f} s wall")


if __name__ == "__main__":
    main()
