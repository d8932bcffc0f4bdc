"""The one adapter from a controller (plain ask/tell) to Ray Tune's `Searcher`.

Ray pulls: `suggest(trial_id)` asks the controller for a candidate and `on_trial_complete` tells it
the reward. Around that the adapter keeps the books that make a search durable: each finished
trial is journaled in the run directory *before* the controller hears of it, and the controller's
state plus the asks in flight are saved after every tell. `restore_run` replays that after a
crash: it re-tells journaled trials the saved state missed and re-queues the asks that were still
training, so no candidate is lost and the controller continues where it stopped (asks made after
the last save are proposed again by the restored controller: same state, same random numbers).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from ray.tune.search import Searcher

from nas.config import ObjectiveConfig
from nas.run_dir import SCORED, RunDir
from objectives import analytic_counts
from search_space import Arch

log = logging.getLogger(__name__)

STATE_VERSION = 1
MAX_REJECTIONS = 1000  # consecutive out-of-band proposals before giving up


class ControllerSearcher(Searcher):
    """Runs `controller` under Ray Tune for `budget` trials, journaling into `run`.

    Args:
        controller: an object with ask() -> Arch, tell(arch, reward), state_dict(),
            load_state_dict(); see `controllers`.
        space: what the controller proposes from: a `SearchSpace`, or anything with its
            encode, decode, in_band and flops_band (a `nas.grid.GridSpace`).
        run: the run directory.
        budget: trials to train in the whole search (a resumed search counts earlier ones).
        objective: turns accuracy and FLOPs into the reward the controller maximises.
        resources: CPUs and GPUs per trial, recorded with each row.
        progress: called with one line per finished trial.
        epochs: proxy epochs of a full trial (a trial stopped before is `early_stopped`).
    """

    def __init__(self, controller: Any, space: Any, run: RunDir, budget: int,
                 objective: ObjectiveConfig, resources: tuple[float, float] = (1.0, 0.0),
                 progress: Callable[[str], None] = print, epochs: int | None = None):
        super().__init__(metric=None, mode=None)
        self.controller, self.space, self.run = controller, space, run
        self.budget, self.objective, self.resources = budget, objective, resources
        self.progress, self.epochs = progress, epochs
        self.pending: dict[str, list[int]] = {}  # Ray trial id -> tokens, asked but not told
        self.requeue: list[list[int]] = []  # asks of a dead driver, to train again first
        self.rows = run.rows()
        self.best: float | None = _best(self.rows)

    # --- bookkeeping --------------------------------------------------------------------

    @property
    def trained(self) -> int:
        return sum(1 for row in self.rows if row["status"] != "rejected")

    @property
    def remaining(self) -> int:
        return max(0, self.budget - self.trained)

    def state(self) -> dict[str, Any]:
        in_flight = [list(t) for t in self.pending.values()] + [list(t) for t in self.requeue]
        return {"version": STATE_VERSION, "controller": self.controller.state_dict(),
                "in_flight": in_flight, "told": len(self.rows)}

    def _save(self) -> None:
        self.run.save_state(self.state())

    def restore_run(self) -> None:
        """Continue a search from its run directory (see module docstring)."""
        state = self.run.load_state()  # None: killed before the first tell was saved
        if state is not None:
            self.controller.load_state_dict(state["controller"])
        in_flight = [list(t) for t in state["in_flight"]] if state else []
        told = state["told"] if state else 0
        for row in self.rows[told:]:  # journaled, but the driver died before telling
            tokens = row["tokens"]
            if tokens in in_flight:
                in_flight.remove(tokens)
            self.controller.tell(self.space.decode(tokens), _reward(row))
        self.requeue = in_flight
        self._save()

    # --- Ray's Searcher interface -------------------------------------------------------

    def suggest(self, trial_id: str) -> dict | str | None:
        if self.trained + len(self.pending) >= self.budget:
            return Searcher.FINISHED
        tokens = self.requeue.pop(0) if self.requeue else self._ask_in_band()
        # no save here: a restored controller re-proposes exactly the asks made since its
        # last save (same state, same RNG), so saving once per tell loses nothing
        self.pending[trial_id] = tokens
        config = {"tokens": tokens, "arch": self.space.decode(tokens).to_dict()}
        if hasattr(self.space, "trial_config"):  # a job's own proxy changes (nas.job_space)
            config.update(self.space.trial_config(tokens))
        return config

    def _ask_in_band(self) -> list[int]:
        for _ in range(MAX_REJECTIONS):
            arch = self.controller.ask()
            tokens = self.space.encode(arch)
            if self.space.in_band(arch):
                return tokens
            self._record(tokens, arch, {"status": "rejected",
                                        "reason": "FLOPs outside the configured band"})
        raise RuntimeError(f"{MAX_REJECTIONS} proposals in a row fell outside the FLOPs band "
                           f"{self.space.flops_band}; widen flops_band")

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        tokens = self.pending.pop(trial_id, None)
        if tokens is None:
            log.warning("trial %s completed twice or was never suggested; ignored", trial_id)
            return
        arch = self.space.decode(tokens)
        outcome = _outcome(result, error, self.epochs)
        self._record(tokens, arch, outcome, trial_id)

    def _record(self, tokens: list[int], arch: Arch, outcome: dict[str, Any],
                trial_id: str = "") -> None:
        counts = analytic_counts(arch, arch.resolution, self.objective.num_classes)
        row = {"trial_id": trial_id or f"rejected-{len(self.rows)}", "status": "failed",
               "reason": "", "accuracy": None, "reward": None, "train_seconds": 0.0,
               "epochs": 0, "proxy_resolution": None, **outcome,
               "flops": counts.flops, "params": counts.params,
               "cpus": self.resources[0], "gpus": self.resources[1],
               "tokens": list(tokens), "arch": arch.to_yaml(), "finished_at": time.time()}
        if hasattr(self.space, "row_fields"):  # e.g. a grid point's alpha, beta, gamma
            row.update(self.space.row_fields(tokens))
        if row["status"] in SCORED:
            row["reward"] = self.objective.reward(row["accuracy"], row["flops"])
        self.rows.append(row)
        self.run.append(row, self.rows)  # durable first ...
        self.controller.tell(arch, _reward(row))  # ... then the controller learns of it
        self._save()
        if row["status"] != "rejected":
            self._report(row)

    def _report(self, row: dict[str, Any]) -> None:
        if row["reward"] is not None and (self.best is None or row["reward"] > self.best):
            self.best = row["reward"]
        acc = "-" if row["accuracy"] is None else f"{row['accuracy']:.3f}"
        reward = "-" if row["reward"] is None else f"{row['reward']:.4f}"
        best = "-" if self.best is None else f"{self.best:.4f}"
        note = f"  {row['status']}: {row['reason']}" if row["status"] != "ok" else ""
        self.progress(f"[{self.trained:>{len(str(self.budget))}}/{self.budget}] "
                      f"{row['trial_id']:<14} acc {acc}  FLOPs {row['flops'] / 1e6:7.1f}M  "
                      f"reward {reward}  best {best}  {row['train_seconds']:5.1f}s{note}")

    def save(self, checkpoint_path: str) -> None:
        """Ray's periodic experiment checkpoint; ours (`restore_run`) is written on every tell."""
        import torch

        torch.save(self.state(), checkpoint_path)


