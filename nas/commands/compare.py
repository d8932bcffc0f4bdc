"""`nas-search compare RUN_DIR --reference ARCH`: found architectures vs a reference."""

from __future__ import annotations

import argparse

from nas.commands.arguments import add_study_arguments, study_overrides

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
    add_study_arguments(parser, "override a field of the run's config", "the comparison's "
                        "run directory (default RUN_DIR/compare); an existing comparison "
                        "there resumes")


def main(args: argparse.Namespace) -> int:
    from nas.studies.compare import (
        STUDY_FILE,
        compare_rows,
        compare_table,
        open_comparison,
        summarize,
        summary_table,
        verdict,
    )
    from nas.studies.study_run import run_study, write_study_files

    comparison, output, resuming = open_comparison(args, study_overrides(args))
    if resuming:
        print(f"resuming the comparison in {output}", flush=True)
    config = comparison.config
    print(f"compare: {', '.join(comparison.labels)} x {comparison.seeds} seed(s), "
          f"{config.proxy.epochs} epochs each, {len(comparison.specs())} trainings", flush=True)
    run = run_study("compare", comparison, STUDY_FILE, comparison.archs[-1], output,
                    progress=lambda line: print(line, flush=True))
    rows = compare_rows(run.path)
    summary = summarize(rows, config.objective, comparison.labels)
    written = write_study_files(run.path, "compare", compare_table(rows), summary)
    print("\n" + summary_table(summary))
    print(f"\n{verdict(summary)} (FLOPs = multiply-adds)")
    print("written: " + ", ".join(str(p) for p in written))
    return 0
