"""`nas-search run [CONFIG]`: launch a search on Ray Tune."""

from __future__ import annotations

import argparse

from nas.commands.arguments import add_launch_arguments, launch, launch_config

HELP = "run an architecture search (no CONFIG = the bundled offline demo)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_launch_arguments(parser, "demo", "experiment YAML path or bundled name (demo, "
                         "b0-cifar10, b0-imagenet)")


def main(args: argparse.Namespace) -> int:
    config = launch_config(args)
    print(f"search '{config.name}': {config.controller.name} controller on space "
          f"'{config.space}', {config.budget.num_samples} trials, "
          f"{config.budget.max_concurrent} at a time", flush=True)
    return launch(config, args)
