"""A fidelity study: which architectures, the short and long settings, the seeds.

Each (arch, setting, seed) is one job, run as one Ray trial of a run directory through
`nas.studies.study_run` (so `status` works and a killed study resumes); each row carries the job's
`arch_id`, `setting` and `seed`, and its proxy config is the setting's with seed + `seed`.

A setting is how an architecture is evaluated: its `evaluator` (``proxy``: trained standalone;
``supernet``: scored with inherited weights), its proxy recipe and its supernet settings. With
``supernet``, one supernet per seed (proxy seed + `seed`) is trained in the driver before the
trials, at ``supernet-SETTING-sSEED.pt`` in the study's directory (per-epoch checkpoints: a
killed study resumes its training), and that setting's jobs score against it.

The study is saved as ``fidelity-study.yaml`` in its run directory, so `nas-search fidelity DIR`
on that directory rebuilds the same jobs and resumes (`open_study`).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from nas.config import (
    SearchConfig,
    apply_override,
    config_path,
    load_config,
    without_address,
)
from nas.ledger.confirmation import is_confirmation
from nas.ledger.run_dir import SCORED, RunDir
from nas.schema import from_data, to_data
from nas.studies.enumerated import Entry
from nas.studies.rank_agreement import CSV_COLUMNS, Job, make_jobs, sample_archs, spread_ranks
from nas.studies.study_dir import (
    Overrides,
    default_output,
    read_study,
    recorded_in,
    reopen,
    same_study,
)
from nas.studies.study_run import study_rows
from objectives import ProxyConfig, SupernetConfig
from search_space import Arch
from search_space.atomic_file import atomic_write
from search_space.errors import SpecError
from search_space.validators import integer

STUDY_FILE = "fidelity-study.yaml"
# a study trains archs x 2 settings x seeds: past these it would run for weeks, not finish
MAX_ARCHS, MAX_SEEDS = 1000, 100


@dataclass(frozen=True)
class Study:
    """What a fidelity study evaluates: architectures, the two settings, seeds."""

    config: SearchConfig  # the short setting's config; its proxy is the short proxy
    long_proxy: ProxyConfig
    archs: tuple[Arch, ...]
    tokens: tuple[tuple[int, ...], ...]  # each arch's tokens in its source space
    seeds: int
    long: tuple[str, ...]  # the --long overrides, for people reading the study file
    long_evaluator: str = "proxy"
    long_supernet: SupernetConfig = SupernetConfig()

    @property
    def jobs(self) -> list[Job]:
        return make_jobs(len(self.archs), self.seeds)

    def evaluator(self, setting: str) -> str:
        return self.config.evaluator if setting == "short" else self.long_evaluator

    def supernet_config(self, setting: str) -> SupernetConfig:
        return self.config.supernet if setting == "short" else self.long_supernet

    def proxy(self, job: Job) -> ProxyConfig:
        base = self.config.proxy if job.setting == "short" else self.long_proxy
        # a job averaging proxy.seeds trainings takes the next block of seeds: jobs stay apart
        return dataclasses.replace(base, seed=base.seed + job.seed * base.seeds)

    def supernets(self, folder: Path) -> dict[tuple[str, int], Path]:
        """(setting, seed) -> checkpoint file, for each setting scored by a supernet."""
        return {(setting, seed): (folder / f"supernet-{setting}-s{seed}.pt").resolve()
                for setting in ("short", "long") if self.evaluator(setting) == "supernet"
                for seed in range(self.seeds)}

    def specs(self, folder: Path) -> list[Entry]:
        """One `Entry` per job: the arch, its columns, its proxy config and, where its
        setting is scored by a supernet, that supernet (its checkpoint in `folder`)."""
        checkpoints = self.supernets(folder)

        def supernet(job: Job) -> dict[str, Any] | None:
            if (job.setting, job.seed) not in checkpoints:
                return None
            return {"checkpoint": str(checkpoints[job.setting, job.seed]),
                    "space": self.config.space,
                    **dataclasses.asdict(self.supernet_config(job.setting))}

        return [Entry(self.archs[j.arch_id].replace(name=_job_name(j)),
                      {"arch_id": j.arch_id, "setting": j.setting, "seed": j.seed,
                       "arch_tokens": list(self.tokens[j.arch_id])}, self.proxy(j),
                      supernet(j))
                for j in self.jobs]

    def to_yaml(self) -> str:
        data = {"config": to_data(self.config), "long": list(self.long),
                "long_proxy": to_data(self.long_proxy), "long_evaluator": self.long_evaluator,
                "long_supernet": to_data(self.long_supernet), "seeds": self.seeds,
                "archs": [{"tokens": list(t), "arch": a.to_dict()}
                          for a, t in zip(self.archs, self.tokens, strict=True)]}
        return yaml.safe_dump(data, sort_keys=False)

    @classmethod
    def from_yaml(cls, path: Path) -> Study:
        def build(data: Any) -> Study:
            config = from_data(SearchConfig, data["config"])
            supernet = data.get("long_supernet")  # absent from studies before evaluators
            return cls(config, from_data(ProxyConfig, data["long_proxy"]),
                       tuple(Arch.from_dict(a["arch"]) for a in data["archs"]),
                       tuple(tuple(a["tokens"]) for a in data["archs"]),
                       integer("seeds", data["seeds"], minimum=1),
                       tuple(data["long"]), data.get("long_evaluator", "proxy"),
                       config.supernet if supernet is None
                       else from_data(SupernetConfig, supernet))

        return read_study(path, build)


def train_supernets(study: Study, folder: Path, progress=print,
                    run_dir: Path | None = None) -> None:
    """Train (or finish, or skip) each supernet the study's jobs score against, in this
    process, with one torch thread per `resources.cpu`, as a search's driver does. A study of
    `run_dir` starts from that run's own supernet where it would train the same one."""
    from nas.engine.runner import build_space
    from nas.engine.supernet_fit import fit_supernet
    from objectives.supernet_training import load_checkpoint

    checkpoints = study.supernets(folder)
    space = build_space(study.config) if checkpoints else None
    threads = study.config.proxy.threads or max(1, int(study.config.resources.cpu))
    for (setting, seed), checkpoint in checkpoints.items():
        cfg = study.supernet_config(setting)
        if (setting, seed) == ("short", 0) and not checkpoint.is_file() and run_dir:
            _start_from_run(study, space, run_dir, checkpoint, progress)
        done = load_checkpoint(checkpoint, space)["epoch"] if checkpoint.is_file() else 0
        if done >= cfg.epochs:
            continue
        proxy = dataclasses.replace(study.proxy(Job(0, setting, seed)), threads=threads)
        progress(f"supernet for {setting} seed {seed}: epochs {done + 1}..{cfg.epochs} "
                 f"({cfg.sampling} sampling) -> {checkpoint.name}")
        fit_supernet(space, proxy, cfg, checkpoint, on_epoch=lambda e, cfg=cfg: progress(
            f"  epoch {e['epoch']}/{cfg.epochs}  loss {e['loss']:.3f}  {e['seconds']:.1f}s"))


