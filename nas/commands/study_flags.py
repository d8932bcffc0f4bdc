"""The flags every study verb (`fidelity`, `compare`) takes beside its own: not a verb itself."""

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
