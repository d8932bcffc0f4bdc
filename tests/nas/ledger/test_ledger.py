"""The ledger without Ray: outcomes, the budget, the FLOPs band, and replay after a crash.

Each test drives a real controller over the real b0 space and a real run directory, with
synthetic outcomes standing in for training.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import controllers
from nas.config import ObjectiveConfig
from nas.ledger.ledger import CandidateSpace, Ledger
from nas.ledger.run_dir import RunDir
from nas.ledger.trial_outcome import trial_outcome
from objectives import analytic_flops
from search_space import SearchSpace, load_space

SPACE = load_space("b0", counter=analytic_flops)
SMALL: dict[str, dict] = {"evolution": {"population_size": 4, "tournament_size": 2},
                          "ppo": {"batch_size": 3, "epochs": 1, "hidden_size": 8},
                          "reinforce": {"batch_size": 3}}


@pytest.fixture(autouse=True)
def _quick_disk(monkeypatch):
    """Crashes here are exceptions, not power cuts: skip fsync and the parquet/CSV tables."""
    monkeypatch.setattr("nas.ledger.run_dir.os.fsync", lambda fd: None)
    monkeypatch.setattr(RunDir, "write_tables", lambda self, rows=None: None)


def ledger_over(path: Path, name: str = "evolution", budget: int = 6,
                space: CandidateSpace = SPACE,
                on_row: Callable | None = None) -> Ledger:
    """A ledger of a fresh `name` controller (seed 0, made over the unbanded b0 space, so a
    banded `space` rejects some of its proposals) over the run directory at `path`."""
    run = RunDir(path)
    run.path.mkdir(exist_ok=True)
    ctrl = controllers.make(name, SPACE, seed=0, **SMALL.get(name, {}))
    return Ledger(ctrl, space, run, budget, ObjectiveConfig(), epochs=3, on_row=on_row)


def trained(tokens: list[int]) -> dict[str, Any]:
    """A synthetic training outcome, a function of the candidate; one in five fails."""
    if sum(tokens) % 5 == 0:
        return {"status": "failed", "reason": "synthetic failure", "epochs": 0}
    return {"status": "ok", "reason": "", "accuracy": 0.3 + sum(tokens) % 10 / 20,
            "train_seconds": 1.0, "epochs": 3, "proxy_resolution": 16}


@functools.cache
def band_for(name: str) -> SearchSpace:
    """b0 banded between the lowest and the median FLOPs of the controller's first proposals:
    some of its proposals fall outside, whichever controller it is."""
    ctrl = controllers.make(name, SPACE, seed=0, **SMALL.get(name, {}))
    flops = sorted(analytic_flops(ctrl.ask()) for _ in range(12))
    return SPACE.with_band(flops[0], flops[6], counter=analytic_flops)


# --- outcomes ----------------------------------------------------------------------------------

def test_a_completion_reported_twice_is_journaled_and_told_once(tmp_path):
    ledger = ledger_over(tmp_path)
    tokens = ledger.propose("a")
    row = ledger.complete("a", trained(tokens))
    assert row is not None and row["tokens"] == tokens
    assert ledger.complete("a", trained(tokens)) is None
    assert ledger.complete("never-proposed", trained(tokens)) is None
    assert RunDir(tmp_path).rows() == ledger.rows == [row]
    assert ledger.controller.num_told == 1


def test_a_failed_worker_is_a_failed_row_told_as_a_failure(tmp_path):
    ledger = ledger_over(tmp_path)
    ledger.propose("a")
    row = ledger.complete("a", trial_outcome(None, error=True))
    assert row["status"] == "failed" and "worker failed" in row["reason"]
    assert row["reward"] is None and row["flops"] > 0
    assert (ledger.trained, ledger.controller.num_failed) == (1, 1)  # it used up budget


@pytest.mark.parametrize("accuracy", [math.nan, np.float32("inf"), None])
def test_no_finite_accuracy_fails_the_trial(tmp_path, accuracy):
    ledger = ledger_over(tmp_path)
    ledger.propose("a")
    result = {"status": "ok", "reason": "", "accuracy": accuracy, "epochs": 3}
    row = ledger.complete("a", trial_outcome(result, error=False, epochs=3))
    assert row["status"] == "failed" and "no finite accuracy" in row["reason"]
    assert row["accuracy"] is None and row["reward"] is None
    assert ledger.controller.num_failed == 1
    assert RunDir(tmp_path).rows() == [row]  # strict JSON: no NaN in the journal


def test_asha_stopped_and_completed_trials_are_both_scored(tmp_path):
    ledger = ledger_over(tmp_path)
    rows = []
    for key, epoch in (("stopped", 1), ("full", 3)):
        ledger.propose(key)
        result = {"status": "running", "accuracy": np.float64(0.5), "epochs": epoch,
                  "train_seconds": 2.0, "time_this_iter_s": 1.0}
        rows.append(ledger.complete(key, trial_outcome(result, error=False, epochs=3)))
    assert [r["status"] for r in rows] == ["early_stopped", "ok"]
    assert rows[0]["reason"] == "stopped by ASHA after epoch 1" and rows[1]["reason"] == ""
    assert all(r["reward"] == ObjectiveConfig().reward(0.5, r["flops"]) for r in rows)
    assert "time_this_iter_s" not in rows[0]  # Ray's own keys are not columns
    assert ledger.controller.num_failed == 0
    assert ledger.best == max(r["reward"] for r in rows)


def test_the_budget_counts_trials_in_flight(tmp_path):
    printed = []
    ledger = ledger_over(tmp_path, budget=3, on_row=printed.append)
    proposed = {key: ledger.propose(key) for key in "abc"}
    assert None not in proposed.values()
    assert ledger.propose("d") is None  # 0 trained + 3 in flight
    ledger.complete("a", trained(proposed["a"]))
    assert ledger.propose("d") is None  # 1 trained + 2 in flight
    for key in "bc":
        ledger.complete(key, trained(proposed[key]))
    assert (ledger.trained, ledger.remaining, ledger.in_flight) == (3, 0, 0)
    assert ledger.propose("e") is None
    assert printed == ledger.rows  # on_row saw every trained row, in order


def test_a_chosen_candidate_is_journaled_and_told_outside_the_budget(tmp_path):
    ledger = ledger_over(tmp_path, budget=2)
    for key in "ab":
        ledger.complete(key, trained(ledger.propose(key)))
    assert ledger.propose("c") is None
    told = []
    ledger.controller.tell = lambda arch, reward: told.append((SPACE.encode(arch), reward))
    best = ledger.rows[0]["tokens"]
    assert ledger.propose_tokens("again", best) == best
    assert ledger.in_flight == 1 and ledger.state()["in_flight"] == []  # not an ask to requeue
    row = ledger.complete("again", {**trained(best), "evaluator": "proxy"})
    assert (row["tokens"], row["evaluator"], row["chosen"]) == (best, "proxy", True)
    assert told == [(best, row["reward"])]
    assert ledger.rows[-1] == row and RunDir(tmp_path).rows()[-1] == row
    assert (ledger.trained, ledger.remaining, ledger.in_flight) == (2, 0, 0)  # beyond the budget
    ledger.restore()
    assert (ledger.trained, ledger.in_flight) == (2, 0) and ledger.propose("d") is None


@pytest.mark.parametrize("name", controllers.names())
def test_proposals_outside_the_band_are_journaled_as_rejected(tmp_path, name):
    space = band_for(name)
    ledger = ledger_over(tmp_path, name, budget=4, space=space)
    for key in "abcd":
        tokens = ledger.propose(key)
        assert space.in_band(SPACE.decode(tokens))
        ledger.complete(key, trained(tokens))
    rejected = [r for r in ledger.rows if r["status"] == "rejected"]
    assert rejected and all(not space.in_band(SPACE.decode(r["tokens"])) for r in rejected)
    assert all(r["trial_id"].startswith("rejected-") and r["reward"] is None for r in rejected)
    assert ledger.trained == 4 and len(ledger.rows) == 4 + len(rejected)
    assert RunDir(tmp_path).rows() == ledger.rows
    assert ledger.controller.num_told == len(ledger.rows)  # rejections taught it too


# --- replay after a crash ----------------------------------------------------------------------

class Crash(Exception):
    """The driver dies here."""


def crash_at(fn: Callable, call: int, after: bool) -> Callable:
    """`fn`, except that its `call`-th call raises `Crash` before (or after) doing its work."""
    calls = 0

    def crashing(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == call and not after:
            raise Crash
        out = fn(*args, **kwargs)
        if calls == call:
            raise Crash
        return out

    return crashing


def drive(ledger: Ledger, keys: list[str]) -> None:
    """Ray's traffic: up to 2 trials in flight, the oldest finishes first, to the budget."""
    in_flight: list[tuple[str, list[int]]] = []
    while True:
        while len(in_flight) < 2:
            key = f"t{len(keys)}"
            keys.append(key)
            tokens = ledger.propose(key)
            if tokens is None:
                break
            in_flight.append((key, tokens))
        if not in_flight:
            return
        key, tokens = in_flight.pop(0)
        ledger.complete(key, trained(tokens))


