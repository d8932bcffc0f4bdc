"""`search`: a controller-driven architecture search on Ray Tune, from config to run directory."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import controllers
from controllers import AskTell
from nas.config import SearchConfig
from nas.engine.confirming import confirmations, reference_tokens, run_confirmation
from nas.engine.latency_actor import WithLatency, build_table, table_archs, table_parts
from nas.engine.oneshot import check_supernet, run_oneshot
from nas.engine.preflight import check_cluster, preflight
from nas.engine.ray_session import ray_session
from nas.engine.searcher import ControllerSearcher
from nas.engine.trial import TrialSetup, load_evaluator
from nas.engine.tuning import fit_trials
from nas.ledger.confirmed import write_confirmed
from nas.ledger.kept_weights import WeightsKeeper
from nas.ledger.ledger import Ledger
from nas.ledger.run_dir import RunDir
from nas.outputs.comparison import write_comparison
from nas.outputs.progress import TrialProgress
from nas.outputs.tracking import check_installed
from objectives import LatencyTable, analytic_flops
from search_space import SearchSpace, load_space


def build_space(config: SearchConfig) -> SearchSpace:
    """The config's space, with its FLOPs band (from the config or the space file)."""
    space = load_space(config.space, counter=analytic_flops)
    if config.flops_band is not None:
        space = space.with_band(*config.flops_band, counter=analytic_flops)
    if space.flops_band != (None, None):
        space.sample(np.random.default_rng(config.seed))  # a band nothing fits: fail now
    return space


def default_output(config: SearchConfig) -> Path:
    return Path("runs") / f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def search(config: SearchConfig, output: str | Path | None = None, resume: bool = False,
           progress: Callable[[str], None] = print, live: bool | None = False,
           parts: tuple | None = None) -> RunDir:
    """Run (or resume) a search to its budget and return its run directory.

    Args:
        config: the validated experiment config.
        output: the run directory; a new one must be empty. Defaults to runs/NAME-TIMESTAMP.
        resume: continue the search in `output` from its saved state.
        progress: receives one line per finished trial.
        live: keep a live progress line on stdout (None: when stdout is a terminal); the
            per-trial lines then go to stdout above it instead of to `progress`.
        parts: (space, controller, budget) instead of the config's space and controller: a
            study's enumerated space, or the scaling grid's (`nas.api.search`).
    """
    table = _check(config, parts)  # everything below fails, if it must, before Ray starts
    confirming = parts is None and config.confirm.top > 0  # a grid's or a study's: never
    parts = parts or _parts(config)
    space, _, budget = parts
    run = _open_run(config, output, resume, space)  # the first file written
    ledger = _ledger(config, run, parts, resume, table)
    if ledger.remaining == 0 and not (confirming and confirmations(config, ledger)):
        _write_tables(run, config)  # a driver killed right after its last trial left them stale
        return run
    run.mark_driver()
    watch = TrialProgress(budget, ledger.rows, running=lambda: ledger.in_flight,
                          desc=config.name, live=live, out=progress)
    ledger.on_row = _row_sink(watch, config, run, resume)
    try:
        with watch, ray_session(config.address):
            _drive(config, run, ledger, space, table, progress,
                   watch.confirming if confirming else None)
    finally:
        _write_tables(run, config)
        run.clear_driver()
    if ledger.remaining:
        progress(f"stopped with {ledger.remaining} of {budget} trials to go; continue with "
                 f"`nas-search resume {run.path}`")
    return run


def _write_tables(run: RunDir, config: SearchConfig) -> None:
    """trials.csv/.parquet, confirmed.csv once anything is confirmed, compare.json once a
    reference is trained."""
    run.write_tables()
    write_confirmed(run, config.objective)
    write_comparison(run, config)


