"""`nas-search compare RUN_DIR --reference ARCH`: found architectures vs a reference, trained
alike as one confirmation of the run."""

from __future__ import annotations

import argparse

from nas.commands.confirmation import add_confirm_arguments, extend_confirmation

HELP = ("confirm a run's top K architectures beside a reference trained alike (same recipe, "
        "same seeds) and compare accuracy, FLOPs, params and reward")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_confirm_arguments(parser)
    parser.add_argument("--reference", metavar="ARCH", help="preset name or block-table YAML "
                        "of the run's space (e.g. efficientnet-b0; default: the run's "
                        "confirm.reference)")
    parser.add_argument("--epochs", type=int, metavar="E", help="epochs of every confirming "
                        "training (the same as --set epochs=E)")


def main(args: argparse.Namespace) -> int:
    from nas.ledger.results import load_results
    from nas.outputs.comparison import COMPARE_FILE, comparison_table, run_comparison, verdict

    recipe = [] if args.epochs is None else [("--epochs", f"epochs={args.epochs}")]
    run, config = extend_confirmation(args, args.reference, recipe, compare=True)
    summary = run_comparison(load_results(run.path), config)  # the search wrote it too
    print("\n" + comparison_table(summary))
    print(f"\n{verdict(summary)} (FLOPs = multiply-adds)")
    print(f"written: {run.path / COMPARE_FILE}")
    return 0
