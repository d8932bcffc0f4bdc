"""`nas-search run [CONFIG]`: launch a search on Ray Tune."""

from __future__ import annotations

import argparse

from nas.commands.arguments import add_launch_arguments, launch_config

HELP = "run an architecture search (no CONFIG = the bundled offline demo)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_launch_arguments(parser, "demo", "experiment YAML path or bundled name (demo, "
                         "b0-cifar10, b0-imagenet)")



def main(args: argparse.Namespace) -> int:
    from nas.api import search
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
