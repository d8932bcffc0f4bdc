"""`nas-search resume RUN_DIR`: continue an interrupted search to its budget."""

from __future__ import annotations

import argparse

HELP = "continue a killed or interrupted search from its run directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR")


def main(args: argparse.Namespace) -> int:
    from nas.api import search
    from nas.config import load_config
    from nas.ledger.run_dir import RunDir
    from nas.outputs.summary import summarize
    from search_space.errors import SpecError

    run = RunDir.open(args.run_dir)
    if run.driver_alive():
        raise SpecError("RUN_DIR", args.run_dir, "its driver is still running (if it is not, "
                        "it ran on another machine: delete RUN_DIR/driver.json)")
    for study, verb in (("fidelity-study.yaml", "fidelity"), ("compare-study.yaml", "compare")):
        if (run.path / study).is_file():  # a fixed job list, not a controller's search
            raise SpecError("RUN_DIR", args.run_dir, f"is a {verb} study: resume it with "
                            f"`nas-search {verb} {args.run_dir}`")
    config = load_config(str(run.path / "config.yaml"))
    done = len([r for r in run.rows() if r["status"] != "rejected"])
    print(f"resuming '{config.name}': {done} trials done",
          flush=True)
    search(config, run.path, resume=True, progress=lambda line: print(line, flush=True),
           live=None)  # a live progress line when stdout is a terminal
    summarize(run)
    return 0
