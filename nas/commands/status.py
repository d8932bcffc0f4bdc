"""`nas-search status RUN_DIR`: progress, best so far and compute spent."""

from __future__ import annotations

import argparse

HELP = "show a run's progress, best candidate and CPU/GPU-seconds spent"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR")


def main(args: argparse.Namespace) -> int:
    from nas.api import budget as planned_budget
    from nas.config import load_config
    from nas.ledger.results import load_results, ranked
    from nas.ledger.run_dir import SCORED, RunDir

    run = RunDir.open(args.run_dir)
    config = load_config(str(run.path / "config.yaml"))
    df = load_results(run.path)
    state = run.load_state() or {}
    running = len(state.get("in_flight", [])) if run.driver_alive() else 0
    done = int(df["status"].isin(SCORED).sum())
    failed = int(df["status"].isin(["failed", "diverged"]).sum())
    driver = "running" if run.driver_alive() else "not running"
    print(f"{run.path}: '{config.name}', driver {driver}")
    budget = planned_budget(config)
    print(f"trials: {done} done, {failed} failed, {running} running, budget {budget}")
    cpu_s = float((df["train_seconds"] * df["cpus"]).sum()) if len(df) else 0.0
    gpu_s = float((df["train_seconds"] * df["gpus"]).sum()) if len(df) else 0.0
    print(f"spent: {cpu_s:,.0f} CPU-seconds, {gpu_s:,.0f} GPU-seconds (training time x "
          "resources per trial)")
    best = ranked(df)
    if len(best):
        row = best.iloc[0]
        print(f"best so far: trial {row['trial_id']}  accuracy {row['accuracy']:.4f}  "
              f"FLOPs {row['flops'] / 1e6:,.1f}M (multiply-adds)  reward {row['reward']:.4f}")
    return 0