def _check(config: SearchConfig, parts: tuple | None) -> LatencyTable | None:
    """The preflight checks; returns the search's latency table (None: the cost is FLOPs)."""
    if config.grid is not None and parts is None:
        raise ValueError("a scaling grid runs through nas.api.search, which builds its parts")
    table = preflight(config)
    check_installed(config.tracking)
    if config.evaluate:
        load_evaluator(config.evaluate)
    return table


def _ledger(config: SearchConfig, run: RunDir, parts: tuple, resume: bool,
            table: LatencyTable | None) -> Ledger:
    """The ledger over `parts` (space, controller, budget), restored on resume, its rows'
    latency looked up in `table` (None: the cost is FLOPs)."""
    space, controller, budget = parts
    ledger = Ledger(controller, space if table is None else WithLatency(space, table), run,
                    budget, config.objective, (config.resources.cpu, config.resources.gpu),
                    epochs=config.proxy.epochs)
    if resume:
        ledger.restore()
    return ledger


def _drive(config: SearchConfig, run: RunDir, ledger: Ledger, space: SearchSpace,
           table: LatencyTable | None, progress: Callable[[str], None],
           confirm_round: Callable[[int, int], None] | None) -> None:
    """Inside the Ray session: the latency table first, then the trials (or the supernet)
    still to train, then (`confirm_round` given: it hears of each round) the confirmation."""
    if config.address:
        check_cluster(config)
    if table is not None:  # alone on the device, before any trial starts
        build_table(table, table_parts(space, config.objective.num_classes),
                    table_archs(space, config.seed), progress)
    if ledger.remaining and config.evaluator == "supernet":
        run_oneshot(config, run, ledger, space, progress)
    elif ledger.remaining:
        _fit(config, run, ledger, space.reference.resolution)
    if confirm_round is not None and ledger.remaining == 0:  # done: confirm its best
        run_confirmation(config, run, ledger, space.reference.resolution, confirm_round,
                         progress)


def _open_run(config: SearchConfig, output: str | Path | None, resume: bool,
              space: SearchSpace) -> RunDir:
    if resume:
        run = RunDir.open(output)
        check_supernet(config, run, space)  # damaged: one line, before search.pt is rewritten
        return run
    return RunDir.create(output or default_output(config), config.to_yaml(),
                         {"reference.yaml": space.reference.to_yaml()})


def _row_sink(watch: TrialProgress, config: SearchConfig, run: RunDir,
              resume: bool) -> Callable[[dict[str, Any]], None]:
    """What each journaled row goes to: the progress line, and the top-K weights keeper."""
    keeper = (WeightsKeeper(run.path, config.keep_weights, run.rows() if resume else [])
              if config.keep_weights else None)

    def on_row(row: dict[str, Any]) -> None:
        watch.on_row(row)  # the trial's line, and the live progress line on a terminal
        if keeper is not None:
            keeper.offer(row)

    return on_row


def _parts(config: SearchConfig) -> tuple[SearchSpace, AskTell, int]:
    """(space, controller, budget) of the config's search; a confirm.reference the space does
    not hold fails here, before anything is written."""
    space = build_space(config)
    if config.confirm.top:
        reference_tokens(config, space)
    controller = controllers.make(config.controller.name, space, seed=config.seed,
                                  **config.controller.options)
    return space, controller, config.budget.num_samples


def _fit(config: SearchConfig, run: RunDir, ledger: Ledger, reference_resolution: int) -> None:
    setup = TrialSetup(config.proxy, config.objective, config.evaluate, reference_resolution,
                       weights_dir=str(run.path.resolve()) if config.keep_weights else None)
    fit_trials(config, run, ledger, ControllerSearcher(ledger), ledger.remaining, setup,
               _scheduler(config))


def _scheduler(config: SearchConfig):
    if not config.early_stopping.asha:
        return None
    from ray.tune.schedulers import ASHAScheduler

    stop = config.early_stopping
    return ASHAScheduler(time_attr="epoch", metric="accuracy", mode="max",
                         max_t=config.proxy.epochs, grace_period=stop.grace_period,
                         reduction_factor=stop.reduction_factor)