def history(ledger: Ledger) -> tuple[list, list]:
    """What must not depend on a crash: the journal (less trial ids and times) and the next
    proposals of the controller."""
    journal = [(r["tokens"], r["status"], r["reward"]) for r in ledger.run.rows()]
    return journal, [SPACE.encode(ledger.controller.ask()) for _ in range(3)]


# Where the driver dies: (object, method, before or after the method does its work).
CRASH_POINTS = {
    "asked": ("controller", "ask", True),  # the controller's RNG moved, nothing saved
    "journaling": ("run", "append", False),
    "journaled": ("run", "append", True),  # durable, the controller not told
    "telling": ("controller", "tell", False),
    "told": ("controller", "tell", True),  # told, state not saved
    "saving": ("run", "save_state", False),
    "saved": ("run", "save_state", True),
    "reported": ("ledger", "on_row", True),
}


@pytest.mark.parametrize("name", ["evolution", "ppo", "grid"])
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_replay_after_a_crash_loses_nothing_and_tells_nothing_twice(tmp_path, name, point):
    space = band_for(name)
    whole = ledger_over(tmp_path / "whole", name, budget=3, space=space)
    drive(whole, [])
    expected = history(whole)
    owner, method, after = CRASH_POINTS[point]
    call = 1
    while True:  # crash at the 1st, 2nd, ... call until the search ends without one
        path = tmp_path / f"{point}-{call}"
        ledger = ledger_over(path, name, budget=3, space=space, on_row=lambda row: None)
        target = {"controller": ledger.controller, "run": ledger.run, "ledger": ledger}[owner]
        setattr(target, method, crash_at(getattr(target, method), call, after))
        keys: list[str] = []
        try:
            drive(ledger, keys)
        except Crash:
            pass
        else:
            break
        resumed = ledger_over(path, name, budget=3, space=space)
        resumed.restore()
        assert resumed.in_flight == 0
        drive(resumed, keys)  # new keys: the dead driver's trials are gone with it
        assert history(resumed) == expected, (point, call)
        assert resumed.controller.num_told == len(resumed.rows)  # each row told once
        assert resumed.run.load_state()["in_flight"] == []
        call += 1
    assert call > 3  # the crash point was reached several times
