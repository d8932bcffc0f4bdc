"""Flags and argument types that several verbs share: not a verb itself.

`run` and `grid` launch a search from a config; `fidelity` and `compare` run a study; all four
take --set, --output and --address, spelled and explained the same way.
"""

from __future__ import annotations

import argparse


def add_study_arguments(parser: argparse.ArgumentParser, set_help: str,
                        output_help: str) -> None:
    """--set, --output and --address."""
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help=set_help)
    parser.add_argument("--output", help=output_help)
    parser.add_argument("--address", help="an existing Ray cluster's head, host:port")


def study_overrides(args: argparse.Namespace) -> list[str]:
    """The --set overrides, with --address as one more."""
    return list(args.overrides) + ([f"address={args.address}"] if args.address else [])


def add_launch_arguments(parser: argparse.ArgumentParser, default: str, text: str) -> None:
    """CONFIG, --set, --output and --address: shared by `run` and `grid`."""
    parser.add_argument("config", metavar="CONFIG", nargs="?", default=default, help=text)
    add_study_arguments(parser, "override a config field, e.g. proxy.epochs=3 (repeatable)",
                        "run directory (default runs/NAME-TIMESTAMP)")


def launch_config(args: argparse.Namespace):
    """The validated config of a `run` or `grid` command line."""
    from nas.config import load_config

    return load_config(args.config, study_overrides(args))


def count_or_fraction(text: str) -> int | float:
    """argparse type of --val-size: a count (int) or a fraction (float)."""
    try:
        return int(text)
    except ValueError:
        return float(text)
