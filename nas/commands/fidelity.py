"""`nas-search fidelity CONFIG_OR_RUN_DIR --long KEY=VALUE`: how far to trust the proxy."""

from __future__ import annotations

import argparse

HELP = ("proxy rank fidelity: train K architectures under the config (short) and with --long "
        "overrides (long), S seeds each, and compare their ranks")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="CONFIG_OR_RUN_DIR", help="experiment YAML or bundled "
                        "name (K archs sampled from its space), a search's run directory (K of "
                        "its trained archs, spread over the reward ranks), or a fidelity "
                        "study's own directory (resume it)")
    parser.add_argument("--archs", type=int, metavar="K", help="architectures (default 8)")
    parser.add_argument("--seeds", type=int, metavar="S",
                        help="seeds per architecture and setting (default 2)")
    parser.add_argument("--long", action="append", default=[], metavar="KEY=VALUE",
                        help="the long setting's change to the config, e.g. proxy.epochs=6 "
                        "(repeatable; proxy.* and supernet.* keys, evaluator)")
    add_job_run_arguments(parser, "override a config field for both settings",
                          "the study's run directory (default: RUN_DIR/fidelity or "
                          "runs/fidelity-NAME-TIMESTAMP); an existing study there resumes")


def add_job_run_arguments(parser: argparse.ArgumentParser, set_help: str,
                          output_help: str) -> None:
    """--set, --output and --address: shared by `fidelity` and `compare`."""
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help=set_help)
    parser.add_argument("--output", help=output_help)
    parser.add_argument("--address", help="an existing Ray cluster's head, host:port")


def job_run_overrides(args: argparse.Namespace) -> list[str]:
    """The --set overrides, with --address as one more."""
    return list(args.overrides) + ([f"address={args.address}"] if args.address else [])


def _new_study(args: argparse.Namespace, overrides: list[str]):
    from nas.studies.fidelity import study_from_source

    return study_from_source(args.source, 8 if args.archs is None else args.archs,
                             2 if args.seeds is None else args.seeds, args.long, overrides)


def _same_study(recorded, asked, output):
    """`asked` (its `--address` aside) must be `recorded`; the one that resumes is `asked`."""
    from nas.studies.study_dir import same_study

    return same_study(recorded, asked, "fidelity", output, {
        "--archs": (len(asked.archs), len(recorded.archs)),
        "--seeds": (asked.seeds, recorded.seeds), "--long": (asked.long, recorded.long)})


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nas.studies.fidelity import (
        STUDY_FILE,
        Study,
        default_output,
        fidelity_rows,
        train_supernets,
    )
    from nas.studies.job_space import JobSpace, run_config, run_jobs
    from nas.studies.rank_agreement import reading, statistics, summary_lines, write_outputs
    from nas.studies.study_dir import refuse_other_output, resumed, same_place
    from search_space import Arch

    overrides = job_run_overrides(args)
    source = Path(args.source)
    # where a study may be recorded: --output, the source itself, else a run's default folder
    default = source / "fidelity" if args.output is None and source.is_dir() else None
    places = (args.output, source, default)
    resume_dir = next((Path(p) for p in places if p and (Path(p) / STUDY_FILE).is_file()), None)
    if resume_dir is None:
        study, reference, run_dir = _new_study(args, overrides)
        output = Path(args.output) if args.output else default_output(study, run_dir)
    else:
        run_dir = None  # the run it studies, when the command names one
        study, output = Study.from_yaml(resume_dir / STUDY_FILE), resume_dir
        reference = Arch.from_yaml(resume_dir / "reference.yaml")
        if same_place(source, resume_dir):  # `fidelity STUDY_DIR`: flags may only agree
            refuse_other_output(args.output, resume_dir)
            study = resumed(study, args, {
                "--archs": (args.archs, len(study.archs)), "--seeds": (args.seeds, study.seeds),
                "--long": (" ".join(args.long) or None, " ".join(study.long))})
        else:  # the command that started it, again: it must ask for the same study
            asked, _, run_dir = _new_study(args, overrides)
            study = _same_study(study, asked, output)
        print(f"resuming the fidelity study in {output}", flush=True)
    jobs = study.specs(output)
    print(f"fidelity '{study.config.name}': {len(study.archs)} architectures x 2 settings x "
          f"{study.seeds} seed(s) = {len(jobs)} jobs; short: {study.evaluator('short')}, "
          f"long: {study.evaluator('long')} ({' '.join(study.long)})", flush=True)
    space = JobSpace(jobs, reference, study.config.proxy)
    config = run_config(study.config, f"fidelity-{study.config.name}", len(jobs))

    def progress(line: str) -> None:
        print(line, flush=True)

    run = run_jobs(config, space, output, {STUDY_FILE: study.to_yaml()}, progress,
                   prepare=lambda folder: train_supernets(study, folder, progress, run_dir))
    rows = fidelity_rows(run.path)
    figures = statistics(rows)
    written = write_outputs(rows, figures, run.path)
    print("\n" + "\n".join(summary_lines(figures) + [""] + reading(figures)))
    print("written: " + ", ".join(str(p) for p in written))
    return 0
