"""A search's confirmed candidates against a reference trained alike (`nas-search compare`).

The reference (``confirm.reference``) is one more candidate of the confirmation: the same
recipe, the same seeds, the same statistic (`nas.ledger.confirmed.interval`). So a comparison
is the confirmed table plus one row, and one verdict: which found architectures beat the
reference at no more FLOPs, and which of them beyond both 95% intervals.

Written to the run directory whenever its config names a reference: ``compare.json`` (per
candidate: n, accuracy mean, std and 95% interval, FLOPs, params, the reward of the mean, the
search's own reward; then who beats the reference).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from nas.config import ObjectiveConfig, SearchConfig
from nas.ledger.confirmed import confirmed, reference_key, reference_stats
from nas.ledger.run_dir import RunDir
from nas.outputs.table import format_table, millions
from search_space.atomic_file import atomic_write
from search_space.errors import SpecError

COMPARE_FILE = "compare.json"
REFERENCE = "reference"


def run_comparison(df: pd.DataFrame, config: SearchConfig) -> dict[str, Any] | None:
    """`comparison` for a run whose config names a reference; None when it names none (or
    its space no longer holds it: the search said so when it started)."""
    try:
        key = reference_key(config)
    except SpecError:
        return None
    if key is None:
        return None
    name = config.confirm.reference_arch().name or REFERENCE
    return comparison(df, config.objective, key, name)


def comparison(df: pd.DataFrame, objective: ObjectiveConfig, key: tuple,
               name: str = REFERENCE) -> dict[str, Any]:
    """The confirmed candidates (``top1``.. by the reward of their mean), then the reference
    (candidate `key`, called `name`); `beats_reference`: those with a higher mean accuracy at
    no more FLOPs, `clearly_beats_reference`: those of them whose interval lies above the
    reference's."""
    table = confirmed(df, objective)
    candidates = [_entry(f"top{row['rank']}", row) for row in table.to_dict("records")]
    ref = reference_stats(df, objective, key)
    reference = {**_entry(REFERENCE, ref or {"tokens": key, "n": 0}), "arch": name}
    beats = [c for c in candidates if _beats(c, reference)]
    return {"candidates": [*candidates, reference],
            "beats_reference": [c["candidate"] for c in beats],
            "clearly_beats_reference": [c["candidate"] for c in beats
                                        if _above(c, reference)],
            "any_beats_reference": bool(beats)}


def _entry(label: str, stats: dict[str, Any]) -> dict[str, Any]:
    """One candidate as compare.json holds it (JSON has no NaN: unknown figures are null)."""
    def known(name: str) -> Any:
        value = stats.get(name)
        return None if value is None or (isinstance(value, float) and math.isnan(value)) \
            else value

    flops, params = known("flops"), known("params")
    return {"candidate": label, "arch": known("name"), "tokens": list(stats["tokens"]),
            "n": int(stats["n"]), "accuracy_mean": known("accuracy_mean"),
            "accuracy_std": known("accuracy_std"), "ci95_low": known("ci95_low"),
            "ci95_high": known("ci95_high"),
            "flops": None if flops is None else int(flops),
            "params": None if params is None else int(params),
            "reward": known("reward"), "search_reward": known("search_reward")}


def _beats(candidate: dict[str, Any], reference: dict[str, Any]) -> bool:
    mine, theirs = candidate["accuracy_mean"], reference["accuracy_mean"]
    return None not in (mine, theirs, reference["flops"]) and mine > theirs \
        and candidate["flops"] <= reference["flops"]


def _above(candidate: dict[str, Any], reference: dict[str, Any]) -> bool:
    low, high = candidate["ci95_low"], reference["ci95_high"]
    return None not in (low, high) and low > high


def write_comparison(run: RunDir, config: SearchConfig) -> None:
    """RUN_DIR/compare.json when the config names a reference, whole or not at all."""
    summary = run_comparison(run.table(), config)
    if summary is None or not summary["candidates"][-1]["n"]:
        return
    text = json.dumps(summary, indent=2)
    atomic_write(run.path / COMPARE_FILE, lambda p: p.write_text(text, encoding="utf-8"))


def comparison_table(summary: dict[str, Any]) -> str:
    def num(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    def ci(c: dict[str, Any]) -> str:
        return "-" if c["ci95_low"] is None else f"[{c['ci95_low']:.4f}, {c['ci95_high']:.4f}]"

    rows = [(c["candidate"], c["arch"] or "-", c["n"], num(c["accuracy_mean"], ".4f"),
             num(c["accuracy_std"], ".4f"), ci(c), millions(c["flops"]) if c["flops"] else "-",
             f"{c['params'] / 1e6:.2f}M" if c["params"] else "-", num(c["reward"], ".4f"),
             num(c["search_reward"], ".4f"))
            for c in summary["candidates"]]
    return format_table(("candidate", "arch", "n", "acc mean", "acc std", "95% interval",
                         "FLOPs", "params", "reward", "search reward"), rows)


def verdict(summary: dict[str, Any]) -> str:
    """Whether a found architecture beats the reference, in words."""
    ref = summary["candidates"][-1]["arch"] or REFERENCE
    if not summary["any_beats_reference"]:
        return f"no found architecture beats {ref} at no more FLOPs"
    clearly = summary["clearly_beats_reference"]
    beyond = (f"; beyond both 95% intervals: {', '.join(clearly)}" if clearly
              else "; none beyond both 95% intervals (more seeds would tell)")
    return (f"found architectures that beat {ref} at no more FLOPs: "
            f"{', '.join(summary['beats_reference'])}{beyond}")


def reference_lines(summary: dict[str, Any]) -> list[str]:
    """The reference's statistics and the verdict, for the end-of-run summary."""
    ref = summary["candidates"][-1]
    if not ref["n"]:
        return [f"reference {ref['arch']}: not trained yet"]
    std = "-" if ref["accuracy_std"] is None else f"{ref['accuracy_std']:.4f}"
    ci = "" if ref["ci95_low"] is None else \
        f", 95% interval [{ref['ci95_low']:.4f}, {ref['ci95_high']:.4f}]"
    return [f"reference {ref['arch']}, trained alike: n {ref['n']}, accuracy "
            f"{ref['accuracy_mean']:.4f} +- {std}{ci}, reward of mean {ref['reward']:.4f}",
            verdict(summary)]
