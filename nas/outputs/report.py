"""`nas-search report`: one self-contained HTML page about a run, readable offline.

Everything comes from the run directory (the journal through `nas.load_results`, config.yaml,
reference.yaml, search.pt, driver.json), so a finished, running or killed search reports alike,
and so does a scaling grid. Plots are embedded as base64 PNG: the file needs no network and no
other file to open.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nas.config import SearchConfig, load_config
from nas.ledger.confirmed import confirmed, search_rows
from nas.ledger.results import load_results, ranked
from nas.ledger.run_dir import SCORED, RunDir
from nas.outputs import plots
from nas.outputs.comparison import reference_lines, run_comparison
from nas.outputs.files import write_output
from nas.outputs.summary import CONFIRMED_HEADERS, confirmed_cells, winner_line
from nas.outputs.yaml_export import block_strings
from objectives import FLOPS_CONVENTION, analytic_flops
from search_space import Arch, load_space
from search_space.errors import SpecError
from search_space.timm_format import timm_arch_def

TOP_K = 10


@dataclass
class RunView:
    """What the report reads from one run directory."""

    run: RunDir
    config: SearchConfig
    trials: pd.DataFrame  # finished trials (rejected proposals excluded)
    proposals: pd.DataFrame  # every journaled row, rejected ones included, in journal order
    reference: Arch | None
    budget: int
    start: float  # epoch seconds the run began (config.yaml written, or the first trial)

    @property
    def is_grid(self) -> bool:
        return self.config.grid is not None

    @property
    def search(self) -> pd.DataFrame:
        """The search's own trials: confirmation trainings left out."""
        return search_rows(self.trials)

    @property
    def confirmed(self) -> pd.DataFrame:
        """The confirmed candidates' statistics (empty without confirmation)."""
        return confirmed(self.trials, self.config.objective)


def planned_trials(config: SearchConfig) -> int:
    return config.budget.num_samples


def read_run(run_dir: str | Path,
             budget_of: Callable[[SearchConfig], int] = planned_trials) -> RunView:
    """Load a run for the report; a run with no finished trial is a one-line error.
    `budget_of` counts the trials the run's config plans (`nas.api.budget` knows the grid's)."""
    run = RunDir.open(run_dir)
    config = load_config(str(run.path / "config.yaml"))
    trials = load_results(run.path)
    if not len(trials):
        raise SpecError("RUN_DIR", str(run.path), "has no finished trial yet: nothing to "
                        "report")
    ref_path = run.path / "reference.yaml"
    reference = Arch.from_yaml(ref_path) if ref_path.is_file() else None
    budget = budget_of(config)
    began = (trials["finished_at"].astype(float) - trials["train_seconds"].astype(float)).min()
    start = min(float(began), (run.path / "config.yaml").stat().st_mtime)
    return RunView(run, config, trials, run.table(), reference, budget, start)


def run_state(view: RunView) -> str:
    """finished / running / stopped, in words a reader can act on."""
    done = len(view.search)
    if view.run.driver_alive():
        return f"running: {done} of {view.budget} trials finished"
    if done >= view.budget:
        return f"finished: {done} of {view.budget} trials"
    return (f"stopped (killed or interrupted) after {done} of {view.budget} trials; continue "
            f"with `nas-search resume {view.run.path}`")


# --- sections -----------------------------------------------------------------------------


