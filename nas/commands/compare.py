"""`nas-search compare RUN_DIR --reference ARCH`: found architectures vs a reference."""

from __future__ import annotations

import argparse
from pathlib import Path

from nas.commands.fidelity import add_job_run_arguments, job_run_overrides
from nas.studies.study_dir import refuse_other_output, resumed, same_place, same_study

HELP = ("train a run's top K architectures and a reference under one identical, longer recipe "
        "and compare accuracy, FLOPs, params and reward")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a search's run directory, or a "
                        "comparison's own directory (resume it)")
    parser.add_argument("--reference", metavar="ARCH", help="preset name or block-table YAML "
                        "(e.g. efficientnet-b0-small); required for a new comparison")
    parser.add_argument("--top", type=int, metavar="K",
                        help="the run's best K distinct architectures (default 3)")
    parser.add_argument("--epochs", type=int, metavar="E",
                        help="training epochs of every job (default 3 x the run's proxy epochs)")
    parser.add_argument("--seeds", type=int, metavar="S",
                        help="seeds per architecture (default 2)")
    add_job_run_arguments(parser, "override a field of the run's config", "the comparison's "
                          "run directory (default RUN_DIR/compare); an existing comparison "
                          "there resumes")


def main(args: argparse.Namespace) -> int:
    from nas.studies.compare import (
        STUDY_FILE,
        Comparison,
        compare_rows,
        summarize,
        summary_table,
        write_outputs,
    )
    from nas.studies.job_space import JobSpace, run_config, run_jobs

    overrides = job_run_overrides(args)
    output = Path(args.output) if args.output else Path(args.run_dir) / "compare"
    resume_dir = next((Path(p) for p in (args.run_dir, output)
                       if (Path(p) / STUDY_FILE).is_file()), None)
    if resume_dir is None:
        comparison = _new_comparison(args, overrides)
    else:
        comparison, output = Comparison.from_yaml(resume_dir / STUDY_FILE), resume_dir
        if same_place(args.run_dir, resume_dir):  # `compare CMP_DIR`: flags may only agree
            refuse_other_output(args.output, resume_dir)
            comparison = resumed(comparison, args, _given_flags(args, comparison))
        elif args.reference:  # the command that started it, again: the same comparison
            comparison = _same_comparison(comparison, _new_comparison(args, overrides), output)
        else:  # `compare RUN_DIR`: its comparison as recorded; flags may only agree
            comparison = resumed(comparison, args, _given_flags(args, comparison))
        print(f"resuming the comparison in {output}", flush=True)
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


def _new_comparison(args: argparse.Namespace, overrides: list[str]):
    from nas.studies.compare import make_comparison
    from search_space import load_arch
    from search_space.errors import SpecError

    if not args.reference:
        raise SpecError("--reference", None, "required: the architecture to beat")
    return make_comparison(Path(args.run_dir), load_arch(args.reference),
                           3 if args.top is None else args.top, args.epochs,
                           2 if args.seeds is None else args.seeds, overrides)


def _given_flags(args: argparse.Namespace, recorded) -> dict:
    """flag -> (the value given or None, the recorded one), for `resumed`."""
    from search_space import load_arch

    kept = recorded.archs[-1]
    other = args.reference and not _same_table(load_arch(args.reference), kept)
    return {"--top": (args.top, recorded.top), "--seeds": (args.seeds, recorded.seeds),
            "--epochs": (args.epochs, recorded.config.proxy.epochs),
            "--reference": (args.reference if other else None, kept.name or "another arch")}


def _same_comparison(recorded, asked, output):
    """`asked` must be `recorded` (the reference under any name, the cluster aside)."""
    import dataclasses

    if _same_table(asked.archs[-1], recorded.archs[-1]):
        asked = dataclasses.replace(asked, archs=(*asked.archs[:-1], recorded.archs[-1]))
    return same_study(recorded, asked, "compare", output, {
        "--top": (asked.top, recorded.top), "--seeds": (asked.seeds, recorded.seeds),
        "--epochs": (asked.config.proxy.epochs, recorded.config.proxy.epochs),
        "--reference": (asked.archs[-1], recorded.archs[-1])})


def _same_table(a, b) -> bool:
    """A reference is the same block table under any name."""
    return a.replace(name="") == b.replace(name="")
