"""`nas-search confirm RUN_DIR`: add or extend the confirmation of a finished search."""

from __future__ import annotations

import argparse
import dataclasses

from nas.commands.arguments import open_search_run

HELP = "retrain a finished run's top candidates with several seeds (more seeds or candidates)"
DEFAULT_TOP = 3  # when the run recorded no confirmation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--top", type=int, metavar="K", help="candidates, best search reward "
                        f"first (default: the run's confirm.top, or {DEFAULT_TOP})")
    parser.add_argument("--seeds", type=int, metavar="S",
                        help="trainings of each (default: the run's confirm.seeds)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="a proxy setting of the confirming "
                        "trainings, e.g. epochs=6 (repeatable; default: the run's confirm.set)")


def main(args: argparse.Namespace) -> int:
    from nas.api import search
    from nas.config import load_config
    from nas.ledger.confirmation import record
    from nas.outputs.summary import summarize
    from nas.schema import to_data

    run = open_search_run(args.run_dir)
    config = load_config(str(run.path / "config.yaml"))
    confirm = _settings(config, run, args)
    config = dataclasses.replace(config, confirm=confirm)  # every check before the write
    record(run, to_data(confirm))
    print(f"confirming '{config.name}': top {confirm.top} x {confirm.seeds} seed(s)",
          flush=True)
    search(config, run.path, resume=True, progress=lambda line: print(line, flush=True),
           live=None)
    summarize(run)
    return 0


def _settings(config, run, args: argparse.Namespace):
    """The run's recorded confirm section with the flags applied, checked against the run."""
    from nas.api import budget
    from nas.config import ConfirmConfig, apply_override
    from nas.ledger.confirmation import ranked
    from nas.ledger.ledger import searched
    from search_space.errors import SpecError
    from search_space.validators import integer

    rows = run.rows()
    if config.grid is not None:
        raise SpecError("RUN_DIR", args.run_dir, "is a scaling grid: nothing to confirm")
    if searched(rows) < budget(config):
        raise SpecError("RUN_DIR", args.run_dir, f"its search is not finished ({searched(rows)} "
                        f"of {budget(config)} trials): `nas-search resume {args.run_dir}` first")
    recorded, candidates = config.confirm, len(ranked(rows))
    if not candidates:
        raise SpecError("RUN_DIR", args.run_dir, "has no scored trial to confirm")
    top = min(recorded.top or DEFAULT_TOP, candidates) if args.top is None else args.top
    top = integer("--top", top, 1)
    seeds = integer("--seeds", args.seeds if args.seeds is not None else recorded.seeds, 1)
    if top > candidates:
        raise SpecError("--top", top, f"the run has {candidates} distinct scored candidates")
    settings = dict(recorded.set)
    for item in args.overrides:  # proxy keys, with or without their `proxy.` prefix
        settings = apply_override(settings, item.removeprefix("proxy."), "--set")
    try:
        return ConfirmConfig(top, seeds, settings, recorded.within_noise)
    except SpecError as err:
        raise SpecError(f"--set {err.field.removeprefix('set.')}", err.value,
                        err.reason) from None
