"""The books that make a search durable: journal, controller state, asks in flight, replay.

A `Ledger` stands between a controller (plain ask/tell) and whatever trains the candidates (Ray
Tune through `nas.engine.searcher`, or a test calling it directly). Its rules:

- a finished trial is journaled in the run directory *before* the controller hears of it;
- the controller's state, the asks in flight and the number of rows told are saved after every
  fresh ask (the controller's random numbers moved on: an ask made since the last save could
  otherwise come back as a second, different trial), and after a tell that no ask follows
  (the budget is covered); any other tell is saved with the next ask, since `restore` re-tells
  the journaled rows the saved state missed anyway;
- `restore` replays after a crash: it re-tells the journaled rows the saved state missed and
  requeues the asks that were still training, so nothing finished is lost, nothing is told
  twice, and the restored controller proposes what the uninterrupted one would have.

No Ray here.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from nas.ledger.run_dir import SCORED, RunDir
from objectives import analytic_counts

if TYPE_CHECKING:
    from controllers import AskTell
    from nas.config import ObjectiveConfig
    from search_space import Arch

log = logging.getLogger(__name__)

STATE_VERSION = 1
MAX_REJECTIONS = 1000  # consecutive out-of-band proposals before giving up
CHOSEN = "chosen"  # column set on the rows of `propose_tokens`: outside the budget
REJECTED = {"status": "rejected", "reason": "FLOPs outside the configured band"}


class CandidateSpace(Protocol):
    """What the ledger needs from a space: a `SearchSpace`, or a study's enumerated space."""

    flops_band: tuple[float | None, float | None]

    def encode(self, arch: Arch) -> list[int]: ...

    def decode(self, tokens: Sequence[int]) -> Arch: ...

    def in_band(self, arch: Arch) -> bool: ...


@runtime_checkable
class RowFields(Protocol):
    """A space whose candidates carry extra columns (a grid point's alpha, beta, gamma)."""

    def row_fields(self, tokens: list[int]) -> dict[str, Any]: ...


