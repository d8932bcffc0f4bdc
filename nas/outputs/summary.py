"""The end-of-search report: best candidate, Pareto front, exported block table."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from nas.ledger.confirmed import confirmed, overlapping, search_rows
from nas.ledger.results import load_results, pareto_front, ranked
from nas.ledger.run_dir import RunDir
from nas.outputs.comparison import reference_lines, run_comparison
from nas.outputs.table import format_table
from nas.outputs.yaml_export import block_strings, confirm_recipe, trial_arch, write_arch
from objectives import FLOPS_CONVENTION, analytic_flops
from search_space import Arch


def front_table(front: pd.DataFrame) -> str:
    """The front's rows; with a `confirmed` column (pareto), which of them were confirmed."""
    rows = [(r.trial_id, f"{r.accuracy:.4f}", f"{r.flops / 1e6:,.1f}M", f"{r.params / 1e6:.2f}M",
             f"{r.reward:.4f}" if pd.notna(r.reward) else "-") for r in front.itertuples()]
    head = ("trial", "accuracy", "FLOPs", "params", "reward")
    if "latency_ms" in front:
        rows = [(*row[:3], f"{ms:.3f}", *row[3:]) for row, ms in zip(rows, front["latency_ms"])]
        head = ("trial", "accuracy", "FLOPs", "latency ms", "params", "reward")
    if "confirmed" in front:
        rows = [(*row, "yes" if c else "") for row, c in zip(rows, front["confirmed"])]
        head = (*head, "confirmed")
    return format_table(head, rows)


def confirmed_cells(table: pd.DataFrame) -> list[tuple]:
    """Per confirmed candidate: rank, name, n, mean +- std, the 95% interval, rewards."""
    def num(value: float, spec: str = ".4f") -> str:
        return "-" if pd.isna(value) else format(value, spec)

    return [(r.rank, r.name, int(r.n), f"{r.accuracy_mean:.4f} +- {num(r.accuracy_std)}",
             "-" if pd.isna(r.ci95_low) else f"[{r.ci95_low:.4f}, {r.ci95_high:.4f}]",
             num(r.reward), num(r.search_reward)) for r in table.itertuples()]


CONFIRMED_HEADERS = ("rank", "candidate", "n", "accuracy mean +- std", "95% interval",
                     "reward of mean", "search reward")


def confirmed_lines(table: pd.DataFrame) -> list[str]:
    """The confirmed candidates as a table, and who won: one name, or both of the first two
    when their intervals overlap (the seeds do not separate them). [] without confirmation."""
    if not len(table):
        return []
    lines = [f"confirmed candidates ({len(table)}; accuracy over their confirming seeds, "
             "best reward of the mean first):",
             format_table(CONFIRMED_HEADERS, confirmed_cells(table))]
    return [*lines, winner_line(table)]


def confirmation_lines(df: pd.DataFrame, config) -> list[str]:
    """`confirmed_lines`, then the reference's (`confirm.reference`) and the verdict."""
    compared = run_comparison(df, config)
    return [*confirmed_lines(confirmed(df, config.objective)),
            *(reference_lines(compared) if compared else [])]


def winner_line(table: pd.DataFrame) -> str:
    """One confirmed winner, or the first two named together when nothing separates them."""
    one = table.iloc[0]
    if not overlapping(table):
        rest = " (its 95% interval is clear of #2's)" if len(table) > 1 else ""
        return f"confirmed winner: {one['name']}{rest}"
    two = table.iloc[1]
    return (f"no single winner: #1 {one['name']} and #2 {two['name']} overlap within their 95% "
            "intervals; the seeds do not separate them (confirm with more seeds to tell)")


def summarize(run: RunDir, out: Callable[[str], None] = print) -> None:
    """Print the end-of-run report (a search's, or the scaling grid's) and export the winner."""
    from nas.config import load_config

    config = load_config(str(run.path / "config.yaml"))
    if config.grid is not None:
        summarize_grid(run, config.grid.metric, out)
        return
    df = load_results(run.path)
    search = search_rows(df)  # confirmation trainings are counted apart
    counts = search["status"].value_counts().to_dict()
    out(f"\n{len(search)} trials: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        + f"; {len(df) - len(search)} confirmation trainings" * (len(df) > len(search)))
    if not df["reward"].notna().any():
        out("no trial produced a reward; see the reasons in trials.csv")
        return
    arch, row = trial_arch(df, objective=config.objective)  # the confirmed #1, if any
    path = write_arch(arch, run.path / "best.yaml", row, recipe=confirm_recipe(config))
    out(f"best: trial {row['trial_id']}  accuracy {row['accuracy']:.4f}  "
        f"FLOPs {row['flops'] / 1e6:,.1f}M  params {row['params'] / 1e6:.2f}M  "
        f"reward {row['reward']:.4f}" + ("  (confirmed #1)" if row["confirmed"] else ""))
    out("  " + "  ".join(block_strings(arch)))
    for line in confirmation_lines(df, config):
        out("\n" + line if line.startswith("confirmed candidates") else line)
    out(f"\nPareto front (accuracy vs FLOPs; FLOPs = {FLOPS_CONVENTION}):")
    out(front_table(pareto_front(df)))
    out(f"\nexported the best block table to {path}")


def summarize_grid(run: RunDir, metric: str, out: Callable[[str], None] = print) -> None:
    """The grid sorted by `metric`, with FLOPs relative to the base; writes coefficients.yaml."""
    from nas.outputs.coefficients import write_coefficients

    df = load_results(run.path)
    base = Arch.from_yaml(run.path / "reference.yaml")
    base_flops = analytic_flops(base)
    order = ranked(df, metric)
    rows = [(f"{r.alpha:g}", f"{r.beta:g}", f"{r.gamma:g}",
             f"{r.alpha * r.beta ** 2 * r.gamma ** 2:.3f}", Arch.from_yaml(r.arch).resolution,
             f"{r.flops / 1e6:,.1f}M", f"{r.flops / base_flops:.2f}", f"{r.accuracy:.4f}",
             f"{r.reward:.4f}") for r in order.itertuples()]
    out(f"\n{len(df)} grid points, sorted by {metric}; FLOPs = multiply-adds, ratio to the base"
        f" ({base_flops / 1e6:,.1f}M):")
    out(format_table(("alpha", "beta", "gamma", "a*b^2*g^2", "res", "FLOPs", "ratio",
                      "accuracy", "reward"), rows))
    if not len(order):
        out("no grid point produced a result; see the reasons in trials.csv")
        return
    best = order.iloc[0]
    note = f"best {metric} of {len(df)} grid points in {run.path}"
    path = write_coefficients(run.path / "coefficients.yaml", best["alpha"], best["beta"],
                              best["gamma"], note)
    out(f"\nchosen: alpha {best['alpha']:g}, beta {best['beta']:g}, gamma {best['gamma']:g} "
        f"({metric} {best[metric]:.4f}); wrote {path}")
    out(f"scale with: nas-search scale BASE --phi K --coefficients {path}")
