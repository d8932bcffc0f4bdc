"""search.pt is rewritten once per ask, not once per tell: a tell that an ask follows is saved
with that ask (restore re-tells the journaled rows the state missed), and the last tells of a
search still leave a whole state behind. Replay after a crash at any call is pinned by
test_ledger.py's crash points."""

from __future__ import annotations

import controllers
from nas.config import ObjectiveConfig
from nas.ledger.ledger import Ledger
from nas.ledger.run_dir import RunDir
from objectives import analytic_flops
from search_space import load_space

SPACE = load_space("b0", counter=analytic_flops)


def test_one_save_per_ask_and_one_per_tell_that_no_ask_follows(tmp_path, monkeypatch):
    monkeypatch.setattr("nas.ledger.run_dir.os.fsync", lambda fd: None)
    run = RunDir(tmp_path)
    saved: list[dict] = []
    monkeypatch.setattr(run, "save_state", saved.append)
    ledger = Ledger(controllers.make("random", SPACE, seed=0), SPACE, run, 6, ObjectiveConfig())
    in_flight = [(key, ledger.propose(key)) for key in ("t0", "t1")]  # two trials at a time
    asks = 2
    while in_flight:
        key, _ = in_flight.pop(0)
        ledger.complete(key, {"status": "ok", "accuracy": 0.5, "epochs": 1})
        tokens = ledger.propose(f"t{asks}")
        if tokens is not None:
            in_flight.append((f"t{asks}", tokens))
            asks += 1
    assert asks == 6 and len(ledger.rows) == 6
    assert len(saved) == 6 + 2  # each ask, and the two tells after the budget was covered
    assert saved[-1]["told"] == 6 and saved[-1]["in_flight"] == []
