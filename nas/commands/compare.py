"""`nas-search compare RUN_DIR --reference ARCH`: found architectures vs a reference."""

from __future__ import annotations

import argparse

from nas.commands.fidelity import add_job_run_arguments, job_run_overrides, resumed

HELP = ("train a run's top K architectures and a reference under one identical, longer recipe "
        "and compare accuracy, FLOPs, params and reward")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a search's run directory, or a "
                        "comparison's own directory (resume it)")
    parser.add_argument("--reference", metavar="ARCH", help="preset name or block-table YAML "
                        "(e.g. efficientnet-b0-small); required for a new comparison")
    parser.add_argument("--top", type=int, default=3, metavar="K",
                        help="the run's best K distinct architectures (default 3)")
    parser.add_argument("--epochs", type=int, metavar="E",
                        help="training epochs of every job (default 3 x the run's proxy epochs)")
    parser.add_argument("--seeds", type=int, default=2, metavar="S",
                        help="seeds per architecture (default 2)")
    add_job_run_arguments(parser, "override a field of the run's config", "the comparison's "
                          "run directory (default RUN_DIR/compare); an existing comparison "
                          "there resumes")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nas.compare import (
        STUDY_FILE,
        Comparison,
        compare_rows,
        make_comparison,
        summarize,
        summary_table,
        write_outputs,
    )
    from nas.job_space import JobSpace, run_config, run_jobs
    from search_space import load_arch
    from search_space.errors import SpecError

    overrides = job_run_overrides(args)
    output = Path(args.output) if args.output else Path(args.run_dir) / "compare"
    resume_dir = next((Path(p) for p in (args.run_dir, output)
                       if (Path(p) / STUDY_FILE).is_file()), None)
    if resume_dir is not None:
        comparison, output = resumed(Comparison.from_yaml(resume_dir / STUDY_FILE), args), \
            resume_dir
        print(f"resuming the comparison in {output}", flush=True)
    else:
        if not args.reference:
            raise SpecError("--reference", None, "required: the architecture to beat")
        comparison = make_comparison(Path(args.run_dir), load_arch(args.reference), args.top,
                                     args.epochs, args.seeds, overrides)
    jobs = comparison.specs()
    config = comparison.config
    print(f"compare: {', '.join(comparison.labels)} x {comparison.seeds} seed(s), "
          f"{config.proxy.epochs} epochs each, {len(jobs)} trainings", flush=True)
    space = JobSpace(jobs, comparison.archs[-1], config.proxy)
    run = run_jobs(run_config(config, f"compare-{config.name}", len(jobs)), space, output,
                   {STUDY_FILE: comparison.to_yaml()},
                   progress=lambda line: print(line, flush=True))
    rows = compare_rows(run.path)
    summary = summarize(rows, config.objective, comparison.labels)
    written = write_outputs(rows, summary, run.path)
    print("\n" + summary_table(summary))
    ref = summary["candidates"][-1]["arch"]
    verdict = (f"found architectures that beat {ref} at no more FLOPs: "
               f"{', '.join(summary['beats_reference'])}" if summary["any_beats_reference"]
               else f"no found architecture beats {ref} at no more FLOPs")
    print(f"\n{verdict} (FLOPs = multiply-adds)")
    print("written: " + ", ".join(str(p) for p in written))
    return 0
