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
    parser.add_argument("--archs", type=int, default=8, metavar="K",
                        help="architectures (default 8)")
    parser.add_argument("--seeds", type=int, default=2, metavar="S",
                        help="seeds per architecture and setting (default 2)")
    parser.add_argument("--long", action="append", default=[], metavar="KEY=VALUE",
                        help="the long setting's change to the config, e.g. proxy.epochs=6 "
                        "(repeatable; proxy.* keys)")
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


def resumed(study, args: argparse.Namespace):
    """A recorded study (fidelity or compare) resumes as recorded: `--set` cannot change what
    it trains; `--address` may move it to a cluster."""
    import dataclasses

    from search_space.errors import SpecError

    if args.overrides:
        raise SpecError("--set", args.overrides[0], "a recorded study resumes as it was "
                        "recorded; start a new one with another --output")
    if not args.address:
        return study
    return dataclasses.replace(study, config=dataclasses.replace(study.config,
                                                                 address=args.address))


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nas.fidelity import statistics, summary_lines, write_outputs
    from nas.fidelity_study import (
        STUDY_FILE,
        Study,
        default_output,
        fidelity_rows,
        study_from_source,
    )
    from nas.job_space import JobSpace, run_config, run_jobs
    from search_space import Arch

    overrides = job_run_overrides(args)
    resume_dir = next((Path(p) for p in (args.output, args.source)
                       if p and (Path(p) / STUDY_FILE).is_file()), None)
    if resume_dir is not None:
        study = resumed(Study.from_yaml(resume_dir / STUDY_FILE), args)
        reference, output = Arch.from_yaml(resume_dir / "reference.yaml"), resume_dir
        print(f"resuming the fidelity study in {output}", flush=True)
    else:
        study, reference, run_dir = study_from_source(args.source, args.archs, args.seeds,
                                                      args.long, overrides)
        output = Path(args.output) if args.output else default_output(study, run_dir)
    jobs = study.specs()
    print(f"fidelity '{study.config.name}': {len(study.archs)} architectures x 2 settings x "
          f"{study.seeds} seed(s) = {len(jobs)} trainings; long = {' '.join(study.long)}",
          flush=True)
    space = JobSpace(jobs, reference, study.config.proxy)
    config = run_config(study.config, f"fidelity-{study.config.name}", len(jobs))
    run = run_jobs(config, space, output, {STUDY_FILE: study.to_yaml()},
                   progress=lambda line: print(line, flush=True))
    rows = fidelity_rows(run.path)
    figures = statistics(rows)
    written = write_outputs(rows, figures, run.path)
    print("\n" + "\n".join(summary_lines(figures)))
    print("written: " + ", ".join(str(p) for p in written))
    return 0