def _img(fig, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{plots.png_base64(fig)}">'


def _reference_point(view: RunView, x: str) -> tuple[str, float, float | None] | None:
    """The reference architecture on the front: its value of `x`, and its accuracy if trained."""
    ref = view.reference
    if ref is None:
        return None
    flops = float(analytic_flops(ref, ref.resolution, view.config.objective.num_classes))
    trained = view.trials[view.trials["status"].isin(SCORED) & (view.trials["flops"] == flops)]
    same = trained[[_same_arch(text, ref) for text in trained["arch"]]]  # parse only those
    accuracy = float(same["accuracy"].max()) if len(same) else None
    if x == "flops":
        value = flops
    elif len(same) and same[x].notna().any():
        value = float(same[x].min())
    else:
        return None  # its latency is known only if a trial measured it
    return ref.name or "reference", value, accuracy


def _same_arch(text: str, reference: Arch) -> bool:
    arch = Arch.from_yaml(text)
    return arch.replace(name=reference.name) == reference


def figures(view: RunView) -> list[tuple[str, str]]:
    """(heading, <img>) for every plot this run supports."""
    df, table = view.search, view.confirmed  # confirmed points: their mean and interval
    out = [("Pareto front: accuracy vs FLOPs", _img(plots.front_figure(
        df, "flops", _reference_point(view, "flops"), table), "accuracy vs FLOPs"))]
    if "latency_ms" in df and df["latency_ms"].notna().any():
        out.append(("Pareto front: accuracy vs latency", _img(plots.front_figure(
            df, "latency_ms", _reference_point(view, "latency_ms"), table),
            "accuracy vs latency")))
    if view.is_grid and view.reference is not None:
        base = float(analytic_flops(view.reference, view.reference.resolution,
                                    view.config.objective.num_classes))
        out.append(("Grid points", _img(plots.grid_figure(df, base, view.config.grid.metric),
                                        "grid points")))
    out.append(("Best reward so far", _img(plots.best_so_far_figure(df, view.start),
                                           "best reward so far")))
    out.append(("Reward of every trial over time", _img(
        plots.rewards_over_time_figure(df, view.start), "reward over time")))
    if not view.is_grid:
        decisions = _decision_section(view)
        if decisions is not None:
            out.append(decisions)
    out.extend(_fidelity_figures(view))
    return out


def _decision_section(view: RunView) -> tuple[str, str] | None:
    """What the controller learned: option shares in the first vs the last quarter."""
    try:
        space = load_space(view.config.space)
    except SpecError:  # the space file moved since the search: report the rest
        return None
    tokens = [t for t in view.proposals["tokens"] if isinstance(t, (list, np.ndarray))]
    matrix = np.array([list(t) for t in tokens if len(t) == len(space.decisions)], dtype=int)
    if not len(matrix):
        return None
    quarter = max(1, len(matrix) // 4)
    varied = [k for k, d in enumerate(space.decisions) if len(d.choices) > 1]
    fig = plots.decision_figure([space.decisions[k].name for k in varied],
                                [space.decisions[k].choices for k in varied],
                                matrix[:quarter][:, varied], matrix[-quarter:][:, varied],
                                quarter)
    return ("What the controller learned", _img(fig, "option shares per decision"))


FIDELITY_HEADING = "Proxy fidelity: short vs long training (accuracy, mean over seeds)"


def _fidelity_figures(view: RunView) -> list[tuple[str, str]]:
    """`nas-search fidelity`'s table, in this run directory or its fidelity/ folder: each
    architecture's short vs long proxy accuracy (means over seeds) and the rank statistics.
    A table the report cannot read leaves the section out (with a note where it says why)."""
    found = [p for p in (view.run.path / "fidelity.csv",
                         view.run.path / "fidelity" / "fidelity.csv") if p.is_file()]
    if not found:
        return []
    try:
        table = pd.read_csv(found[0])
    except (OSError, ValueError):  # binary or torn: the report goes on without the section
        return []
    if not {"arch_id", "setting", "accuracy"} <= set(table.columns):
        return []
    if "status" in table:
        table = table[table["status"] == "ok"]
    accuracy = pd.to_numeric(table["accuracy"], errors="coerce")
    if accuracy.isna().any():  # hand-edited: say which value, not a traceback
        bad = table["accuracy"][accuracy.isna()].iloc[0]
        return [(FIDELITY_HEADING, f"<p>left out: {html.escape(str(found[0]))}: column "
                 f"accuracy holds {html.escape(repr(bad))}, not a number</p>")]
    means = table.assign(accuracy=accuracy).groupby(["arch_id", "setting"])["accuracy"]
    means = means.mean().unstack()
    if not {"short", "long"} <= set(means.columns):
        return []
    stats = _fidelity_stats(found[0].with_suffix(".json"))
    tau = stats.get("kendall_tau")
    title = "proxy fidelity" + (f": Kendall tau {tau:.2f}"
                                if isinstance(tau, (int, float)) else "")
    img = _img(plots.scatter_figure(means, "short", "long", title), "proxy fidelity")
    rows = list(stats.items())
    return [(FIDELITY_HEADING, img + (_html_table(["figure", "value"], rows) if rows else ""))]


def _fidelity_stats(summary: Path) -> dict:
    """fidelity.json's figures ({} when it is missing or unreadable)."""
    try:
        stats = json.loads(summary.read_text()) if summary.is_file() else {}
    except (OSError, ValueError):
        stats = {}
    return stats if isinstance(stats, dict) else {}


def top_table(view: RunView, k: int = TOP_K) -> str:
    """The best K scored trials with their timm block strings."""
    best = ranked(view.trials).head(k)
    extra = [c for c in ("alpha", "beta", "gamma", "latency_ms") if c in best]
    head = ["rank", "trial", "status", "accuracy", "FLOPs (M)", "params (M)", *extra,
            "reward", "timm block strings"]
    rows = []
    for rank, row in enumerate(best.itertuples(), 1):
        strings = timm_strings(Arch.from_yaml(row.arch))
        cells = [rank, row.trial_id, row.status, f"{row.accuracy:.4f}",
                 f"{row.flops / 1e6:,.1f}", f"{row.params / 1e6:.2f}",
                 *(_number(getattr(row, c)) for c in extra), f"{row.reward:.4f}",
                 f"<code>{html.escape(strings)}</code>"]
        rows.append(cells)
    return _html_table(head, rows, escape_last=False)


def confirmed_section(view: RunView) -> list[str]:
    """"Confirmed candidates": each one's mean accuracy over its seeds with the 95% interval,
    whether #1 stands clear of #2, and the reference trained alike (if any); nothing without
    confirmation."""
    table = view.confirmed
    if not len(table):
        return []
    compared = run_comparison(view.trials, view.config)
    return ["<h2>Confirmed candidates</h2>",
            "<p>The search's top candidates retrained with seeds of their own, outside the "
            "budget; ranked by the reward of their mean accuracy (Student-t 95% intervals).</p>",
            _html_table(list(CONFIRMED_HEADERS), confirmed_cells(table)),
            *(f"<p>{html.escape(line)}</p>" for line in [
                winner_line(table), *(reference_lines(compared) if compared else [])])]


def timm_strings(arch: Arch) -> str:
    """timm's `arch_def` of `arch`, flattened; the same notation, flagged, where timm would
    build a different network (search_space.timm_format says why)."""
    try:
        return " ".join(s for stage in timm_arch_def(arch) for s in stage)
    except SpecError as err:
        return " ".join(block_strings(arch)) + f" (not exact in timm: {err.reason})"


def cost_table(view: RunView) -> str:
    """Compute spent and what did not count: failed, diverged, rejected proposals."""
    df = view.trials
    counts = df["status"].value_counts().to_dict()
    rejected = int((view.proposals["status"] == "rejected").sum())
    seconds = df["train_seconds"].astype(float)
    span = float(df["finished_at"].astype(float).max()) - view.start
    rows = [("trials finished", f"{len(df)} of {view.budget}"),
            *((f"status {status}", n) for status, n in sorted(counts.items())),
            ("proposals rejected (FLOPs outside the band, not trained)", rejected),
            ("CPU-seconds (training time x CPUs per trial)",
             f"{float((seconds * df['cpus'].astype(float)).sum()):,.0f}"),
            ("GPU-seconds (training time x GPUs per trial)",
             f"{float((seconds * df['gpus'].astype(float)).sum()):,.0f}"),
            ("wall-clock from the first proposal to the last finished trial",
             f"{span / 60:,.1f} min")]
    return _html_table(["", ""], rows)


def _number(value) -> str:
    return "-" if value is None or pd.isna(value) else f"{float(value):g}"


def _html_table(head: list[str], rows: list, escape_last: bool = True) -> str:
    def cell(value, i, n):
        text = str(value)
        return text if (i == n - 1 and not escape_last) else html.escape(text)

    lines = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        lines.append("<tr>" + "".join(f"<td>{cell(v, i, len(row))}</td>"
                                      for i, v in enumerate(row)) + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)


STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
code, pre { font-size: 0.85em; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em; }
"""


def render(view: RunView, top_k: int = TOP_K) -> str:
    """The whole page."""
    name = html.escape(view.config.name)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>nas-search report: "
             f"{name}</title><style>{STYLE}</style></head><body>",
             f"<h1>nas-search report: {name}</h1>",
             f"<p>{html.escape(str(view.run.path))}<br>{html.escape(run_state(view))}<br>"
             f"made {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; FLOPs are "
             f"{html.escape(FLOPS_CONVENTION)}</p>"]
    for heading, img in figures(view):
        parts += [f"<h2>{html.escape(heading)}</h2>", img]
    parts += confirmed_section(view)
    parts += [f"<h2>Top {top_k} by reward</h2>",
              "<p>timm block strings: timm's <code>arch_def</code>, one string per stage "
              "(<code>search_space.timm_format.timm_arch_def</code>).</p>",
              top_table(view, top_k),
              "<h2>Cost</h2>", cost_table(view),
              "<h2>Config</h2>",
              f"<pre>{html.escape((view.run.path / 'config.yaml').read_text())}</pre>",
              "</body></html>"]
    return "\n".join(parts)


def write_report(run_dir: str | Path, out: str | Path | None = None, top_k: int = TOP_K,
                 budget_of: Callable[[SearchConfig], int] = planned_trials) -> Path:
    """Write the report (default RUN_DIR/report.html) and return its path."""
    view = read_run(run_dir, budget_of)
    path = Path(out) if out else view.run.path / "report.html"
    text = render(view, top_k)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SpecError("--out", str(path), f"cannot create its folder ({err.strerror})") from None
    return write_output(path, lambda target: target.write_text(text), "--out",
                        protect=view.run.path if out else None)
