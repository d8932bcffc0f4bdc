"""`nas-search report RUN_DIR`: one self-contained HTML page (plots embedded) about a run."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write a self-contained HTML report of a run (Pareto front, history, top-K, cost)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--out", type=Path, metavar="FILE.html",
                        help="where to write it (default RUN_DIR/report.html)")
    parser.add_argument("--top", type=int, default=10, metavar="K",
                        help="rows in the top-K table (default 10)")


def main(args: argparse.Namespace) -> int:
    from nas.api import budget
    from nas.outputs.report import write_report
    from search_space.errors import SpecError

    if args.top < 1:
        raise SpecError("--top", args.top, "must be >= 1")
    path = write_report(args.run_dir, args.out, args.top, budget)
    print(f"wrote {path}")
    return 0
