"""The report's figures (matplotlib, the optional `plot` extra): each function returns a Figure.

Inputs are plain pandas frames from `nas.load_results` plus a few numbers, so a figure can be
drawn for a finished, running or killed run alike; `nas.outputs.report` embeds them as PNG.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from nas.ledger.confirmed import search_rows
from nas.ledger.results import pareto_front
from nas.ledger.run_dir import SCORED
from search_space.errors import SpecError

STATUS_COLORS = {"ok": "C0", "early_stopped": "C2", "diverged": "C1", "failed": "C3",
                 "rejected": "C7"}
# the x axes a Pareto front is drawn over: column -> (label, divisor)
FRONT_AXES = {"flops": ("FLOPs (M multiply-adds, deployed model)", 1e6),
              "latency_ms": ("latency (ms)", 1.0)}


def pyplot(option: str = "report"):
    """matplotlib.pyplot on the file-only Agg backend, or one clear error naming `option`."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SpecError(option, "matplotlib", "is needed for the plots: pip install "
                        "'nas-search[plot]'") from None
    return plt


def png_base64(fig) -> str:
    """The figure as a base64 PNG (for a data: URI), closed afterwards."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    pyplot().close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def save_png(fig, path) -> None:
    """Write the figure as PNG to `path`, closed afterwards."""
    try:
        with open(path, "wb") as f:  # our own handle: matplotlib hides errors on closing a path
            fig.savefig(f, format="png")
    finally:
        pyplot().close(fig)


def clock(finished_at: pd.Series, start: float) -> tuple[np.ndarray, str]:
    """Wall-clock since the run began, in seconds for short runs and minutes otherwise."""
    seconds = finished_at.to_numpy(float) - start
    if len(seconds) and np.nanmax(seconds) > 180:
        return seconds / 60, "wall-clock (minutes since the run began)"
    return seconds, "wall-clock (seconds since the run began)"


def front_figure(df: pd.DataFrame, x: str,
                 reference: tuple[str, float, float | None] | None = None,
                 confirmed: pd.DataFrame | None = None):
    """Accuracy vs `x` (a `FRONT_AXES` column): every scored search trial, the Pareto front,
    the reference, and the confirmed candidates (`nas.ledger.confirmed`) as their mean accuracy
    with its 95% interval as an error bar.

    `reference` is (name, x value, accuracy or None); without an accuracy it is a vertical line.
    """
    xlabel, scale = FRONT_AXES[x]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    scored = search_rows(df)
    scored = scored[scored["status"].isin(SCORED)].dropna(subset=[x, "accuracy"])
    ax.scatter(scored[x] / scale, scored["accuracy"], s=14, alpha=0.5, label="trials")
    front = pareto_front(df, x=x)
    if len(front):
        ax.plot(front[x] / scale, front["accuracy"], "o-", color="C3", label="Pareto front")
    if reference is not None:
        name, ref_x, ref_acc = reference
        if ref_acc is None:
            ax.axvline(ref_x / scale, color="k", ls="--", lw=1, label=f"{name} (not trained)")
        else:
            ax.scatter([ref_x / scale], [ref_acc], marker="*", s=160, color="k", zorder=3,
                       label=name)
    if confirmed is not None and len(confirmed) and x in confirmed:
        error_bars(ax, confirmed, x, scale)
    return _finish(fig, ax, xlabel, "proxy top-1 accuracy", legend=True)


def error_bars(ax, confirmed: pd.DataFrame, x: str, scale: float) -> None:
    """Confirmed candidates: the mean accuracy over their seeds, bars to the 95% interval's
    ends (none where one training gives no interval)."""
    mean = confirmed["accuracy_mean"].astype(float)
    low = (mean - confirmed["ci95_low"].astype(float)).fillna(0.0)
    high = (confirmed["ci95_high"].astype(float) - mean).fillna(0.0)
    ax.errorbar(confirmed[x].astype(float) / scale, mean, yerr=[low, high], fmt="D", ms=5,
                color="C2", capsize=3, zorder=4, label="confirmed (mean, 95% interval)")


def best_so_far_figure(df: pd.DataFrame, start: float):
    """Best reward so far against trials finished and against wall-clock minutes."""
    plt = pyplot()
    order = df.sort_values("finished_at", kind="stable")
    best = order["reward"].astype(float).cummax().to_numpy()  # NaN until the first reward
    fig, (by_trial, by_time) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=110, sharey=True)
    by_trial.step(np.arange(1, len(order) + 1), best, where="post")
    by_trial.set_xlabel("trials finished")
    by_trial.set_ylabel("best reward so far")
    when, label = clock(order["finished_at"], start)
    by_time.step(when, best, where="post")
    by_time.set_xlabel(label)
    for ax in (by_trial, by_time):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def rewards_over_time_figure(df: pd.DataFrame, start: float):
    """Every trial's reward by when it finished, coloured by status; no reward: a cross at the
    bottom edge."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=110)
    when, label = clock(df["finished_at"], start)
    when = pd.Series(when, index=df.index)
    rewards = df["reward"].astype(float)
    low = rewards.min() if rewards.notna().any() else 0.0
    for status, color in STATUS_COLORS.items():
        mask = df["status"] == status
        if not mask.any():
            continue
        with_reward, without = mask & rewards.notna(), mask & rewards.isna()
        if with_reward.any():
            ax.scatter(when[with_reward], rewards[with_reward], s=16, color=color,
                       label=f"{status} ({int(with_reward.sum())})")
        if without.any():
            ax.scatter(when[without], np.full(int(without.sum()), low), marker="x",
                       color=color, label=f"{status}, no reward ({int(without.sum())})")
    return _finish(fig, ax, label, "reward", legend=True)


