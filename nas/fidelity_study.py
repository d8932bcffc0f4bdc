"""A fidelity study: which architectures, the short and long proxy configs, the seeds.

Each (arch, setting, seed) is one job, trained as one Ray trial of a run directory through
`nas.job_space` (so `status` works and a killed study resumes); each row carries the job's
`arch_id`, `setting` and `seed`, and its proxy config is the setting's with seed + `seed`.

The study is saved as ``fidelity-study.yaml`` in its run directory, so `nas-search fidelity DIR`
on that directory rebuilds the same jobs and resumes.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from nas.config import SearchConfig, config_path, load_config
from nas.fidelity import CSV_COLUMNS, Job, make_jobs, sample_archs, spread_ranks
from nas.job_space import JobSpec, read_study
from nas.run_dir import SCORED, RunDir
from nas.schema import from_data, to_data
from objectives import ProxyConfig
from search_space import Arch
from search_space.errors import SpecError

STUDY_FILE = "fidelity-study.yaml"


@dataclass(frozen=True)
class Study:
    """What a fidelity study trains: architectures, the two settings' proxies, seeds."""

    config: SearchConfig  # the short setting's config; its proxy is the short proxy
    long_proxy: ProxyConfig
    archs: tuple[Arch, ...]
    tokens: tuple[tuple[int, ...], ...]  # each arch's tokens in its source space
    seeds: int
    long: tuple[str, ...]  # the --long overrides, for people reading the study file

    @property
    def jobs(self) -> list[Job]:
        return make_jobs(len(self.archs), self.seeds)

    def proxy(self, job: Job) -> ProxyConfig:
        base = self.config.proxy if job.setting == "short" else self.long_proxy
        return dataclasses.replace(base, seed=base.seed + job.seed)

    def specs(self) -> list[JobSpec]:
        """One `JobSpec` per job: the arch, its columns and its proxy config."""
        return [JobSpec(self.archs[j.arch_id].replace(name=_job_name(j)),
                        {"arch_id": j.arch_id, "setting": j.setting, "seed": j.seed,
                         "arch_tokens": list(self.tokens[j.arch_id])}, self.proxy(j))
                for j in self.jobs]

    def to_yaml(self) -> str:
        data = {"config": to_data(self.config), "long": list(self.long),
                "long_proxy": to_data(self.long_proxy), "seeds": self.seeds,
                "archs": [{"tokens": list(t), "arch": a.to_dict()}
                          for a, t in zip(self.archs, self.tokens, strict=True)]}
        return yaml.safe_dump(data, sort_keys=False)

    @classmethod
    def from_yaml(cls, path: Path) -> Study:
        return read_study(path, lambda data: cls(
            from_data(SearchConfig, data["config"]), from_data(ProxyConfig, data["long_proxy"]),
            tuple(Arch.from_dict(a["arch"]) for a in data["archs"]),
            tuple(tuple(a["tokens"]) for a in data["archs"]), int(data["seeds"]),
            tuple(data["long"])))


def _job_name(job: Job) -> str:
    return f"fidelity-a{job.arch_id}-{job.setting}-s{job.seed}"


def check_long(long: list[str]) -> None:
    """The --long overrides: at least one, each a proxy.* key."""
    if not long:
        raise SpecError("--long", None, "give at least one KEY=VALUE, e.g. proxy.epochs=6")
    for item in long:
        if not item.startswith("proxy."):
            raise SpecError("--long", item, "must change a proxy.* key (the settings differ "
                            "only in how each architecture is trained)")
        if "=" not in item:
            raise SpecError("--long", item, "must be KEY=VALUE, e.g. proxy.epochs=6")


def study_from_source(source: str, archs: int, seeds: int, long: list[str],
                      overrides: list[str]) -> tuple[Study, Any, Path | None]:
    """(study, its source space's reference arch, the run dir it came from or None)."""
    from nas.runner import build_space

    if archs < 2:
        raise SpecError("--archs", archs, "must be >= 2 (ranks need two architectures)")
    if seeds < 1:
        raise SpecError("--seeds", seeds, "must be >= 1")
    run_dir = Path(source) if Path(source).is_dir() else None
    path = RunDir.open(run_dir).path / "config.yaml" if run_dir else config_path(source)
    check_long(long)
    config = load_config(str(path), overrides)
    long_proxy = load_config(str(path), [*overrides, *long]).proxy
    if run_dir is None:
        space = build_space(config)
        picked = sample_archs(space, archs, config.seed)
        if len(picked) < archs:
            raise SpecError("--archs", archs, f"space {config.space} gave only {len(picked)} "
                            f"distinct architectures in {100 * archs} samples")
        tokens = [tuple(space.encode(a)) for a in picked]
        reference = space.reference
    else:
        picked, tokens = _from_run(RunDir(run_dir), archs)
        reference = Arch.from_yaml(run_dir / "reference.yaml") \
            if (run_dir / "reference.yaml").is_file() else picked[0]
    study = Study(config, long_proxy, tuple(picked), tuple(tokens), seeds, tuple(long))
    return study, reference, run_dir


def _from_run(run: RunDir, k: int) -> tuple[list[Arch], list[tuple[int, ...]]]:
    """`k` trained archs of a run, spread evenly over its reward ranks (best first)."""
    rows = [r for r in run.rows() if r["status"] in SCORED and r.get("reward") is not None]
    unique: dict[Arch, dict] = {}
    for row in sorted(rows, key=lambda r: -r["reward"]):
        unique.setdefault(Arch.from_yaml(row["arch"]), row)
    if len(unique) < 2:
        raise SpecError("RUN_DIR", str(run.path), f"has {len(unique)} scored architecture(s); "
                        "a fidelity study needs at least 2")
    ranked = list(unique.items())
    chosen = [ranked[i] for i in spread_ranks(len(ranked), k)]
    return [a for a, _ in chosen], [tuple(r["tokens"]) for _, r in chosen]


def fidelity_rows(run_dir: Path) -> pd.DataFrame:
    """The study's finished jobs as fidelity rows (`tokens`: the arch's, not the job's)."""
    from nas.results import load_results

    df = load_results(run_dir)
    if not len(df):
        return pd.DataFrame(columns=list(CSV_COLUMNS))
    df = df.drop(columns=["tokens"]).rename(columns={"arch_tokens": "tokens"})
    return df[list(CSV_COLUMNS)]


def default_output(study: Study, run_dir: Path | None) -> Path:
    if run_dir is not None:
        return run_dir / "fidelity"
    return Path("runs") / f"fidelity-{study.config.name}-{time.strftime('%Y%m%d-%H%M%S')}"

