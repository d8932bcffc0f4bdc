"""`nas-search grid CONFIG`: the alpha/beta/gamma grid search of compound scaling, on Ray."""

from __future__ import annotations

import argparse

from nas.commands.arguments import add_launch_arguments, launch, launch_config

HELP = "grid-search the compound-scaling coefficients alpha, beta, gamma at phi = 1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_launch_arguments(parser, "scaling-grid", "experiment YAML with a `grid` section "
                         "(default: the bundled scaling-grid)")


def main(args: argparse.Namespace) -> int:
    from nas.api import budget

    config = launch_config(args, grid=True)
    print(f"grid '{config.name}': {budget(config)} (alpha, beta, gamma) points with "
          f"alpha*beta^2*gamma^2 within {config.grid.tolerance:g} of "
          f"{config.grid.product:g}, phi {config.grid.phi:g}, base {config.grid.base}",
          flush=True)
    return launch(config, args)
