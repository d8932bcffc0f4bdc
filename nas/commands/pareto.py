"""`nas-search pareto RUN_DIR`: the accuracy-vs-FLOPs front, re-ranked without retraining."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "print the accuracy-vs-FLOPs Pareto front (optionally re-scored, plotted, saved)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--plot", type=Path, metavar="PNG", help="save a scatter + front plot")
    parser.add_argument("--csv", type=Path, metavar="CSV", help="save the front as CSV")
    parser.add_argument("--target", type=float, help="re-score with this FLOPs target")
    parser.add_argument("--w", type=float, help="re-score with this exponent")
    parser.add_argument("--kind", choices=("soft", "hard"), help="re-score with this form")


def main(args: argparse.Namespace) -> int:
    from nas.config import load_config
    from nas.output import write_output
    from nas.results import load_results, pareto_front, rescore
    from nas.run_dir import RunDir
    from nas.summary import front_table
    from objectives import FLOPS_CONVENTION

    run = RunDir.open(args.run_dir)
    objective = load_config(str(run.path / "config.yaml")).objective
    target = objective.target if args.target is None else args.target
    w = objective.w if args.w is None else args.w
    kind = args.kind or objective.kind
    df = rescore(load_results(run.path), target, w, kind)
    front = pareto_front(df)
    print(f"Pareto front of {len(df)} trials; reward = ACC x (FLOPs / {target:,.0f}) ^ {w:g}"
          f" ({kind}); FLOPs = {FLOPS_CONVENTION}")
    print(front_table(front))
    if args.csv:
        write_output(args.csv, lambda p: front.to_csv(p, index=False), "--csv", run.path)
        print(f"wrote {args.csv}")
    if args.plot:
        from nas.plot import plot_front

        write_output(args.plot, lambda p: plot_front(df, front, p), "--plot", run.path)
        print(f"wrote {args.plot}")
    return 0