def _start_from_run(study: Study, space: Any, run_dir: Path, checkpoint: Path,
                    progress) -> None:
    """Copy the run's supernet to `checkpoint` when the study's config is the run's own (no
    --set): the same space, recipe, supernet settings and seed would train the same supernet,
    and a run killed mid-training is finished here as its resume would finish it. A file that
    does not load into this space's supernet (damaged, or the space file edited since) is
    left where it is, and the study trains its own."""
    from nas.engine.oneshot import SUPERNET_FILE
    from objectives import load_supernet

    source = run_dir / SUPERNET_FILE
    if not source.is_file():
        return
    run_config = load_config(str(run_dir / "config.yaml"))
    if without_address(run_config) != without_address(study.config):
        return
    try:
        load_supernet(space, source)
    except (SpecError, RuntimeError) as err:  # RuntimeError: tensors of other shapes
        progress(f"supernet for short seed 0: not reusing {source} ({str(err).splitlines()[0]})")
        return
    atomic_write(checkpoint, lambda tmp: shutil.copyfile(source, tmp))
    progress(f"supernet for short seed 0: starts from the run's own {source}")


def _job_name(job: Job) -> str:
    return f"fidelity-a{job.arch_id}-{job.setting}-s{job.seed}"


def check_long(long: list[str]) -> None:
    """The --long overrides: at least one, each a proxy.* or supernet.* key or `evaluator`."""
    if not long:
        raise SpecError("--long", None, "give at least one KEY=VALUE, e.g. proxy.epochs=6")
    for item in long:
        if not item.startswith(("proxy.", "supernet.", "evaluator=")):
            raise SpecError("--long", item, "must change a proxy.* or supernet.* key or "
                            "evaluator (the settings differ only in how each architecture is "
                            "evaluated)")
        apply_override({}, item, "--long")  # a malformed value is named as a --long one


def _check_counts(archs: int, seeds: int) -> None:
    if archs < 2:
        raise SpecError("--archs", archs, "must be >= 2 (ranks need two architectures)")
    integer("--archs", archs, maximum=MAX_ARCHS)
    integer("--seeds", seeds, 1, MAX_SEEDS)


