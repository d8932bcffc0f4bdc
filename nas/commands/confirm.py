"""`nas-search confirm RUN_DIR`: add or extend the confirmation of a finished search."""

from __future__ import annotations

import argparse

from nas.commands.confirmation import add_confirm_arguments, extend_confirmation

HELP = "retrain a finished run's top candidates with several seeds (more seeds or candidates)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_confirm_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from nas.outputs.summary import summarize

    run, _ = extend_confirmation(args)
    summarize(run)
    return 0