def decision_figure(names: Sequence[str], choices: Sequence[Sequence[object]],
                    first: np.ndarray, last: np.ndarray, quarter: int):
    """Per decision, how often each option was chosen in the first and last quarter.

    `first` and `last` are token matrices (proposals x decisions).
    """
    plt = pyplot()
    cols = min(6, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.1 * cols, 1.7 * rows + 0.6), dpi=100,
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= len(names):
            ax.axis("off")
            continue
        options = np.arange(len(choices[k]))
        width = 0.4
        for offset, tokens, label, color in ((-width / 2, first, "first quarter", "C7"),
                                             (width / 2, last, "last quarter", "C0")):
            share = np.bincount(tokens[:, k], minlength=len(options)) / max(1, len(tokens))
            ax.bar(options + offset, share, width, color=color, label=label)
        ax.set_xticks(options, [str(c).replace("mbconv", "mb") for c in choices[k]],
                      fontsize=7)
        ax.set_ylim(0, 1)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(names[k], fontsize=8)
    axes.flat[0].legend(fontsize=7)
    height = fig.get_figheight()
    fig.suptitle(f"share of proposals choosing each option: first vs last {quarter} proposals",
                 fontsize=9, y=1 - 0.12 / height, va="top")
    # fixed margins: tight_layout measures every label of every panel (seconds at 40 panels)
    fig.subplots_adjust(left=0.04, right=0.99, bottom=0.3 / height, top=1 - 0.6 / height,
                        hspace=0.55, wspace=0.3)
    return fig


def grid_figure(df: pd.DataFrame, base_flops: float, metric: str):
    """Grid points: `metric` against FLOPs relative to the base, each labelled a/b/g."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    scored = df[df["status"].isin(SCORED)].dropna(subset=[metric])
    ratio = scored["flops"] / base_flops
    ax.scatter(ratio, scored[metric], s=18)
    for r, y, a, b, g in zip(ratio, scored[metric], scored["alpha"], scored["beta"],
                             scored["gamma"]):
        ax.annotate(f"{a:g}/{b:g}/{g:g}", (r, y), fontsize=6, xytext=(3, 3),
                    textcoords="offset points")
    return _finish(fig, ax, "FLOPs / base FLOPs", metric, "grid points (alpha/beta/gamma)")


def scatter_figure(df: pd.DataFrame, x: str, y: str, title: str):
    """Two columns of a side table (e.g. fidelity's short vs long accuracy), y = x dashed."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.2), dpi=110)
    data = df[[x, y]].astype(float).dropna()
    ax.scatter(data[x], data[y], s=18)
    if len(data):
        low, high = float(data.min().min()), float(data.max().max())
        ax.plot([low, high], [low, high], "--", color="C7", lw=1)
    return _finish(fig, ax, x, y, title)


def _finish(fig, ax, xlabel: str, ylabel: str, title: str = "", legend: bool = False):
    """Labels, a light grid, the legend if asked, tight margins: every one-panel figure."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