def study_from_source(source: str, archs: int, seeds: int, long: list[str],
                      overrides: Overrides) -> tuple[Study, Any, Path | None]:
    """(study, its source space's reference arch, the run dir it came from or None)."""
    from nas.engine.runner import build_space

    _check_counts(archs, seeds)
    run_dir = Path(source) if Path(source).is_dir() else None
    path = RunDir.open(run_dir).path / "config.yaml" if run_dir else config_path(source)
    check_long(long)
    config = load_config(str(path), overrides)
    long_config = load_config(str(path), [*overrides, *(("--long", item) for item in long)])
    _preflight_long(config, long_config)
    if run_dir is None:
        space = build_space(config)
        if archs > space.size:
            raise SpecError("--archs", archs, f"space {config.space} holds only {space.size} "
                            "architectures")
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
    study = Study(config, long_config.proxy, tuple(picked), tuple(tokens), seeds, tuple(long),
                  long_config.evaluator, long_config.supernet)
    for setting in ("short", "long"):
        if study.evaluator(setting) == "supernet" and study.supernet_config(setting).workers > 1:
            raise SpecError("supernet.workers", study.supernet_config(setting).workers,
                            "a fidelity study trains its supernets in its driver: use 1")
    if _evaluation(study, "short") == _evaluation(study, "long"):
        both = study.evaluator("short") == study.evaluator("long") == "supernet"
        raise SpecError("--long", " ".join(long), "leaves both settings evaluating alike" + (
            " (a supernet trains for supernet.epochs, not proxy.epochs)" if both else ""))
    return study, reference, run_dir


def _preflight_long(config: SearchConfig, long_config: SearchConfig) -> None:
    """The long setting's config is checked as a run's is (`preflight`), before anything is
    written: an error in what --long changed names it."""
    from nas.engine.preflight import preflight

    preflight(config)
    try:
        preflight(long_config)
    except SpecError as err:
        raise err.within("--long ") from None


# What does not change a setting's scores: how fast it runs, how it is batched across actors.
# (a supernet trains supernet.epochs, not the recipe's epochs, and its paths run without
# drop_path)
_NOT_SCORING = {"proxy": {"threads", "num_workers"},
                "supernet": {"threads", "num_workers", "epochs", "drop_path", "supernet.batch",
                             "supernet.actors", "supernet.workers", "supernet.retrain_top"}}


def _evaluation(study: Study, setting: str) -> tuple:
    """What decides a setting's scores: its evaluator, and the recipe and supernet it uses."""
    evaluator = study.evaluator(setting)
    fields = dataclasses.asdict(study.proxy(Job(0, setting, 0)))
    if evaluator == "supernet":
        fields |= {f"supernet.{k}": v
                   for k, v in dataclasses.asdict(study.supernet_config(setting)).items()}
    return evaluator, {k: v for k, v in fields.items() if k not in _NOT_SCORING[evaluator]}


def _from_run(run: RunDir, k: int) -> tuple[list[Arch], list[tuple[int, ...]]]:
    """`k` trained archs of a run's search, spread evenly over its reward ranks (best first);
    confirming trainings are not the search's ranking."""
    rows = [r for r in run.rows(needs=("tokens",)) if r["status"] in SCORED
            and r.get("reward") is not None and not is_confirmation(r)]
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
    return study_rows(run_dir, CSV_COLUMNS, rename={"arch_tokens": "tokens"})


def open_study(args: argparse.Namespace,
               overrides: Overrides) -> tuple[Study, Arch, Path | None, Path, bool]:
    """(study, reference, the run it studies or None, its folder, whether it resumes) for
    `nas-search fidelity`: the study recorded in --output, in the source itself or in a run's
    default folder resumes; else a new one starts from the source."""
    source = Path(args.source)
    default = source / "fidelity" if args.output is None and source.is_dir() else None
    resume_dir = recorded_in(STUDY_FILE, (args.output, source, default))
    if resume_dir is None:
        study, reference, run_dir = _asked(args, overrides)
        output = Path(args.output) if args.output else default_output(
            "fidelity", run_dir, study.config.name)
        return study, reference, run_dir, output, False
    recorded = Study.from_yaml(resume_dir / STUDY_FILE)
    flags = {"--archs": (args.archs, len(recorded.archs)),
             "--seeds": (args.seeds, recorded.seeds),
             "--long": (" ".join(args.long) or None, " ".join(recorded.long))}
    asked = {}  # the study the command asks for, when it names its source again

    def ask() -> Study:
        asked["study"], _, asked["run_dir"] = _asked(args, overrides)
        return asked["study"]

    study = reopen(recorded, args, source, resume_dir, flags, ask, _same_study)
    reference = Arch.from_yaml(resume_dir / "reference.yaml")
    return study, reference, asked.get("run_dir"), resume_dir, True


def _asked(args: argparse.Namespace, overrides: Overrides) -> tuple[Study, Any, Path | None]:
    return study_from_source(args.source, 8 if args.archs is None else args.archs,
                             2 if args.seeds is None else args.seeds, args.long, overrides)


def _same_study(recorded: Study, asked: Study, output: Path) -> Study:
    """`asked` (its `--address` aside) must be `recorded`; the one that resumes is `asked`."""
    return same_study(recorded, asked, "fidelity", output, {
        "--archs": (len(asked.archs), len(recorded.archs)),
        "--seeds": (asked.seeds, recorded.seeds), "--long": (asked.long, recorded.long)})
