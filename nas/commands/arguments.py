"""Flags, argument types and the launch step that several verbs share: not a verb itself.

`run` and `grid` launch a search from a config and `fidelity` runs a study; all three take --set,
--output and --address, spelled and explained the same way.
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


def study_overrides(args: argparse.Namespace) -> list[str | tuple[str, str]]:
    """The --set overrides, with --address as one more (errors in it name --address)."""
    return list(args.overrides) + ([("--address", f"address={args.address}")]
                                   if args.address else [])


def add_launch_arguments(parser: argparse.ArgumentParser, default: str, text: str) -> None:
    """CONFIG, --set, --output and --address: shared by `run` and `grid`."""
    parser.add_argument("config", metavar="CONFIG", nargs="?", default=default, help=text)
    add_study_arguments(parser, "override a config field, e.g. proxy.epochs=3 (repeatable)",
                        "run directory (default runs/NAME-TIMESTAMP)")


def launch_config(args: argparse.Namespace, grid: bool = False):
    """The validated config of a `run` command line (or a `grid` one, `grid` True): a search
    config given to `grid`, or a grid config given to `run`, is one line naming the other verb."""
    from nas.config import load_config
    from search_space.errors import SpecError

    config = load_config(args.config, study_overrides(args))
    if grid and config.grid is None:
        raise SpecError("grid", None, f"{args.config} has no grid section: run it with "
                        "`nas-search run`")
    if not grid and config.grid is not None:
        raise SpecError("grid", "...", f"{args.config} is a scaling grid: run it with "
                        "`nas-search grid`")
    return config


def count_or_fraction(text: str) -> int | float:
    """argparse type of --val-size: a count (int) or a fraction (float)."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def launch(config, args: argparse.Namespace) -> int:
    """Run the search (or grid) of a `run` or `grid` command line, then print its summary."""
    from nas.api import search
    from nas.outputs.summary import summarize

    run = search(config, args.output, progress=lambda line: print(line, flush=True),
                 live=None)  # a live progress line when stdout is a terminal
    print(f"run directory: {run.path}")
    summarize(run)
    return 0


def open_search_run(run_dir: str):
    """A search's run directory that no driver is running (`resume`, `confirm`): one line
    for a live driver or a study's folder (resumed by its own verb)."""
    from nas.ledger.run_dir import RunDir
    from search_space.errors import SpecError

    run = RunDir.open(run_dir)
    if run.driver_alive():
        raise SpecError("RUN_DIR", run_dir, "its driver is still running (if it is not, "
                        "it ran on another machine: delete RUN_DIR/driver.json)")
    if (run.path / "fidelity-study.yaml").is_file():  # a fixed job list, not a search
        raise SpecError("RUN_DIR", run_dir, "is a fidelity study: resume it with "
                        f"`nas-search fidelity {run_dir}`")
    if (run.path / "compare-study.yaml").is_file():  # what `compare` made before it confirmed
        raise SpecError("RUN_DIR", run_dir, "is a comparison an earlier nas-search made in "
                        "its own folder (its files stay as they are): compare the search's own "
                        "run directory instead")
    return run
