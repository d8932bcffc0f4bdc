"""Proxy rank fidelity: does the short proxy rank architectures as a longer training does?

Ray-free parts of `nas-search fidelity`: which architectures to train, the job list (arch x
setting x seed), the agreement figures over finished rows, their table and plot. The Ray part
(one trial per job, through the run-directory machinery) is in `nas.studies.fidelity` and
`nas.studies.study_run`.

Statistics, from rows with ``arch_id, setting, seed, status, accuracy, train_seconds``:

- ``kendall_tau``: Kendall's tau-b (scipy) between the short and the long setting's accuracy,
  each the mean over seeds, across architectures; ``spearman`` the same with Spearman's rho.
- ``kendall_tau_ci95``: percentile bootstrap over architectures (resampled with replacement).
- ``seed_tau_short`` / ``seed_tau_long``: seed 0 vs seed 1 within one setting, the noise
  ceiling: no proxy can rank better against another setting than it agrees with itself.
- ``seed_gap_short`` / ``seed_gap_long``: the median over architectures of |seed 0 - seed 1|
  top-1 within one setting: accuracy differences below it are within seed noise.
- ``top_k_overlap``: share of the short setting's top k (k = max(1, K // 4)) in the long's.
- ``cost_ratio``: short training seconds / long training seconds (means over jobs).

Only rows with status ``ok`` count; an architecture missing a score in a comparison is left out
of it (``archs_compared`` says how many remained).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

SETTINGS = ("short", "long")
CSV_COLUMNS = ("arch_id", "setting", "seed", "status", "accuracy", "train_seconds", "flops",
               "params", "tokens")
BOOTSTRAP_RESAMPLES = 1000


@dataclass(frozen=True)
class Job:
    """One training of the fidelity study: architecture `arch_id`, a setting, a seed."""

    arch_id: int
    setting: str
    seed: int


def make_jobs(num_archs: int, seeds: int) -> list[Job]:
    """Every (arch, setting, seed), arch-major, so a stopped study has whole architectures."""
    return [Job(a, setting, s) for a in range(num_archs) for setting in SETTINGS
            for s in range(seeds)]


def sample_archs(space: Any, k: int, seed: int) -> list[Any]:
    """`k` distinct architectures drawn from `space` (inside its FLOPs band), seeded."""
    rng = np.random.default_rng(seed)
    archs: dict[Any, None] = {}
    for _ in range(100 * k):
        archs.setdefault(space.sample(rng))
        if len(archs) == k:
            break
    return list(archs)


def spread_ranks(count: int, k: int) -> list[int]:
    """`k` indices into `count` ranked items, spread evenly from the best to the worst."""
    if k >= count:
        return list(range(count))
    return [round(i * (count - 1) / (k - 1)) for i in range(k)] if k > 1 else [0]


def _tau(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2:
        return math.nan
    return float(stats.kendalltau(x, y).statistic)


def _median_gap(a: np.ndarray, b: np.ndarray) -> float | None:
    return _finite(float(np.median(abs(a - b)))) if len(a) else None


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rho; None where undefined (fewer than two, or all scores tied), without
    scipy's warning: the table says '-' for it."""
    if len(x) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        return _finite(float(stats.spearmanr(x, y).statistic))


def _finite(value: float) -> float | None:
    """A figure for the JSON: None if undefined; 12 digits, so a perfect rank is exactly 1.0."""
    return None if value is None or not math.isfinite(value) else round(float(value), 12)


def bootstrap_tau(x: np.ndarray, y: np.ndarray, seed: int = 0,
                  resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float] | None:
    """95% percentile interval of Kendall's tau, resampling the paired items with replacement.

    Resamples where tau is undefined (every item the same, or no variation) are skipped.
    """
    if len(x) < 2:
        return None
    rng = np.random.default_rng(seed)
    taus = []
    for _ in range(resamples):
        idx = rng.integers(0, len(x), len(x))
        tau = _tau(x[idx], y[idx])
        if math.isfinite(tau):
            taus.append(tau)
    if not taus:
        return None
    low, high = np.percentile(taus, [2.5, 97.5])
    return float(low), float(high)


def accuracy_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per arch_id (index) and (setting, seed) column; non-ok jobs are NaN."""
    ok = rows[rows["status"] == "ok"]
    table = ok.pivot_table(index="arch_id", columns=["setting", "seed"], values="accuracy",
                           aggfunc="mean")
    return table.reindex(sorted(rows["arch_id"].unique()))


def _pair(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    keep = a.notna() & b.notna()
    return a[keep].to_numpy(float), b[keep].to_numpy(float)


def setting_means(rows: pd.DataFrame) -> pd.DataFrame:
    """Per arch_id: mean and std over seeds of each setting's accuracy (ok jobs only)."""
    ok = rows[rows["status"] == "ok"]
    grouped = ok.groupby(["arch_id", "setting"])["accuracy"].agg(["mean", "std"]).unstack()
    return grouped.reindex(sorted(rows["arch_id"].unique()))


