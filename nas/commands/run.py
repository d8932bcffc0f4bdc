"""`nas-search run [CONFIG]`: launch a search on Ray Tune."""

from __future__ import annotations

import argparse

HELP = "run an architecture search (no CONFIG = the bundled offline demo)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_launch_arguments(parser, "demo", "experiment YAML path or bundled name (demo, "
                         "b0-cifar10, b0-imagenet)")


def add_launch_arguments(parser: argparse.ArgumentParser, default: str, text: str) -> None:
    """CONFIG, --set, --output and --address: shared by `run` and `grid`."""
    parser.add_argument("config", metavar="CONFIG", nargs="?", default=default, help=text)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config field, e.g. "
                        "proxy.epochs=3 (repeatable)")
    parser.add_argument("--output", help="run directory (default runs/NAME-TIMESTAMP)")
    parser.add_argument("--address", help="an existing Ray cluster's head, host:port")


def launch_config(args: argparse.Namespace):
    """The validated config of a `run` or `grid` command line."""
    from nas.config import load_config

    overrides = list(args.overrides) + ([f"address={args.address}"] if args.address else [])
    return load_config(args.config, overrides)


def main(args: argparse.Namespace) -> int:
    from nas.engine.runner import search
    from nas.outputs.summary import summarize
    from search_space.errors import SpecError

    config = launch_config(args)
    if config.grid is not None:
        raise SpecError("grid", "...", f"{args.config} is a scaling grid: run it with "
                        "`nas-search grid`")
    print(f"search '{config.name}': {config.controller.name} controller on space "
          f"'{config.space}', {config.budget.num_samples} trials, "
          f"{config.budget.max_concurrent} at a time", flush=True)
    run = search(config, args.output, progress=lambda line: print(line, flush=True),
                 live=None)  # a live progress line when stdout is a terminal
    print(f"run directory: {run.path}")
    summarize(run)
    return 0
