"""`search`: a controller-driven architecture search on Ray Tune, from config to run directory."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import controllers
from controllers import AskTell
from nas.config import SearchConfig, check_reachable
from nas.grid import GridSpace, grid_parts
from nas.ledger import Ledger
from nas.ray_searcher import ControllerSearcher
from nas.ray_session import ray_session
from nas.run_dir import RunDir
from nas.trial import TrialSetup, load_evaluator, run_trial
from objectives import analytic_flops
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
           progress: Callable[[str], None] = print, parts: tuple | None = None) -> RunDir:
    """Run (or resume) a search to its budget and return its run directory.

    Args:
        config: the validated experiment config.
        output: the run directory; a new one must be empty. Defaults to runs/NAME-TIMESTAMP.
        resume: continue the search in `output` from its saved state.
        progress: receives one line per finished trial.
        parts: (space, controller, budget) instead of the config's (e.g. `nas.job_space`).
    """
    check_reachable(config)  # everything below fails, if it must, before Ray starts
    if config.evaluate:
        load_evaluator(config.evaluate)
    space, controller, budget = parts or _parts(config)
    if resume:
        run = RunDir.open(output)
    else:
        run = RunDir.create(output or default_output(config), config.to_yaml())
        (run.path / "reference.yaml").write_text(space.reference.to_yaml())
    resources = (config.resources.cpu, config.resources.gpu)
    ledger = Ledger(controller, space, run, budget, config.objective, resources,
                    epochs=config.proxy.epochs,  # the line reads the ledger's counts:
                    on_row=lambda row: progress(trial_line(row, ledger)))
    if resume:
        ledger.restore()
    if ledger.remaining == 0:
        run.write_tables()  # a driver killed right after its last trial left them stale
        return run
    run.mark_driver()
    try:
        with ray_session(config.address):
            _fit(config, run, ledger, space.reference.resolution)
    finally:
        run.write_tables()
        run.clear_driver()
    if ledger.remaining:
        progress(f"stopped with {ledger.remaining} of {budget} trials to go; continue with "
                 f"`nas-search resume {run.path}`")
    return run


def _parts(config: SearchConfig) -> tuple[SearchSpace | GridSpace, AskTell, int]:
    """(space, controller, budget): a search's, or the alpha/beta/gamma grid's."""
    if config.grid is not None:
        space, controller = grid_parts(config.grid)
        return space, controller, len(space.points)
    space = build_space(config)
    controller = controllers.make(config.controller.name, space, seed=config.seed,
                                  **config.controller.options)
    return space, controller, config.budget.num_samples


def trial_line(row: dict[str, Any], ledger: Ledger) -> str:
    """One finished trial, as `search` prints it: progress, accuracy, FLOPs, reward, best."""
    acc = "-" if row["accuracy"] is None else f"{row['accuracy']:.3f}"
    reward = "-" if row["reward"] is None else f"{row['reward']:.4f}"
    best = "-" if ledger.best is None else f"{ledger.best:.4f}"
    note = f"  {row['status']}: {row['reason']}" if row["status"] != "ok" else ""
    return (f"[{ledger.trained:>{len(str(ledger.budget))}}/{ledger.budget}] "
            f"{row['trial_id']:<14} acc {acc}  FLOPs {row['flops'] / 1e6:7.1f}M  "
            f"reward {reward}  best {best}  {row['train_seconds']:5.1f}s{note}")


def _fit(config: SearchConfig, run: RunDir, ledger: Ledger, reference_resolution: int) -> None:
    from ray import tune

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: no Tune tables
    setup = TrialSetup(config.proxy, config.objective, config.evaluate, reference_resolution)
    trainable = tune.with_resources(tune.with_parameters(run_trial, setup=setup),
                                    {"cpu": config.resources.cpu, "gpu": config.resources.gpu})
    storage = (run.path / "ray").resolve()
    session = f"session-{len(list(storage.glob('session-*'))) + 1}" if storage.exists() \
        else "session-1"
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=ControllerSearcher(ledger), num_samples=ledger.remaining,
            max_concurrent_trials=config.budget.max_concurrent, reuse_actors=True,
            scheduler=_scheduler(config), trial_dirname_creator=_trial_dirname),
        run_config=tune.RunConfig(
            name=session, storage_path=str(storage), verbose=0,
            failure_config=tune.FailureConfig(max_failures=0)),
    )
    tuner.fit()


def _trial_dirname(trial) -> str:
    return f"trial-{trial.trial_id}"  # Ray's default spells out the whole config


def _scheduler(config: SearchConfig):
    if not config.early_stopping.asha:
        return None
    from ray.tune.schedulers import ASHAScheduler

    stop = config.early_stopping
    return ASHAScheduler(time_attr="epoch", metric="accuracy", mode="max",
                         max_t=config.proxy.epochs, grace_period=stop.grace_period,
                         reduction_factor=stop.reduction_factor)