def agreement(rows: pd.DataFrame, seed: int = 0) -> dict[str, Any]:
    """How the two settings' rankings agree: the fidelity figures of finished rows (see the
    module docstring)."""
    means = setting_means(rows)
    short = means.get(("mean", "short"), pd.Series(dtype=float))
    long = means.get(("mean", "long"), pd.Series(dtype=float))
    x, y = _pair(short.reindex(means.index), long.reindex(means.index))
    ci = bootstrap_tau(x, y, seed)
    result: dict[str, Any] = {
        "archs": int(rows["arch_id"].nunique()),
        "seeds": int(rows["seed"].nunique()),
        "archs_compared": len(x),
        "kendall_tau": _finite(_tau(x, y)),
        "kendall_tau_ci95": list(ci) if ci else None,
        "spearman": _spearman(x, y),
    }
    table = accuracy_table(rows)
    for setting in SETTINGS:
        if (setting, 0) in table and (setting, 1) in table:
            a, b = _pair(table[(setting, 0)], table[(setting, 1)])
            result[f"seed_tau_{setting}"] = _finite(_tau(a, b))
            result[f"seed_gap_{setting}"] = _median_gap(a, b)
    k = max(1, result["archs"] // 4)
    result["top_k"] = k
    result["top_k_overlap"] = _top_k_overlap(x, y, k) if len(x) else None
    seconds = rows[rows["status"] == "ok"].groupby("setting")["train_seconds"].mean()
    if seconds.get("long"):  # failed jobs' partial seconds would skew it
        result["cost_ratio"] = _finite(seconds.get("short", math.nan) / seconds["long"])
    result["failed_jobs"] = int((rows["status"] != "ok").sum())
    return result


def _top_k_overlap(x: np.ndarray, y: np.ndarray, k: int) -> float:
    k = min(k, len(x))
    top_x = set(np.argsort(-x, kind="stable")[:k])
    top_y = set(np.argsort(-y, kind="stable")[:k])
    return len(top_x & top_y) / k


def fidelity_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows as fidelity.csv holds them: its columns, by arch, setting and seed."""
    return rows.reindex(columns=list(CSV_COLUMNS)).sort_values(["arch_id", "setting", "seed"])


def fidelity_figure(rows: pd.DataFrame, figures: dict[str, Any]) -> Any | None:
    """Short vs long accuracy, one point per architecture, error bars = std over seeds; None
    without matplotlib or without both settings' scores."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    means = setting_means(rows)
    if ("mean", "short") not in means or ("mean", "long") not in means:
        return None
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.errorbar(means[("mean", "short")], means[("mean", "long")],
                xerr=means.get(("std", "short")), yerr=means.get(("std", "long")),
                fmt="o", capsize=3)
    for arch_id, row in means.iterrows():
        ax.annotate(str(arch_id), (row[("mean", "short")], row[("mean", "long")]),
                    textcoords="offset points", xytext=(4, 4), fontsize=8)
    tau = figures.get("kendall_tau")
    ax.set_title(f"proxy fidelity: Kendall tau {tau:.2f}" if tau is not None
                 else "proxy fidelity")
    ax.set_xlabel("short setting: top-1 (mean over seeds)")
    ax.set_ylabel("long setting: top-1 (mean over seeds)")
    fig.tight_layout()
    return fig


def summary_lines(figures: dict[str, Any]) -> list[str]:
    """The figures as an aligned two-column table (what the verb prints)."""
    def show(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, list):
            return "[" + ", ".join(f"{v:.2f}" for v in value) + "]"
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    keys = ("archs_compared", "seeds", "kendall_tau", "kendall_tau_ci95", "spearman",
            "seed_tau_short", "seed_tau_long", "seed_gap_short", "seed_gap_long",
            "top_k_overlap", "cost_ratio", "failed_jobs")
    width = max(map(len, keys))
    return [f"{key:<{width}}  {show(figures.get(key))}" for key in keys if key in figures]


def spearman_brown_tau(tau: float, k: int) -> float | None:
    """Kendall's tau between two means of k trainings each, from the tau between single ones.

    Takes each architecture's score as its true value plus Gaussian seed noise of one size for
    all (then tau = 2/pi arcsin(rho)) and steps rho up by the Spearman-Brown rule. None where
    single trainings do not agree at all (tau <= 0): averaging noise cannot create a ranking.
    """
    rho = math.sin(math.pi / 2 * tau)
    if rho <= 0:
        return None
    return 2 / math.pi * math.asin(min(1.0, k * rho / (1 + (k - 1) * rho)))


def reading(figures: dict[str, Any]) -> list[str]:
    """The figures in words: how far the short setting's ranking can be trusted."""
    tau, single = figures.get("kendall_tau"), figures.get("seed_tau_long")
    gap, seeds = figures.get("seed_gap_long"), figures.get("seeds", 1)
    lines = []
    if gap is not None:
        lines.append(f"seed noise: top-1 moves {gap:.3f} between two seeds of the long setting "
                     "(median): closer scores do not rank")
    if tau is None or single is None:
        return lines
    # kendall_tau compares means over `seeds` seeds: so must the ceiling it is held against
    ceiling = spearman_brown_tau(single, seeds)
    if ceiling is None:
        lines.append(f"the long setting's seeds do not agree (tau {single:.2f}): it cannot "
                     "judge the short one")
    elif tau >= ceiling:
        lines.append(f"the short setting ranks like the long one at {tau:.2f}, as two "
                     f"{seeds}-seed means of the long one would agree (~{ceiling:.2f}): seed "
                     "noise, not the short setting, limits the ranking")
    else:
        lines.append(f"the short setting ranks like the long one at {tau:.2f}, below the ~"
                     f"{ceiling:.2f} two {seeds}-seed means of the long one would agree at: "
                     "evaluating as the long one does would rank better")
    return lines
