"""Confirmation statistics: a search's top candidates retrained with several seeds, summed up.

A search's best trial is partly its luckiest seed (two seeds of one recipe rank architectures
at a Kendall tau near 0.6), so the answer rests on confirmation rows instead: ordinary journal
rows with ``stage: confirm`` and the proxy seed they trained with (``confirm_seed``), outside
the budget. Per candidate (its `tokens`): accuracy mean, std and n over its scored
confirmation trainings, a Student-t 95% interval, and the reward of the mean at its cost.
A reference (`confirm.reference`, what `compare` trains alike) is summed up the same way, apart
from the search's candidates (`reference_stats`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nas.config import ObjectiveConfig
from nas.ledger.confirmation import STAGE, candidate_key, ranked
from nas.ledger.run_dir import SCORED, RunDir
from search_space import Arch
from search_space.atomic_file import atomic_write

LEVEL = 0.95  # the interval's confidence
COLUMNS = ("rank", "tokens", "arch", "name", "n", "accuracy_mean", "accuracy_std", "ci95_low",
           "ci95_high", "reward", "reward_low", "reward_high", "search_reward",
           "search_trial_id", "flops", "params")
CONFIRMED_FILE = "confirmed.csv"
STATS = ("n", "accuracy_mean", "accuracy_std", "ci95_low", "ci95_high")


def is_confirmation(df: pd.DataFrame) -> pd.Series:
    """Which rows are confirmation trainings (`stage` confirm), not search trials."""
    if "stage" not in df:
        return pd.Series(False, index=df.index)
    return df["stage"].eq(STAGE).fillna(False).astype(bool)


def search_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The search's own trials: confirmation rows left out."""
    return df[~is_confirmation(df)]


def interval(accuracies: Any, level: float = LEVEL) -> dict[str, float]:
    """mean, std (ddof=1), n and the Student-t interval of the mean (NaN below two values)."""
    from scipy import stats

    values = np.asarray(pd.Series(accuracies, dtype=float).dropna(), dtype=float)
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    if n < 2:
        return {"n": n, "accuracy_mean": mean, "accuracy_std": math.nan,
                "ci95_low": math.nan, "ci95_high": math.nan}
    std = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return {"n": n, "accuracy_mean": mean, "accuracy_std": std,
            "ci95_low": mean - half, "ci95_high": mean + half}


def top_candidates(df: pd.DataFrame, k: int) -> pd.DataFrame:
    """The best search row of each of the `k` best distinct candidates, by search reward: the
    plan's choice (`nas.ledger.confirmation.ranked`) as rows of `df`."""
    best = ranked(df.to_dict("records"))[:k]
    return pd.DataFrame(best, columns=df.columns).reset_index(drop=True)


def confirmed(df: pd.DataFrame, objective: ObjectiveConfig) -> pd.DataFrame:
    """One row per confirmed candidate the search found (`COLUMNS`, and latency_ms when the
    run has it), best `reward` (of the mean accuracy) first; empty when nothing was confirmed.
    A reference the search did not find is left out (`reference_stats`)."""
    extra = ["latency_ms"] if "latency_ms" in df else []
    rows, groups, searched = _confirming(df)
    table = [_candidate(rows.loc[index], searched[key], objective, extra)
             for key, index in groups.items() if key in searched]
    if not table:
        return pd.DataFrame(columns=[*COLUMNS, *extra])
    out = pd.DataFrame(table).sort_values("reward", ascending=False, kind="stable")
    out.insert(0, "rank", range(1, len(out) + 1))
    return out[[*COLUMNS, *extra]].reset_index(drop=True)


def reference_stats(df: pd.DataFrame, objective: ObjectiveConfig,
                    key: tuple) -> dict[str, Any] | None:
    """The statistics of the reference (candidate `key`, see `reference_key`) over its
    confirming trainings, as one row of `confirmed` without a rank; None: none scored yet."""
    rows, groups, searched = _confirming(df)
    if key not in groups:
        return None
    extra = ["latency_ms"] if "latency_ms" in df else []
    return _candidate(rows.loc[groups[key]], searched.get(key), objective, extra)


def reference_key(config: Any, space: Any = None) -> tuple | None:
    """`confirm.reference` as a candidate key: its tokens in the run's space (`space`, default
    the config's); None without a reference. SpecError when the space does not hold it."""
    arch = config.confirm.reference_arch()
    if arch is None:
        return None
    if space is None:
        from objectives import analytic_flops
        from search_space import load_space

        space = load_space(config.space, counter=analytic_flops)
    return tuple(space.encode(arch))


