"""`nas-search resume RUN_DIR`: continue an interrupted search to its budget."""

from __future__ import annotations

import argparse

from nas.commands.arguments import open_search_run

HELP = "continue a killed or interrupted search from its run directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR")


def main(args: argparse.Namespace) -> int:
    from nas.api import search
    from nas.config import load_config
    from nas.outputs.summary import summarize

    run = open_search_run(args.run_dir)
    config = load_config(str(run.path / "config.yaml"))
    done = len([r for r in run.rows() if r["status"] != "rejected" and not r.get("chosen")])
    print(f"resuming '{config.name}': {done} trials done", flush=True)
    search(config, run.path, resume=True, progress=lambda line: print(line, flush=True),
           live=None)  # a live progress line when stdout is a terminal
    summarize(run)
    return 0
