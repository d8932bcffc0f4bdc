"""What a Ray trial's last report means for its row: ok, diverged, failed or early_stopped.

Kept apart from `nas.engine.searcher` (which imports Ray) so the translation is tested without Ray.
"""

from __future__ import annotations

from typing import Any

# the keys of a trial's last report that become columns of its row
OUTCOME_KEYS = ("status", "reason", "accuracy", "train_seconds", "epochs", "proxy_resolution",
                "evaluator", "accuracy_std", "seeds")  # the last two: proxy.seeds > 1 only


def trial_outcome(result: dict[str, Any] | None, error: bool,
                  epochs: int | None = None) -> dict[str, Any]:
    """The outcome `Ledger.complete` takes, from Ray's last result of one trial.

    Args:
        result: the trial's last report (None when its worker died first).
        error: Ray says the trial errored (its worker raised or died).
        epochs: proxy epochs of a full trial; a trial the scheduler (ASHA) ended before them is
            `early_stopped`, one it ended at the last epoch is `ok`.
    """
    if error or not result:
        return {"status": "failed", "reason": "the trial's Ray worker failed (see the error "
                "file under RUN_DIR/ray)"}
    outcome = {key: result[key] for key in OUTCOME_KEYS if key in result}
    if outcome.get("status") == "running":  # the scheduler ended it at an epoch report
        done = outcome.get("epochs", 0)
        stopped_early = epochs is None or done < epochs
        outcome["status"] = "early_stopped" if stopped_early else "ok"
        outcome["reason"] = f"stopped by ASHA after epoch {done}" if stopped_early else ""
    return outcome