def _confirming(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[tuple, list], dict[tuple, Any]]:
    """(scored confirming rows, their row indexes by candidate, each candidate's best search
    row by candidate for those the search found)."""
    rows = df[is_confirmation(df) & df["status"].isin(SCORED) & df["accuracy"].notna()]
    groups: dict[tuple, list] = {}  # by hand: pandas reads tuple keys as index levels
    for index, tokens, arch in zip(rows.index, rows["tokens"], rows["arch"]):
        groups.setdefault(candidate_key(tokens, arch), []).append(index)
    if not groups:
        return rows, groups, {}
    best = top_candidates(df, len(df))
    return rows, groups, {candidate_key(r.tokens, r.arch): r for r in best.itertuples()}


def _candidate(group: pd.DataFrame, search: Any, objective: ObjectiveConfig,
               extra: list[str]) -> dict[str, Any]:
    """The statistics of one candidate's confirmation rows (`search`: its best search row)."""
    first = group.iloc[0]
    stats = interval(group["accuracy"])
    cost = float(first[objective.column])

    def reward(accuracy: float) -> float:
        return math.nan if math.isnan(accuracy) else objective.reward(accuracy, cost)

    return {"tokens": candidate_key(first["tokens"], first["arch"]), "arch": first["arch"],
            "name": _name(first["arch"], search), **stats,
            "reward": reward(stats["accuracy_mean"]), "reward_low": reward(stats["ci95_low"]),
            "reward_high": reward(stats["ci95_high"]),
            "search_reward": math.nan if search is None else float(search.reward),
            "search_trial_id": None if search is None else search.trial_id,
            "flops": first["flops"], "params": first["params"],
            **{c: first[c] for c in extra}}


def _name(arch: str, search: Any) -> str:
    """The search trial that found it (block tables of one space often share a name), else
    the table's own name."""
    if search is not None:
        return f"trial-{search.trial_id}"
    try:
        return Arch.from_yaml(arch).name or "candidate"
    except Exception:  # noqa: BLE001 - a damaged table still has its statistics
        return "candidate"


def overlapping(table: pd.DataFrame) -> bool:
    """Whether #1's and #2's accuracy intervals overlap (an unknown interval counts as
    overlapping: nothing separates them)."""
    if len(table) < 2:
        return False
    one, two = table.iloc[0], table.iloc[1]
    bounds = [one["ci95_low"], one["ci95_high"], two["ci95_low"], two["ci95_high"]]
    if any(pd.isna(b) for b in bounds):
        return True
    return bool(one["ci95_low"] <= two["ci95_high"] and two["ci95_low"] <= one["ci95_high"])


def export_order(df: pd.DataFrame, objective: ObjectiveConfig) -> pd.DataFrame:
    """Candidates as `export --rank` counts them: confirmed ones first (by the reward of their
    mean), then the other search trials by search reward. Each row is the candidate's best
    search row (else its first confirming row), with `confirmed`, the statistics `STATS` and
    `confirmed_reward` (the reward of the mean; NaN for the rest)."""
    from nas.ledger.results import ranked

    table = confirmed(df, objective)
    searched = ranked(df)
    keys = [candidate_key(t, a) for t, a in zip(searched["tokens"], searched["arch"])]
    by_key = dict(zip(keys[::-1], searched.to_dict("records")[::-1]))  # the best row wins
    head = [{**by_key[key], "confirmed": True, "confirmed_reward": s["reward"],
             **{c: s[c] for c in STATS}} for key, s in zip(table["tokens"],
                                                        table.to_dict("records"))]
    done = set(table["tokens"])
    rest = [{**r, "confirmed": False} for r, key in zip(searched.to_dict("records"), keys)
            if key not in done]
    columns = [*searched.columns, "confirmed", "confirmed_reward", *STATS]
    return pd.DataFrame(head + rest, columns=columns)


def load_confirmed(run_dir: str | Path) -> pd.DataFrame:
    """A run's confirmed candidates (`confirmed`), scored by its config's objective."""
    from nas.config import load_config
    from nas.ledger.results import load_results

    run = RunDir.open(run_dir)
    objective = load_config(str(run.path / "config.yaml")).objective
    return confirmed(load_results(run.path), objective)


def write_confirmed(run: RunDir, objective: ObjectiveConfig) -> None:
    """RUN_DIR/confirmed.csv, the `confirmed` table beside trials.csv (none while nothing is
    confirmed), written whole or not at all."""
    table = confirmed(run.table(), objective)
    if len(table):
        atomic_write(run.path / CONFIRMED_FILE, lambda p: table.to_csv(p, index=False))
