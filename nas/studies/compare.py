"""The reproduction experiment: a search's top architectures against a reference, one recipe.

`nas-search compare RUN_DIR --reference ARCH` trains the run's top K architectures (by reward,
distinct block tables) and the reference with the run's proxy config at a longer schedule
(``--epochs``), S seeds each, as Ray trials of one run directory (`study_run`). Every job
differs only in its architecture and seed: same data, split, epochs and recipe.

The candidates are confirmation's (`nas.ledger.confirmed.top_candidates`: the K best distinct
by search reward) and so is the statistic (`interval`: mean, std, n, Student-t 95% interval),
so a comparison is a confirmation with a reference trained alike.

Written to the compare directory: ``compare.csv`` (one row per training), ``compare.json`` (per
candidate: accuracy mean, std, n and 95% interval over seeds, FLOPs, params, reward of the mean
accuracy, the search's own proxy reward, and which found architectures beat the reference at
no more FLOPs).
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from nas.config import ObjectiveConfig, SearchConfig
from nas.ledger.confirmed import interval, top_candidates
from nas.ledger.results import load_results
from nas.ledger.run_dir import RunDir
from nas.schema import from_data, to_data
from nas.studies.enumerated import Entry
from nas.studies.study_dir import default_output, read_study, recorded_in, reopen, same_study
from nas.studies.study_run import study_rows
from search_space import Arch, load_arch
from search_space.errors import SpecError
from search_space.validators import integer

STUDY_FILE = "compare-study.yaml"
REFERENCE = "reference"
CSV_COLUMNS = ("candidate", "seed", "status", "accuracy", "train_seconds", "flops", "params",
               "search_reward", "arch_name")


@dataclass(frozen=True)
class Comparison:
    """The candidates (top1..topK, then the reference), the recipe config and the seeds."""

    config: SearchConfig  # the run's config with the comparison's epochs
    labels: tuple[str, ...]
    archs: tuple[Arch, ...]
    search_rewards: tuple[float | None, ...]
    seeds: int
    top: int = 0  # the --top asked for (the run may have had fewer distinct archs)

    def specs(self, folder: Path | None = None) -> list[Entry]:
        """One `Entry` per (candidate, seed): every one trained alike but for its seed."""
        proxy = self.config.proxy
        return [Entry(arch.replace(name=f"compare-{label}-s{seed}"),
                      {"candidate": label, "seed": seed, "arch_name": arch.name,
                       "search_reward": reward},
                      dataclasses.replace(proxy, seed=proxy.seed + seed))
                for label, arch, reward in zip(self.labels, self.archs, self.search_rewards,
                                               strict=True)
                for seed in range(self.seeds)]

    def to_yaml(self) -> str:
        return yaml.safe_dump({
            "config": to_data(self.config), "seeds": self.seeds, "top": self.top,
            "candidates": [{"label": lab, "search_reward": r, "arch": a.to_dict()}
                           for lab, a, r in zip(self.labels, self.archs, self.search_rewards,
                                                strict=True)]}, sort_keys=False)

    @classmethod
    def from_yaml(cls, path: Path) -> Comparison:
        def build(data: Any) -> Comparison:
            rows = data["candidates"]
            return cls(from_data(SearchConfig, data["config"]), tuple(r["label"] for r in rows),
                       tuple(Arch.from_dict(r["arch"]) for r in rows),
                       tuple(r["search_reward"] for r in rows),
                       integer("seeds", data["seeds"], minimum=1),
                       integer("top", data.get("top", len(rows) - 1), minimum=1))

        return read_study(path, build)


def make_comparison(run_dir: Path, reference: Arch, top: int, epochs: int | None,
                    seeds: int, overrides: list[str | tuple[str, str]] = ()) -> Comparison:
    """The run's top `top` distinct archs and `reference`, at `epochs` (default 3x the proxy)."""
    from nas.config import load_config

    run = RunDir.open(run_dir)
    config = load_config(str(run.path / "config.yaml"), list(overrides))
    for name, value, low in (("--top", top, 1), ("--seeds", seeds, 1),
                             ("--epochs", epochs, 1)):
        if value is not None and value < low:
            raise SpecError(name, value, f"must be >= {low}")
    best = top_candidates(load_results(run.path), top)  # confirmation's choice, to the letter
    found: dict[Arch, float] = {}
    for row in best.itertuples():
        found.setdefault(Arch.from_yaml(row.arch), float(row.reward))
    if not found:
        raise SpecError("RUN_DIR", str(run_dir), "has no scored trial to compare")
    _check_skeleton(reference, next(iter(found)))
    epochs = epochs or 3 * config.proxy.epochs
    proxy = dataclasses.replace(config.proxy, epochs=epochs)
    config = dataclasses.replace(config, proxy=proxy)
    labels = tuple(f"top{i}" for i in range(1, len(found) + 1)) + (REFERENCE,)
    return Comparison(config, labels, (*found, reference), (*found.values(), None), seeds, top)


def _check_skeleton(reference: Arch, found: Arch) -> None:
    """The reference must be trained at the same proxy size as the found archs."""
    if reference.resolution != found.resolution:
        raise SpecError("--reference", reference.name or "ARCH", f"is meant for "
                        f"{reference.resolution} px but the run's architectures for "
                        f"{found.resolution} px: compare within one skeleton (e.g. a b0-small "
                        "run with efficientnet-b0-small)")


def compare_rows(run_dir: Path) -> pd.DataFrame:
    """The comparison's finished trainings, as compare.csv holds them (unsorted)."""
    return study_rows(run_dir, CSV_COLUMNS)


