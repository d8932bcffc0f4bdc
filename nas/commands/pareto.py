"""`nas-search pareto RUN_DIR`: the accuracy-vs-FLOPs front, re-ranked without retraining."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

HELP = "print the accuracy-vs-FLOPs Pareto front (optionally re-scored, plotted, saved)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--plot", type=Path, metavar="PNG", help="save a scatter + front plot")
    parser.add_argument("--csv", type=Path, metavar="CSV", help="save the front as CSV")
    parser.add_argument("--target", type=float, help="re-score with this FLOPs target")
    parser.add_argument("--w", type=float, help="re-score with this exponent")
    parser.add_argument("--kind", choices=("soft", "hard", "absolute"),
                        help="re-score with this form")
    parser.add_argument("--x", choices=("flops", "latency_ms"),
                        help="cost axis of the front (default: the objective's metric)")


def main(args: argparse.Namespace) -> int:
    from nas.config import load_config
    from nas.ledger.confirmed import search_rows
    from nas.ledger.results import load_results, rescore
    from nas.ledger.run_dir import RunDir
    from nas.outputs.files import write_output
    from nas.outputs.summary import confirmed_lines, front_table
    from objectives import FLOPS_CONVENTION
    from search_space import SpecError

    run = RunDir.open(args.run_dir)
    objective = load_config(str(run.path / "config.yaml")).objective
    target = objective.target if args.target is None else args.target
    w = objective.w if args.w is None else args.w
    kind = args.kind or objective.kind
    df = rescore(load_results(run.path), target, w, kind, objective.metric, objective.beta)
    x = args.x or objective.column
    if x not in df or df[x].isna().all():
        raise SpecError("--x", x, "this run recorded no such column (search with "
                        "objective.metric: latency for latency_ms)")
    front, table = _confirmed(df, x, dataclasses.replace(objective, target=target, w=w,
                                                          kind=kind))
    print(f"Pareto front of {len(search_rows(df))} trials over {x}; reward = "
          f"{_formula(objective, target, w, kind)} ({kind}); FLOPs = {FLOPS_CONVENTION}")
    print(front_table(front))
    for line in confirmed_lines(table):
        print(line)
    if args.csv:
        write_output(args.csv, lambda p: front.to_csv(p, index=False), "--csv", run.path)
        print(f"wrote {args.csv}")
    if args.plot:
        from nas.outputs.plots import front_figure, pyplot, save_png

        pyplot("--plot")  # one clear line, before anything is drawn, if matplotlib is missing
        write_output(args.plot, lambda p: save_png(front_figure(df, x, confirmed=table), p),
                     "--plot", run.path)
        print(f"wrote {args.plot}")
    return 0


def _formula(objective, target: float, w: float, kind: str) -> str:
    cost = (f"latency_ms / {target:g}" if objective.metric == "latency"
            else f"FLOPs / {target:,.0f}")
    return (f"ACC + {objective.beta:g} x |{cost} - 1|" if kind == "absolute"
            else f"ACC x ({cost}) ^ {w:g}")


def _confirmed(df, x: str, objective):
    """(the front over `x` with a `confirmed` column: whether each point's candidate was
    confirmed, the confirmed candidates scored by the re-scored `objective`)."""
    from nas.ledger.confirmation import candidate_key
    from nas.ledger.confirmed import confirmed
    from nas.ledger.results import pareto_front

    table = confirmed(df, objective)
    front = pareto_front(df, x=x)
    done = set(table["tokens"])
    front["confirmed"] = [candidate_key(t, a) in done
                          for t, a in zip(front["tokens"], front["arch"])]
    return front, table
