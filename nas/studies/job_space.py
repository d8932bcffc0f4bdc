"""A fixed list of trainings run as a search: one Ray trial per job, through a run directory.

`nas-search fidelity` and `nas-search compare` train known architectures under known settings.
Like the scaling grid (`grid`), they reuse the search machinery (Ray trials, run directory,
journal, `status`, `load_results`, resuming a killed run): `JobSpace` is a space of one decision,
which job; the grid controller proposes the jobs in order; each row gets the job's columns
(`row_fields`); and the trial config carries the job's changes to the run's proxy config
(`trial_config`: a seed, a longer schedule), which `nas.engine.trial.run_trial` applies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.config import SearchConfig
from nas.ledger.run_dir import RunDir
from objectives import ProxyConfig
from search_space import Arch
from search_space.errors import SpecError
from search_space.yaml_file import read_yaml


@dataclass(frozen=True)
class JobSpec:
    """One training: the arch (its name unique among the jobs), columns, proxy config."""

    arch: Arch
    fields: dict[str, Any] = field(default_factory=dict)
    proxy: ProxyConfig | None = None  # None: the run's proxy config as it is
    supernet: dict[str, Any] | None = None  # score with this trained supernet (`supernet_score`)


class JobSpace:
    """Jobs seen as a space of one decision; decodes to each job's architecture."""

    flops_band = (None, None)

    def __init__(self, jobs: list[JobSpec], reference: Arch, proxy: ProxyConfig):
        self.jobs, self.reference, self.proxy = jobs, reference, proxy
        self.cardinalities = (len(jobs),)
        # several jobs train one arch: Arch equality ignores the name, so key by both
        self._index = {(j.arch, j.arch.name): i for i, j in enumerate(jobs)}
        if len(self._index) != len(jobs):
            raise ValueError("job architectures need unique names")

    def decode(self, tokens: list[int]) -> Arch:
        return self.jobs[tokens[0]].arch

    def encode(self, arch: Arch) -> list[int]:
        if (arch, arch.name) not in self._index:
            raise SpecError("arch", arch.name, "is not one of this run's jobs")
        return [self._index[(arch, arch.name)]]

    def in_band(self, arch: Arch) -> bool:
        return True

    def row_fields(self, tokens: list[int]) -> dict[str, Any]:
        return dict(self.jobs[tokens[0]].fields)

    def trial_config(self, tokens: list[int]) -> dict[str, Any]:
        """The job's changes to the run's proxy config, and its supernet if it is scored by
        one, applied inside the trial."""
        job = self.jobs[tokens[0]]
        config = {"supernet": dict(job.supernet)} if job.supernet else {}
        if job.proxy is None:
            return config
        base, own = dataclasses.asdict(self.proxy), dataclasses.asdict(job.proxy)
        return {**config, "proxy": {k: v for k, v in own.items() if base[k] != v}}


def run_config(config: SearchConfig, name: str, jobs: int) -> SearchConfig:
    """The config a job run records: one trial per job (each job says how it is evaluated),
    no early stopping."""
    return dataclasses.replace(
        config, name=name, budget=dataclasses.replace(config.budget, num_samples=jobs),
        early_stopping=dataclasses.replace(config.early_stopping, asha=False),
        evaluator="proxy")


def run_jobs(config: SearchConfig, space: JobSpace, output: Path, files: dict[str, str],
             progress: Callable[[str], None] = print,
             prepare: Callable[[Path], None] | None = None) -> RunDir:
    """Train every job not yet journaled in `output` (created with `files` if new); `prepare`
    is called with the run directory first (e.g. to train the jobs' supernets there)."""
    import controllers
    from nas.engine.runner import search

    if not (output / "config.yaml").is_file():
        RunDir.create(output, config.to_yaml(),
                      {"reference.yaml": space.reference.to_yaml(), **files})
    if prepare is not None:  # minutes of work: after the checks `search` makes before Ray
        from nas.engine.preflight import preflight

        preflight(config)
        prepare(output)
    parts = (space, controllers.make("grid", space), len(space.jobs))
    return search(config, output, resume=True, progress=progress, parts=parts)


def read_study(path: Path, build: Callable[[Any], Any]) -> Any:
    """`build(data)` of the study file at `path` (YAML, safe loader); a file it cannot build
    from (emptied, hand-edited, another program's) is one error line naming it."""
    data = read_yaml(path, path.name)
    try:
        return build(data)
    except SpecError as err:  # a field of the saved config: say which file holds it
        raise SpecError(err.field, err.value, err.reason, err.source or str(path)) from None
    except (TypeError, KeyError, ValueError, AttributeError, IndexError):
        raise SpecError(path.name, str(path), "damaged: not a study nas-search saved") from None
