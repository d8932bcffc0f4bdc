"""`nas-search status RUN_DIR`: progress, best so far and compute spent."""

from __future__ import annotations

import argparse

HELP = "show a run's progress, best candidate and CPU/GPU-seconds spent"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR")


def main(args: argparse.Namespace) -> int:
    from nas.api import budget as planned_budget
    from nas.config import load_config
    from nas.ledger.confirmed import confirmed, search_rows
    from nas.ledger.results import load_results, ranked
    from nas.ledger.run_dir import SCORED, RunDir
    from nas.outputs.summary import confirmation_lines

    run = RunDir.open(args.run_dir)
    config = load_config(str(run.path / "config.yaml"))
    df = load_results(run.path)
    state = run.load_state() or {}
    running = len(state.get("in_flight", [])) if run.driver_alive() else 0
    search = search_rows(df)  # confirmation trainings are outside the budget
    done = int(search["status"].isin(SCORED).sum())
    failed = int(search["status"].isin(["failed", "diverged"]).sum())
    driver = "running" if run.driver_alive() else "not running"
    print(f"{run.path}: '{config.name}', driver {driver}")
    budget = planned_budget(config)
    print(f"trials: {done} done, {failed} failed, {running} running, budget {budget}"
          + f"; {len(df) - len(search)} confirmation trainings" * (len(df) > len(search)))
    cpu_s = float((df["train_seconds"] * df["cpus"]).sum()) if len(df) else 0.0
    gpu_s = float((df["train_seconds"] * df["gpus"]).sum()) if len(df) else 0.0
    print(f"spent: {cpu_s:,.0f} CPU-seconds, {gpu_s:,.0f} GPU-seconds (training time x "
          "resources per trial)")
    best = ranked(df)  # search trials only
    table = confirmed(df, config.objective)
    if len(best):
        row = best.iloc[0]
        print(f"best so far: trial {row['trial_id']}  accuracy {row['accuracy']:.4f}  "
              f"FLOPs {row['flops'] / 1e6:,.1f}M (multiply-adds)  reward {row['reward']:.4f}"
              + " (one training; the confirmed candidates below)" * bool(len(table)))
    for line in confirmation_lines(df, config):
        print(line)
    return 0