class Ledger:
    """Runs `controller` for `budget` trained candidates, journaling into `run`.

    Args:
        controller: proposes and learns (see `controllers.Controller`).
        space: decodes the controller's token lists, and holds the FLOPs band.
        run: the run directory.
        budget: trials to train in the whole search (a resumed search counts earlier ones);
            rejected proposals do not count.
        objective: scores a row (`ObjectiveConfig.score`).
        resources: CPUs and GPUs per trial, recorded with each row.
        epochs: proxy epochs of a full trial (what the trial driver compares an ASHA-stopped
            trial with; see `nas.ledger.trial_outcome.trial_outcome`).
        on_row: called with each trained row once it is journaled, told and saved.

    After any exception the ledger is spent: build a fresh one over the run and `restore`.
    """

    def __init__(self, controller: AskTell, space: CandidateSpace, run: RunDir, budget: int,
                 objective: ObjectiveConfig, resources: tuple[float, float] = (1.0, 0.0),
                 epochs: int | None = None,
                 on_row: Callable[[dict[str, Any]], None] | None = None):
        self.controller, self.space, self.run = controller, space, run
        self.budget, self.objective, self.resources = budget, objective, resources
        self.epochs, self.on_row = epochs, on_row
        self._pending: dict[str, list[int]] = {}  # trial key -> tokens, proposed, not completed
        self._requeue: list[list[int]] = []  # asks of a dead driver, proposed again first
        self._chosen: dict[str, dict] = {}  # `propose_tokens` key -> its row's extra columns
        self.rows: list[dict[str, Any]] = run.rows()
        self.best: float | None = _best(self.rows)

    # --- counts -------------------------------------------------------------------------

    @property
    def trained(self) -> int:
        return searched(self.rows)

    @property
    def remaining(self) -> int:
        return max(0, self.budget - self.trained)

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    # --- state --------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What `restore` continues from (plain data; the run's search.pt)."""
        asked = [t for key, t in self._pending.items() if key not in self._chosen]
        in_flight = [list(t) for t in asked] + [list(t) for t in self._requeue]
        return {"version": STATE_VERSION, "controller": self.controller.state_dict(),
                "in_flight": in_flight, "told": len(self.rows)}

    def _save(self) -> None:
        self.run.save_state(self.state())

    def restore(self) -> None:
        """Continue from the run directory (see the module docstring); safe to repeat."""
        self.rows = self.run.rows(needs=("tokens",))  # replayed by their tokens
        self.best = _best(self.rows)
        self._pending, self._chosen = {}, {}
        state = self.run.load_state()  # None: killed before anything was saved
        if state is not None:
            self.controller.load_state_dict(state["controller"])
        in_flight = [list(t) for t in state["in_flight"]] if state else []
        told = state["told"] if state else 0
        for row in self.rows[told:]:  # journaled, but the driver died before telling
            tokens = row["tokens"]
            if tokens in in_flight:
                in_flight.remove(tokens)
            self.controller.tell(self.space.decode(tokens), _reward(row))
        self._requeue = in_flight
        self._save()

    # --- trials -------------------------------------------------------------------------

    def propose(self, key: str) -> list[int] | None:
        """The tokens trial `key` is to train, or None once the budget is covered.

        Asks of a dead driver come first, then the controller's; a proposal outside the FLOPs
        band is journaled as `rejected`, told as a failure, and replaced.

        Raises:
            RuntimeError: MAX_REJECTIONS proposals in a row fell outside the band.
        """
        if self.trained + self.in_flight >= self.budget:
            return None
        for _ in range(MAX_REJECTIONS):
            if self._requeue:
                self._pending[key] = self._requeue.pop(0)  # still in flight: nothing to save
            else:
                self._pending[key] = self.space.encode(self.controller.ask())
                self._save()  # even if rejected below: restore must not tell an unsaved ask
            if self.space.in_band(self.space.decode(self._pending[key])):
                return list(self._pending[key])
            self._finish(key, REJECTED, f"rejected-{len(self.rows)}")
        raise RuntimeError(f"{MAX_REJECTIONS} proposals in a row fell outside the FLOPs band "
                           f"{self.space.flops_band}; widen flops_band")

    def propose_tokens(self, key: str, tokens: Sequence[int],
                       fields: dict[str, Any] | None = None) -> list[int]:
        """Register trial `key` for a candidate chosen by the caller, not asked of the controller
        (e.g. a confirming training of one of the best candidates).

        Its outcome is completed, journaled and told like any other row; the row carries
        ``chosen: true`` and `fields` (a confirmation's ``stage``, ``confirm_seed``), and does
        not count against the budget (`trained` skips it). It is not saved as an ask in
        flight: after a crash the caller chooses again from the journal (`restore` does not
        requeue it; `nas.ledger.confirmation.plan` is such a choice).
        """
        tokens = list(tokens)
        self.space.decode(tokens)  # SpecError for tokens outside the space
        self._pending[key] = tokens
        self._chosen[key] = dict(fields or {})
        return list(tokens)

    def chosen_in_flight(self) -> list[tuple[list[int], dict[str, Any]]]:
        """(tokens, fields) of the `propose_tokens` trials still training."""
        return [(self._pending[key], dict(fields)) for key, fields in self._chosen.items()]

    def complete(self, key: str, outcome: dict[str, Any]) -> dict[str, Any] | None:
        """Record trial `key`'s outcome; returns its row (None: unknown or repeated key).

        Args:
            key: as given to `propose`.
            outcome: status, reason, accuracy, train_seconds, epochs, proxy_resolution and any
                extra columns. A scored status (ok, early_stopped) without a finite accuracy
                becomes `failed`.
        """
        if key not in self._pending:
            log.warning("trial %s completed twice or was never proposed; ignored", key)
            return None
        row = self._finish(key, _checked(outcome), key)
        if self.on_row is not None:
            self.on_row(row)
        return row

    def _finish(self, key: str, outcome: dict[str, Any], trial_id: str) -> dict[str, Any]:
        tokens = self._pending[key]
        row = self._row(tokens, outcome, trial_id)
        if key in self._chosen:
            row.update({CHOSEN: True, **self._chosen[key]})
        self.rows.append(row)
        self.run.append(row, self.rows)  # durable first ...
        del self._pending[key]
        self._chosen.pop(key, None)
        self.controller.tell(self.space.decode(tokens), _reward(row))  # ... then told
        if self.trained + self.in_flight >= self.budget:  # else the next ask saves it
            self._save()
        if row["reward"] is not None and (self.best is None or row["reward"] > self.best):
            self.best = row["reward"]
        return row

    def _row(self, tokens: list[int], outcome: dict[str, Any], trial_id: str) -> dict[str, Any]:
        arch = self.space.decode(tokens)
        counts = analytic_counts(arch, arch.resolution, self.objective.num_classes)
        row = {"trial_id": trial_id, "status": "failed", "reason": "", "accuracy": None,
               "train_seconds": 0.0, "epochs": 0, "proxy_resolution": None, **outcome,
               "flops": counts.flops, "params": counts.params,
               "cpus": self.resources[0], "gpus": self.resources[1],
               "tokens": list(tokens), "arch": arch.to_yaml(), "finished_at": time.time()}
        if isinstance(self.space, RowFields):
            row.update(self.space.row_fields(tokens))
        row["reward"] = self.objective.score(row) if row["status"] in SCORED else None
        return row


def searched(rows: list[dict[str, Any]]) -> int:
    """The search's trained trials: neither rejected nor chosen outside the budget."""
    return sum(1 for row in rows if row["status"] != "rejected" and not row.get(CHOSEN))


def _checked(outcome: dict[str, Any]) -> dict[str, Any]:
    """Plain floats (an evaluator may return numpy scalars), NaN or inf accuracy as None (the
    journal stays strict JSON), and no score without an accuracy."""
    outcome = dict(outcome)
    for key in ("accuracy", "train_seconds"):
        if outcome.get(key) is not None:
            outcome[key] = float(outcome[key])
    accuracy = outcome.get("accuracy")
    if accuracy is not None and not math.isfinite(accuracy):
        outcome["accuracy"] = None
    if outcome.get("status") in SCORED and outcome.get("accuracy") is None:
        outcome.update(status="failed", reason=f"no finite accuracy reported ({accuracy})")
    return outcome


def _reward(row: dict[str, Any]) -> float | None:
    return row["reward"] if row["status"] in SCORED else None


def _best(rows: list[dict[str, Any]]) -> float | None:
    rewards = [r["reward"] for r in rows if r.get("reward") is not None]
    return max(rewards) if rewards else None