def _reward(row: dict[str, Any]) -> float | None:
    return row["reward"] if row["status"] in SCORED else None


def _best(rows: list[dict[str, Any]]) -> float | None:
    rewards = [r["reward"] for r in rows if r.get("reward") is not None]
    return max(rewards) if rewards else None


def _outcome(result: dict | None, error: bool, epochs: int | None = None) -> dict[str, Any]:
    """A row's status from Ray's last result: ok, diverged, failed or early_stopped."""
    if error or not result:
        return {"status": "failed", "reason": "the trial's Ray worker failed (see the error "
                "file under RUN_DIR/ray)"}
    keys = ("status", "reason", "accuracy", "train_seconds", "epochs", "proxy_resolution")
    outcome = {k: result[k] for k in keys if k in result}
    for key in ("accuracy", "train_seconds"):  # a user evaluator may return numpy scalars
        if outcome.get(key) is not None:
            outcome[key] = float(outcome[key])
    if outcome.get("status") == "running":  # the scheduler (ASHA) ended it at an epoch report
        stopped_early = epochs is None or outcome.get("epochs", 0) < epochs
        outcome["status"] = "early_stopped" if stopped_early else "ok"
        outcome["reason"] = f"stopped by ASHA after epoch {outcome.get('epochs')}" \
            if stopped_early else ""
    accuracy = outcome.get("accuracy")
    if outcome.get("status") in ("ok", "early_stopped") and (
            accuracy is None or not math.isfinite(accuracy)):
        outcome.update(status="failed", reason=f"no finite accuracy reported ({accuracy})")
    return outcome
