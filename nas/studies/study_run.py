"""Running a study: its jobs through the engine, its rows back, its files out.

A study (`nas-search fidelity`) is a fixed list of trainings recorded in its own run directory:
its study file (what it was asked for), one Ray trial per job through the search machinery
(`status` works, a killed study resumes), and its results as a CSV of rows and a JSON of figures
(plus a PNG where it plots), each written whole or not at all.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from nas.config import ConfirmConfig, SearchConfig
from nas.ledger.run_dir import SCORED, RunDir
from nas.outputs.files import write_output
from nas.studies.enumerated import Entry, EnumeratedSpace
from objectives import ProxyConfig
from search_space import Arch
from search_space.errors import RunFailed, SpecError
from search_space.yaml_file import read_yaml

OPTION = "--output"  # the flag that names a study's folder, for errors writing there


class RecordedStudy(Protocol):
    """What a recorded study gives its runner: the run's config, its jobs, its file."""

    config: SearchConfig

    def specs(self, folder: Path) -> list[Entry]: ...

    def to_yaml(self) -> str: ...


def run_config(config: SearchConfig, name: str, jobs: int) -> SearchConfig:
    """The config a study's run records: one trial per job (each job says how it is
    evaluated), no early stopping, no confirmation."""
    return dataclasses.replace(
        config, name=name, budget=dataclasses.replace(config.budget, num_samples=jobs),
        early_stopping=dataclasses.replace(config.early_stopping, asha=False),
        evaluator="proxy", confirm=ConfirmConfig())  # a study confirms nothing


def run_study(kind: str, study: RecordedStudy, study_file: str, reference: Arch, output: Path,
              progress: Callable[[str], None] = print,
              prepare: Callable[[Path], None] | None = None) -> RunDir:
    """Train every job of `study` not yet journaled in `output` (created with its study file if
    new); `prepare` is called with the folder first (e.g. to train the jobs' supernets there).
    A study whose jobs all failed is a `RunFailed` giving their most common reason."""
    import controllers
    from nas.engine.runner import search

    jobs = study.specs(output)
    space = EnumeratedSpace(jobs, reference, study.config.proxy)
    config = run_config(study.config, f"{kind}-{study.config.name}", len(jobs))
    refuse_foreign(output, study_file, kind)
    preflight_jobs(config, jobs)  # before the folder is made: a setting that cannot run
    if not (output / "config.yaml").is_file():
        RunDir.create(output, config.to_yaml(), {"reference.yaml": reference.to_yaml(),
                                                 study_file: study.to_yaml()})
    if prepare is not None:  # minutes of work: after the checks `search` makes before Ray
        prepare(output)
    parts = (space, controllers.make("grid", space), len(jobs))
    run = search(config, output, resume=True, progress=progress, parts=parts)
    check_some_scored(run, kind)
    return run


def refuse_foreign(output: Path, study_file: str, kind: str) -> None:
    """A folder holding a run directory without this study's file holds another search or
    study: say which, by name, before its journal or state is read as this study's."""
    if not (output / "config.yaml").is_file() or (output / study_file).is_file():
        return
    studies = sorted(p.name.removesuffix("-study.yaml") for p in output.glob("*-study.yaml"))
    held = f"a {studies[0]} study" if studies else f"another search ({_run_name(output)})"
    raise SpecError(OPTION, str(output), f"holds {held}, not a {kind} study: choose another "
                    "--output")


def _run_name(folder: Path) -> str:
    """How a run directory's config names it: 'NAME', or the scaling grid 'NAME'."""
    try:
        data = read_yaml(folder / "config.yaml", "config.yaml")
    except SpecError:
        data = None
    if not isinstance(data, dict):
        return "its config.yaml unreadable"
    name = f"'{data.get('name', 'unnamed')}'"
    return f"the scaling grid {name}" if data.get("grid") else name


def preflight_jobs(config: SearchConfig, jobs: Sequence[Entry]) -> None:
    """Every proxy config the jobs train under, checked as a run's (`preflight`): a setting
    that cannot run fails here, not in each of its trials."""
    from nas.engine.preflight import preflight

    checked: list[ProxyConfig] = []
    for entry in jobs:
        proxy = dataclasses.replace(entry.proxy or config.proxy, seed=config.proxy.seed)
        if proxy not in checked:
            checked.append(proxy)
            preflight(dataclasses.replace(config, proxy=proxy))


def check_some_scored(run: RunDir, kind: str) -> None:
    """Every job of the study failed: nothing to compare, and the shared reason says why."""
    rows = [r for r in run.rows() if r["status"] != "rejected"]
    if not rows or any(r["status"] in SCORED for r in rows):
        return
    reasons = Counter(_first_line(r["reason"]) or r["status"] for r in rows)
    reason, count = reasons.most_common(1)[0]
    raise RunFailed(f"every one of the {len(rows)} {kind} jobs in {run.path} failed ({count} "
                    f"of them with: {reason}); fix that, then start the study again with "
                    "another --output")


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0][:200] if lines else ""


def study_rows(run_dir: Path, columns: Sequence[str],
               rename: dict[str, str] | None = None) -> pd.DataFrame:
    """The study's finished jobs, as `columns` of its rows (after `rename`: old -> new)."""
    from nas.ledger.results import load_results

    df = load_results(run_dir)
    if not len(df):
        return pd.DataFrame(columns=list(columns))
    if rename:
        df = df.drop(columns=[c for c in rename.values() if c in df]).rename(columns=rename)
    return df[list(columns)]


def write_study_files(out: Path, stem: str, table: pd.DataFrame, figures: dict[str, Any],
                      figure: Any | None = None) -> list[Path]:
    """STEM.csv (`table`), STEM.json (`figures`) and, given a matplotlib `figure`, STEM.png in
    `out`: each written whole or not at all."""
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(figures, indent=2) + "\n"
    written = [write_output(out / f"{stem}.csv", lambda tmp: table.to_csv(tmp, index=False),
                            OPTION),
               write_output(out / f"{stem}.json", lambda tmp: tmp.write_text(text), OPTION)]
    if figure is None:
        return written
    import matplotlib.pyplot as plt

    try:
        png = write_output(out / f"{stem}.png", lambda tmp: figure.savefig(tmp, dpi=100), OPTION)
    finally:
        plt.close(figure)
    return written + [png]
