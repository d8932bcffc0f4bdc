"""Stop a search whose first trials all failed for one shared reason, or whose run directory
can no longer be written.

A reason every trial shares (data that no trial can load, a broken evaluator, a device that is
not there) is the config's fault, not the candidates': spending the rest of the budget on it
would only repeat it. Candidate-specific failures (one arch runs out of memory) carry different
reasons and never stop a search.
"""

from __future__ import annotations

from typing import Any

from ray.tune import Stopper
from ray.tune.error import TuneError

from search_space.errors import SpecError

WINDOW = 3  # the first trials of a driver session that decide


class FailFast(Stopper):
    """A Tune stopper over the ledger's rows: `stop_all` once the first trials all failed
    alike; `check` (after the tuner returns) turns that into one error line.

    Args:
        ledger: anything with ``rows`` (every journaled row, in order), ``budget`` and ``run``
            (its `RunDir`).
    """

    def __init__(self, ledger: Any, window: int = WINDOW):
        self.ledger = ledger
        self.start = len(ledger.rows)  # rows of earlier sessions (resume) do not count
        self.window = min(window, ledger.budget)
        self.reason: str | None = None
        self.decided = not self.window  # the first trials are in: nothing left to scan

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False  # trials are never stopped one by one here

    def stop_all(self) -> bool:
        if self.ledger.run.write_failed is not None:
            return True
        if not self.decided:
            self._decide()
        return self.reason is not None

    def _decide(self) -> None:
        trained = [r for r in self.ledger.rows[self.start:] if r["status"] != "rejected"]
        first = trained[:self.window]
        if len(first) < self.window:
            return
        self.decided = True
        reasons = {r["reason"] for r in first if r["status"] == "failed"}
        if len(reasons) == 1 and all(r["status"] == "failed" for r in first):
            self.reason = reasons.pop()

    def fit(self, tuner: Any) -> None:
        """`tuner.fit()`, then `check`. Depending on where Tune met our write error, it logs it
        or re-raises it as a TuneError: either way the error line is ours."""
        try:
            tuner.fit()
        except TuneError:
            if self.ledger.run.write_failed is None:
                raise
        self.check()

    def check(self) -> None:
        if self.ledger.run.write_failed is not None:
            raise self.ledger.run.write_failed
        if self.reason is not None:
            raise SpecError("trials", self.reason, f"the first {self.window} trials all failed "
                            "with this; stopped early (fix it, then `nas-search resume`)")
