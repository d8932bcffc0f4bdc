"""The end-of-search report: best candidate, Pareto front, exported block table."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from nas.export import block_strings, trial_arch, write_arch
from nas.results import load_results, pareto_front
from nas.run_dir import RunDir
from nas.table import format_table
from objectives import FLOPS_CONVENTION


def front_table(front: pd.DataFrame) -> str:
    rows = [(r.trial_id, f"{r.accuracy:.4f}", f"{r.flops / 1e6:,.1f}M", f"{r.params / 1e6:.2f}M",
             f"{r.reward:.4f}" if pd.notna(r.reward) else "-") for r in front.itertuples()]
    return format_table(("trial", "accuracy", "FLOPs", "params", "reward"), rows)


def summarize(run: RunDir, out: Callable[[str], None] = print) -> None:
    df = load_results(run.path)
    counts = df["status"].value_counts().to_dict()
    out(f"\n{len(df)} trials: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if not df["reward"].notna().any():
        out("no trial produced a reward; see the reasons in trials.csv")
        return
    arch, row = trial_arch(df)
    path = write_arch(arch, run.path / "best.yaml", row)
    out(f"best: trial {row['trial_id']}  accuracy {row['accuracy']:.4f}  "
        f"FLOPs {row['flops'] / 1e6:,.1f}M  params {row['params'] / 1e6:.2f}M  "
        f"reward {row['reward']:.4f}")
    out("  " + "  ".join(block_strings(arch)))
    out(f"\nPareto front (accuracy vs FLOPs; FLOPs = {FLOPS_CONVENTION}):")
    out(front_table(pareto_front(df)))
    out(f"\nexported the best block table to {path}")
