"""Running a study: its jobs through the engine, its rows back, its files out.

A study (`nas-search fidelity`, `nas-search compare`) is a fixed list of trainings recorded in its
own run directory: its study file (what it was asked for), one Ray trial per job through the
search machinery (`status` works, a killed study resumes), and its results as a CSV of rows and a
JSON of figures (plus a PNG where it plots), each written whole or not at all.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from nas.config import SearchConfig
from nas.ledger.run_dir import RunDir
from nas.outputs.files import write_output
from nas.studies.enumerated import Entry, EnumeratedSpace
from search_space import Arch

OPTION = "--output"  # the flag that names a study's folder, for errors writing there


class RecordedStudy(Protocol):
    """What a recorded study gives its runner: the run's config, its jobs, its file."""

    config: SearchConfig

    def specs(self, folder: Path) -> list[Entry]: ...

    def to_yaml(self) -> str: ...


def run_config(config: SearchConfig, name: str, jobs: int) -> SearchConfig:
    """The config a study's run records: one trial per job (each job says how it is
    evaluated), no early stopping."""
    return dataclasses.replace(
        config, name=name, budget=dataclasses.replace(config.budget, num_samples=jobs),
        early_stopping=dataclasses.replace(config.early_stopping, asha=False),
        evaluator="proxy")


def run_study(kind: str, study: RecordedStudy, study_file: str, reference: Arch, output: Path,
              progress: Callable[[str], None] = print,
              prepare: Callable[[Path], None] | None = None) -> RunDir:
    """Train every job of `study` not yet journaled in `output` (created with its study file if
    new); `prepare` is called with the folder first (e.g. to train the jobs' supernets there)."""
    import controllers
    from nas.engine.runner import search

    jobs = study.specs(output)
    space = EnumeratedSpace(jobs, reference, study.config.proxy)
    config = run_config(study.config, f"{kind}-{study.config.name}", len(jobs))
    if not (output / "config.yaml").is_file():
        RunDir.create(output, config.to_yaml(), {"reference.yaml": reference.to_yaml(),
                                                 study_file: study.to_yaml()})
    if prepare is not None:  # minutes of work: after the checks `search` makes before Ray
        from nas.engine.preflight import preflight

        preflight(config)
        prepare(output)
    parts = (space, controllers.make("grid", space), len(jobs))
    return search(config, output, resume=True, progress=progress, parts=parts)


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
