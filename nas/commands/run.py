"""`nas-search run [CONFIG]`: launch a search on Ray Tune."""

from __future__ import annotations

import argparse

HELP = "run an architecture search (no CONFIG = the bundled offline demo)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG", nargs="?", default="demo",
                        help="experiment YAML path or bundled name (demo, b0-cifar10, "
                             "b0-imagenet, scaling-grid)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config field, e.g. "
                        "proxy.epochs=3 (repeatable)")
    parser.add_argument("--output", help="run directory (default runs/NAME-TIMESTAMP)")
    parser.add_argument("--address", help="an existing Ray cluster's head, host:port")


def main(args: argparse.Namespace) -> int:
    from nas.config import load_config
    from nas.runner import search
    from nas.summary import summarize
    from search_space.errors import SpecError

    overrides = list(args.overrides)
    if args.address:
        overrides.append(f"address={args.address}")
    config = load_config(args.config, overrides)
    if config.grid is not None:
        raise SpecError("grid", "...", f"{args.config} is a scaling grid: run it with "
                        "`nas-search grid`")
    print(f"search '{config.name}': {config.controller.name} controller on space "
          f"'{config.space}', {config.budget.num_samples} trials, "
          f"{config.budget.max_concurrent} at a time", flush=True)
    run = search(config, args.output, progress=lambda line: print(line, flush=True))
    print(f"run directory: {run.path}")
    summarize(run)
    return 0
