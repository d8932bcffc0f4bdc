"""`nas-search grid CONFIG`: the alpha/beta/gamma grid search of compound scaling, on Ray."""

from __future__ import annotations

import argparse

from nas.commands.arguments import add_launch_arguments, launch_config

HELP = "grid-search the compound-scaling coefficients alpha, beta, gamma at phi = 1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_launch_arguments(parser, "scaling-grid", "experiment YAML with a `grid` section "
                         "(default: the bundled scaling-grid)")


def main(args: argparse.Namespace) -> int:
    from nas.api import search
    from nas.outputs.summary import summarize
    from nas.studies.grid import grid_parts
    from search_space.errors import SpecError

    config = launch_config(args)
    if config.grid is None:
        raise SpecError("grid", None, f"{args.config} has no grid section: run it with "
                        "`nas-search run`")
    space, _ = grid_parts(config.grid)
    print(f"grid '{config.name}': {len(space)} (alpha, beta, gamma) points with "
          f"alpha*beta^2*gamma^2 within {config.grid.tolerance:g} of "
          f"{config.grid.product:g}, phi {config.grid.phi:g}, base {config.grid.base}",
          flush=True)
    run = search(config, args.output, progress=lambda line: print(line, flush=True),
                 live=None)  # a live progress line when stdout is a terminal
    print(f"run directory: {run.path}")
    summarize(run)
    return 0
