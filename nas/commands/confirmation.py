"""The step `confirm` and `compare` share, not a verb itself: extend a finished search's
confirmation as the flags ask (more candidates, more seeds, a reference), record it in the
run's config.yaml, then train only what is missing, as Ray trials of the run itself."""

from __future__ import annotations

import argparse
import dataclasses

from nas.commands.arguments import open_search_run

DEFAULT_TOP = 3  # when the run recorded no confirmation


def add_confirm_arguments(parser: argparse.ArgumentParser) -> None:
    """RUN_DIR, --top, --seeds, --set and --address."""
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a finished search's run directory")
    parser.add_argument("--top", type=int, metavar="K", help="candidates, best search reward "
                        f"first (default: the run's confirm.top, or {DEFAULT_TOP})")
    parser.add_argument("--seeds", type=int, metavar="S",
                        help="trainings of each (default: the run's confirm.seeds)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="a proxy setting of the confirming "
                        "trainings, e.g. epochs=6 (repeatable; default: the run's confirm.set)")
    parser.add_argument("--address", help="an existing Ray cluster's head, host:port")


def extend_confirmation(args: argparse.Namespace, reference: str | None = None,
                        recipe: list[tuple[str, str]] = (), compare: bool = False):
    """Check the flags against the run, record the new confirm section, train what it adds;
    returns (run, config). `recipe`: more (flag, KEY=VALUE) proxy settings after --set;
    `compare`: a reference is required. Every check comes before the write and before Ray
    starts."""
    from nas.api import search
    from nas.config import load_config
    from nas.ledger.confirmation import record
    from nas.schema import to_data

    run = open_search_run(args.run_dir)
    address = [("--address", f"address={args.address}")] if args.address else []
    config = load_config(str(run.path / "config.yaml"), address)
    overrides = [("--set", item) for item in args.overrides] + list(recipe)
    confirm = _settings(config, run.rows(), args, overrides, reference)
    config = dataclasses.replace(config, confirm=as_recorded(confirm, reference, compare))
    _check_reference(config, reference)
    record(run, to_data(config.confirm))
    print(f"confirming '{config.name}': top {confirm.top} x {confirm.seeds} seed(s)"
          + (f" and the reference {reference}" if reference else ""), flush=True)
    search(config, run.path, resume=True, progress=lambda line: print(line, flush=True),
           live=None)
    return run, config


def _settings(config, rows: list[dict], args: argparse.Namespace,
              overrides: list[tuple[str, str]], reference: str | None):
    """The run's recorded confirm section with the flags applied, checked against the run."""
    from nas.config import ConfirmConfig
    from search_space.errors import SpecError
    from search_space.validators import integer

    recorded = config.confirm
    top = _top(config, rows, args)
    seeds = integer("--seeds", args.seeds if args.seeds is not None else recorded.seeds, 1)
    settings, flag = dict(recorded.set), "--set"
    try:
        for flag, item in overrides:
            settings = _override(settings, item, flag)
        confirm = ConfirmConfig(top, seeds, settings, recorded.within_noise,
                                recorded.reference if reference is None else reference)
    except SpecError as err:
        field = err.field.removeprefix("set.")
        raise SpecError("--reference" if field == "reference" else f"{flag} {field}",
                        err.value, err.reason) from None
    _same_recipe(recorded.set, confirm.set, rows, overrides)
    return confirm


def as_recorded(confirm, reference: str | None, compare: bool):
    """`confirm` as the run records it: a --reference read from a file is kept as its block
    table, so the run directory does not depend on where the file was."""
    from search_space import PRESETS
    from search_space.errors import SpecError

    if compare and confirm.reference is None:
        raise SpecError("--reference", None, "required: the architecture to beat (the run "
                        "records none)")
    if reference is None or reference in PRESETS:
        return confirm
    return dataclasses.replace(confirm, reference=confirm.reference_arch().to_dict())


def _override(settings: dict, item: str, flag: str) -> dict:
    from nas.config import apply_override

    return apply_override(settings, item.removeprefix("proxy."), flag)


def _top(config, rows: list[dict], args: argparse.Namespace) -> int:
    """--top checked against the run: a finished search with that many distinct candidates."""
    from nas.api import budget
    from nas.ledger.confirmation import ranked
    from nas.ledger.ledger import searched
    from search_space.errors import SpecError
    from search_space.validators import integer

    if config.grid is not None:
        raise SpecError("RUN_DIR", args.run_dir, "is a scaling grid: nothing to confirm")
    if searched(rows) < budget(config):
        raise SpecError("RUN_DIR", args.run_dir, f"its search is not finished ({searched(rows)} "
                        f"of {budget(config)} trials): `nas-search resume {args.run_dir}` first")
    candidates = len(ranked(rows))
    if not candidates:
        raise SpecError("RUN_DIR", args.run_dir, "has no scored trial to confirm")
    if args.top is None:
        return min(config.confirm.top or DEFAULT_TOP, candidates)
    top = integer("--top", args.top, 1)
    if top > candidates:
        raise SpecError("--top", top, f"the run has {candidates} distinct scored candidates")
    return top


def _same_recipe(recorded: dict, asked: dict, rows: list[dict],
                 overrides: list[tuple[str, str]]) -> None:
    """One statistic mixes no recipes: once confirming trainings exist, the recipe stays."""
    from nas.ledger.confirmation import is_confirmation
    from search_space.errors import SpecError

    trained = sum(map(is_confirmation, rows))
    if asked != recorded and trained:
        flag, item = overrides[-1]
        raise SpecError(flag, item, f"the run's {trained} confirming trainings used "
                        f"{recorded or 'the search recipe'}: one statistic mixes no recipes "
                        "(confirm a copy of the run directory with another recipe instead)")


def _check_reference(config, reference: str | None) -> None:
    """A --reference outside the run's space: one line naming the flag, before any write."""
    from nas.ledger.confirmed import reference_key
    from search_space.errors import SpecError

    try:
        reference_key(config)
    except SpecError as err:
        if reference is None:
            raise
        raise SpecError("--reference", reference, f"is not an architecture of the run's space "
                        f"({err.field} = {err.value!r}: {err.reason})") from None
