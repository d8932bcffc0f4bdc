"""`nas-search fidelity CONFIG_OR_RUN_DIR --long KEY=VALUE`: how far to trust the proxy."""

from __future__ import annotations

import argparse

from nas.commands.arguments import add_study_arguments, study_overrides

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
    add_study_arguments(parser, "override a config field for both settings",
                        "the study's run directory (default: RUN_DIR/fidelity or "
                        "runs/fidelity-NAME-TIMESTAMP); an existing study there resumes")


def main(args: argparse.Namespace) -> int:
    from nas.studies.fidelity import STUDY_FILE, fidelity_rows, open_study, train_supernets
    from nas.studies.rank_agreement import (
        agreement,
        fidelity_figure,
        fidelity_table,
        reading,
        summary_lines,
    )
    from nas.studies.study_run import run_study, write_study_files

    study, reference, run_dir, output, resuming = open_study(args, study_overrides(args))
    if resuming:
        print(f"resuming the fidelity study in {output}", flush=True)
    print(f"fidelity '{study.config.name}': {len(study.archs)} architectures x 2 settings x "
          f"{study.seeds} seed(s) = {len(study.jobs)} jobs; short: {study.evaluator('short')}, "
          f"long: {study.evaluator('long')} ({' '.join(study.long)})", flush=True)
    run = run_study("fidelity", study, STUDY_FILE, reference, output, _progress,
                    prepare=lambda folder: train_supernets(study, folder, _progress, run_dir))
    rows = fidelity_rows(run.path)
    figures = agreement(rows)
    written = write_study_files(run.path, "fidelity", fidelity_table(rows), figures,
                                fidelity_figure(rows, figures))
    print("\n" + "\n".join(summary_lines(figures) + [""] + reading(figures)))
    print("written: " + ", ".join(str(p) for p in written))
    return 0


def _progress(line: str) -> None:
    print(line, flush=True)
