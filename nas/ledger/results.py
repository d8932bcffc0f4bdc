"""A run's trials as a pandas DataFrame, Pareto fronts and re-scoring without retraining."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nas.config import ObjectiveConfig
from nas.ledger.confirmed import search_rows
from nas.ledger.run_dir import SCORED, RunDir
from objectives.reward import TARGET_FLOPS, W


def load_results(run_dir: str | Path) -> pd.DataFrame:
    """One row per finished trial (columns: trial_id, status, accuracy, flops, params, reward,
    train_seconds, arch, tokens, ...). Read from the journal, so it is current mid-search too.
    Confirmation trainings are rows too (``stage == "confirm"``); `nas.load_confirmed` sums
    them up per candidate, and `ranked` and `pareto_front` leave them out."""
    run = RunDir.open(run_dir)
    df = run.table()
    return df[df["status"] != "rejected"].reset_index(drop=True)


def rescore(df: pd.DataFrame, target: float = TARGET_FLOPS, w: float = W,
            kind: str = "soft", metric: str = "flops", beta: float = -0.10) -> pd.DataFrame:
    """A copy with `reward` recomputed for another target or exponent (stored accuracy and
    FLOPs, or latency_ms with metric latency, suffice; failed trials keep no reward)."""
    objective = ObjectiveConfig(target=target, w=w, kind=kind, metric=metric, beta=beta)
    out = df.copy()
    scored = out["status"].isin(SCORED) & out["accuracy"].notna()
    out["reward"] = [objective.reward(a, f) if ok else None
                     for a, f, ok in zip(out["accuracy"], out[objective.column], scored)]
    return out


def pareto_front(df: pd.DataFrame, x: str = "flops", y: str = "accuracy",
                 minimize_x: bool = True, maximize_y: bool = True) -> pd.DataFrame:
    """The non-dominated rows (lower `x`, higher `y` by default), sorted by `x`.

    Rows missing either value (failed trials) and confirmation rows are never on the front.
    """
    data = search_rows(df).dropna(subset=[x, y])
    if "status" in data:
        data = data[data["status"].isin(SCORED)]
    xs = data[x].to_numpy(float) * (1 if minimize_x else -1)
    ys = data[y].to_numpy(float) * (1 if maximize_y else -1)
    order = np.lexsort((-ys, xs))  # by x ascending, ties: best y first
    keep, best_y = [], -np.inf
    for i in order:
        if ys[i] > best_y:
            keep.append(i)
            best_y = ys[i]
    return data.iloc[keep].reset_index(drop=True)


def ranked(df: pd.DataFrame, by: str = "reward") -> pd.DataFrame:
    """Scored search trials (no confirmation rows), best `by` first."""
    df = search_rows(df)
    scored = df[df["status"].isin(SCORED) & df[by].notna()]
    return scored.sort_values(by, ascending=False, kind="stable").reset_index(drop=True)
