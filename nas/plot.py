"""The Pareto plot (matplotlib is the optional `plot` extra)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from search_space.errors import SpecError


def plot_front(df: pd.DataFrame, front: pd.DataFrame, out: Path, x: str = "flops") -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SpecError("--plot", str(out), "needs matplotlib: pip install "
                        "'nas-search[plot]'") from None
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    scored = df.dropna(subset=["accuracy"])
    scale, label = (1.0, "latency (ms)") if x == "latency_ms" else (1e6, "FLOPs (M multiply-adds)")
    ax.scatter(scored[x] / scale, scored["accuracy"], s=12, alpha=0.5, label="trials")
    ax.plot(front[x] / scale, front["accuracy"], "o-", color="C3", label="Pareto front")
    ax.set_xlabel(label)
    ax.set_ylabel("proxy top-1 accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        with open(out, "wb") as f:  # our own handle: matplotlib hides errors on closing a path
            fig.savefig(f, format="png")
    finally:
        plt.close(fig)