def compare_table(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(["candidate", "seed"])


def summarize(rows: pd.DataFrame, objective: ObjectiveConfig,
              labels: tuple[str, ...]) -> dict[str, Any]:
    """Per candidate: accuracy mean, std, n and 95% interval over ok seeds (confirmation's
    statistic, `nas.ledger.confirmed.interval`), FLOPs, params, rewards; who beats whom."""
    candidates = [_candidate(rows[rows["candidate"] == label], label, objective)
                  for label in labels]
    ref = candidates[-1]
    beats = [c["candidate"] for c in candidates[:-1]
             if None not in (c["accuracy_mean"], ref["accuracy_mean"])
             and c["accuracy_mean"] > ref["accuracy_mean"] and c["flops"] <= ref["flops"]]
    return {"candidates": candidates, "beats_reference": beats,
            "any_beats_reference": bool(beats)}


def _candidate(mine: pd.DataFrame, label: str, objective: ObjectiveConfig) -> dict[str, Any]:
    stats = interval(mine[mine["status"] == "ok"]["accuracy"])
    mean = None if stats["n"] == 0 else stats["accuracy_mean"]
    first = mine.iloc[0] if len(mine) else None
    flops = int(first["flops"]) if first is not None else None

    def known(key: str) -> float | None:  # JSON has no NaN: an unknown figure is null
        return None if pd.isna(stats[key]) else stats[key]

    return {"candidate": label, "arch": None if first is None else first["arch_name"],
            "seeds_ok": stats["n"], "n": stats["n"], "accuracy_mean": mean,
            "accuracy_std": known("accuracy_std"), "ci95_low": known("ci95_low"),
            "ci95_high": known("ci95_high"),
            "flops": flops, "params": None if first is None else int(first["params"]),
            "reward": objective.reward(mean, flops) if mean is not None else None,
            "search_reward": None if first is None or pd.isna(first["search_reward"])
            else float(first["search_reward"])}


def summary_table(summary: dict[str, Any]) -> str:
    from nas.outputs.table import format_table, millions

    def num(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    def ci(c: dict[str, Any]) -> str:
        return ("-" if c.get("ci95_low") is None
                else f"[{c['ci95_low']:.4f}, {c['ci95_high']:.4f}]")

    rows = [(c["candidate"], c["arch"] or "-", c.get("n", c["seeds_ok"]),
             num(c["accuracy_mean"], ".4f"), num(c["accuracy_std"], ".4f"), ci(c),
             millions(c["flops"]) if c["flops"] else "-",
             f"{c['params'] / 1e6:.2f}M" if c["params"] else "-", num(c["reward"], ".4f"),
             num(c["search_reward"], ".4f"))
            for c in summary["candidates"]]
    return format_table(("candidate", "arch", "n", "acc mean", "acc std", "95% interval",
                         "FLOPs", "params", "reward", "search reward"), rows)


def verdict(summary: dict[str, Any]) -> str:
    """Whether a found architecture beats the reference, in words."""
    ref = summary["candidates"][-1]["arch"]
    if summary["any_beats_reference"]:
        return (f"found architectures that beat {ref} at no more FLOPs: "
                f"{', '.join(summary['beats_reference'])}")
    return f"no found architecture beats {ref} at no more FLOPs"


def open_comparison(args: argparse.Namespace,
                    overrides: list[str | tuple[str, str]]) -> tuple[Comparison, Path, bool]:
    """(comparison, its folder, whether it resumes) for `nas-search compare`: the comparison
    recorded in RUN_DIR itself or in the output folder resumes; else a new one starts."""
    output = Path(args.output) if args.output else default_output("compare", Path(args.run_dir))
    resume_dir = recorded_in(STUDY_FILE, (args.run_dir, output))
    if resume_dir is None:
        return _asked(args, overrides), output, False
    recorded = Comparison.from_yaml(resume_dir / STUDY_FILE)
    asked = (lambda: _asked(args, overrides)) if args.reference else None
    comparison = reopen(recorded, args, args.run_dir, resume_dir,
                        _given_flags(args, recorded), asked, _same_comparison)
    return comparison, resume_dir, True


def _asked(args: argparse.Namespace, overrides: list[str | tuple[str, str]]) -> Comparison:
    if not args.reference:
        raise SpecError("--reference", None, "required: the architecture to beat")
    return make_comparison(Path(args.run_dir), load_arch(args.reference),
                           3 if args.top is None else args.top, args.epochs,
                           2 if args.seeds is None else args.seeds, overrides)


def _given_flags(args: argparse.Namespace, recorded: Comparison) -> dict:
    """flag -> (the value given or None, the recorded one), for `resumed`."""
    kept = recorded.archs[-1]
    other = args.reference and not _same_table(load_arch(args.reference), kept)
    return {"--top": (args.top, recorded.top), "--seeds": (args.seeds, recorded.seeds),
            "--epochs": (args.epochs, recorded.config.proxy.epochs),
            "--reference": (args.reference if other else None, kept.name or "another arch")}


def _same_comparison(recorded: Comparison, asked: Comparison, output: Path) -> Comparison:
    """`asked` must be `recorded` (the reference under any name, the cluster aside)."""
    if _same_table(asked.archs[-1], recorded.archs[-1]):
        asked = dataclasses.replace(asked, archs=(*asked.archs[:-1], recorded.archs[-1]))
    return same_study(recorded, asked, "compare", output, {
        "--top": (asked.top, recorded.top), "--seeds": (asked.seeds, recorded.seeds),
        "--epochs": (asked.config.proxy.epochs, recorded.config.proxy.epochs),
        "--reference": (asked.archs[-1], recorded.archs[-1])})


def _same_table(a: Arch, b: Arch) -> bool:
    """A reference is the same block table under any name."""
    return a.replace(name="") == b.replace(name="")
