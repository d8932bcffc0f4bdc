"""One Ray Tune run of proxy trials over a ledger: the search's, or its confirmation's."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from nas.config import SearchConfig
from nas.engine.trial import TrialSetup, run_trial
from nas.ledger.ledger import Ledger
from nas.ledger.run_dir import RunDir
from nas.outputs.tracking import tracking_callbacks


def fit_trials(config: SearchConfig, run: RunDir, ledger: Ledger, searcher: Any,
               num_samples: int, setup: TrialSetup, scheduler: Any = None) -> None:
    """Run `num_samples` trials of `run_trial` that `searcher` proposes, in a fresh Tune
    session folder under RUN_DIR/ray; errors (fail-fast, a failed write) are one line."""
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback

    from nas.engine.fail_fast import FailFast

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: no Tune tables
    trainable = tune.with_resources(tune.with_parameters(run_trial, setup=setup),
                                    {"cpu": config.resources.cpu, "gpu": config.resources.gpu})
    stopper = FailFast(ledger)
    storage = (run.path / "ray").resolve()
    session = f"session-{len(list(storage.glob('session-*'))) + 1}" if storage.exists() \
        else "session-1"
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher, num_samples=num_samples,
            max_concurrent_trials=config.budget.max_concurrent, reuse_actors=True,
            scheduler=scheduler, trial_dirname_creator=_trial_dirname),
        run_config=tune.RunConfig(
            name=session, storage_path=str(storage), verbose=0, stop=stopper,
            failure_config=tune.FailureConfig(max_failures=0),
            callbacks=[JsonLoggerCallback(),
                       *tracking_callbacks(config, run.path, lambda: ledger.rows)]),
    )
    with tune_loggers(default=False):
        stopper.fit(tuner)


@contextlib.contextmanager
def tune_loggers(default: bool) -> Iterator[None]:
    """Tune's default CSV, JSON and TensorBoard loggers on or off for the fits in the block,
    then as before. A search turns them off: they were over a third of a near-zero trial's time
    (benchmarks/trial_overhead.py); the journal is the table, TensorBoard comes when `tracking`
    asks for it, and the JSON logger is passed by hand (Tune's result grid reads it)."""
    key = "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"
    previous = os.environ.pop(key, None)
    if not default:
        os.environ[key] = "1"
    try:
        yield
    finally:
        os.environ.pop(key, None)
        if previous is not None:
            os.environ[key] = previous


def _trial_dirname(trial) -> str:
    return f"trial-{trial.trial_id}"  # Ray's default spells out the whole config
