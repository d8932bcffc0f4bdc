"""The confirmation phase without Ray: the plan, rows outside the budget, replay after a crash at
each point, extending a finished run; malformed `confirm` values (one line, exit 2)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from edges_cli import cli_error, main_error
from run_dirs import fake_run, row

from nas.config import CONFIRM_SEED_BASE, ConfirmConfig, ObjectiveConfig, SearchConfig
from nas.ledger import confirmation
from nas.ledger import ledger as ledger_module
from nas.ledger.confirmation import STAGE
from nas.ledger.ledger import Ledger
from nas.ledger.run_dir import RunDir
from nas.schema import from_data
from objectives import ProxyConfig
from search_space.errors import SpecError
from tests.nas.ledger.test_ledger import CRASH_POINTS, Crash, crash_at, drive, ledger_over

PROXY = ProxyConfig(seed=7)
OBJECTIVE = ObjectiveConfig()


@pytest.fixture(autouse=True)
def _quick_disk(monkeypatch):
    monkeypatch.setattr("nas.ledger.run_dir.os.fsync", lambda fd: None)
    monkeypatch.setattr(RunDir, "write_tables", lambda self, rows=None: None)


def searched(path: Path, budget: int = 6) -> Ledger:
    """A ledger whose search is done (`budget` trials)."""
    ledger = ledger_over(path, budget=budget)
    drive(ledger, [])
    return ledger


def confirm_training(tokens: list[int], seed: int) -> dict[str, Any]:
    """A synthetic confirming outcome: a function of the candidate and the seed."""
    return {"status": "ok", "reason": "", "accuracy": 0.4 + sum(tokens) % 7 / 50 + seed % 3 / 100,
            "train_seconds": 1.0, "epochs": 2, "proxy_resolution": 16, "evaluator": "proxy"}


def confirm(ledger: Ledger, settings: ConfirmConfig, keys: list[str]) -> None:
    """The engine's confirmation phase, by hand: 2 in flight, the oldest finishes first,
    round by round until the plan is empty."""
    while todo := confirmation.plan(ledger.rows, settings, PROXY, OBJECTIVE):
        in_flight = []
        for tokens, seed in todo:
            keys.append(key := f"c{len(keys)}")
            fields = {"stage": STAGE, "confirm_seed": seed, "evaluator": "proxy"}
            in_flight.append((key, ledger.propose_tokens(key, list(tokens), fields), seed))
            if len(in_flight) == 2:
                key, tokens, seed = in_flight.pop(0)
                ledger.complete(key, confirm_training(tokens, seed))
        for key, tokens, seed in in_flight:
            ledger.complete(key, confirm_training(tokens, seed))


def confirmed(rows: list[dict[str, Any]]) -> list[tuple]:
    return sorted((tuple(r["tokens"]), r["confirm_seed"]) for r in rows if r.get("stage"))


def search_rows_hash(run: RunDir) -> str:
    lines = [line for line in run.journal.read_bytes().splitlines() if b'"stage"' not in line]
    return hashlib.sha256(b"\n".join(lines)).hexdigest()


# --- the plan ------------------------------------------------------------------------------------

def test_the_plan_is_the_top_k_distinct_candidates_with_fresh_seeds():
    rows = [row("a", tokens=[1], reward=0.5), row("b", tokens=[2], reward=0.7),
            row("c", tokens=[1], reward=0.6), row("d", tokens=[3], status="failed", reward=None,
                                                   accuracy=None),
            row("e", tokens=[4], reward=0.4)]
    plan = confirmation.plan(rows, ConfirmConfig(top=2, seeds=2), PROXY, OBJECTIVE)
    seeds = [7 + CONFIRM_SEED_BASE, 7 + CONFIRM_SEED_BASE + 1]
    assert plan == [((2,), seeds[0]), ((2,), seeds[1]), ((1,), seeds[0]), ((1,), seeds[1])]
    done = [row("x", tokens=[2], stage=STAGE, confirm_seed=seeds[0], status="failed",
                accuracy=None, reward=None, chosen=True)]  # a failed one counts as done
    assert confirmation.plan(rows + done, ConfirmConfig(top=2, seeds=2), PROXY, OBJECTIVE,
                             in_flight=[((1,), seeds[1])]) == [((2,), seeds[1]), ((1,), seeds[0])]
    assert confirmation.plan(rows, ConfirmConfig(top=0), PROXY, OBJECTIVE) == []
    assert len(confirmation.plan(rows, ConfirmConfig(top=9, seeds=1), PROXY, OBJECTIVE)) == 3


def test_a_reference_is_one_more_candidate_trained_alike():
    rows = [row("a", tokens=[1], reward=0.5), row("b", tokens=[2], reward=0.7),
            row("c", tokens=[3], reward=0.6)]
    settings = ConfirmConfig(top=2, seeds=2, reference="efficientnet-b0")
    seeds = [7 + CONFIRM_SEED_BASE, 7 + CONFIRM_SEED_BASE + 1]
    plan = confirmation.plan(rows, settings, PROXY, OBJECTIVE, reference=(9,))
    assert plan == [(t, s) for t in ((2,), (3,), (9,)) for s in seeds]  # the reference last
    found = confirmation.plan(rows, settings, PROXY, OBJECTIVE, reference=(3,))
    assert found == [(t, s) for t in ((2,), (3,)) for s in seeds]  # found: trained once
    done = [row("r", tokens=[9], stage=STAGE, confirm_seed=seeds[0], chosen=True)]
    assert confirmation.plan(rows + done, settings, PROXY, OBJECTIVE, reference=(9,))[-1:] == \
        [((9,), seeds[1])]


def test_within_noise_adds_candidates_within_the_measured_noise_of_the_kth():
    rows = [row(str(i), tokens=[i], reward=r, accuracy=r) for i, r in
            enumerate([0.70, 0.69, 0.60, 0.50])]  # 0.69 within the noise of 0.70, 0.60 not
    settings = ConfirmConfig(top=1, seeds=2, within_noise=2)
    first = confirmation.plan(rows, settings, PROXY, OBJECTIVE)
    assert [t for t, _ in first] == [(0,), (0,)]  # the extras wait for the noise to be measured
    measured = [row(f"c{s}", tokens=[0], stage=STAGE, confirm_seed=s, accuracy=a, chosen=True)
                for s, a in zip([1007, 1008], [0.66, 0.70])]  # std 0.028
    assert confirmation.noise(rows + measured, rows[:1], OBJECTIVE) > 0.01
    assert [t for t, _ in confirmation.plan(rows + measured, settings, PROXY, OBJECTIVE)] == \
        [(1,), (1,)]
    one_seed = ConfirmConfig(top=1, seeds=1, within_noise=2)  # nothing measures the noise
    assert confirmation.plan(rows + measured[:1], one_seed, PROXY, OBJECTIVE) == []


# --- the ledger ----------------------------------------------------------------------------------

def test_confirmation_rows_stay_outside_the_budget(tmp_path):
    ledger = searched(tmp_path, budget=6)
    before = search_rows_hash(ledger.run)
    confirm(ledger, ConfirmConfig(top=2, seeds=2), [])
    rows = [r for r in ledger.rows if r.get("stage") == STAGE]
    assert len(rows) == 4 and all(r["chosen"] and r["evaluator"] == "proxy" for r in rows)
    assert {r["confirm_seed"] for r in rows} == {7 + CONFIRM_SEED_BASE, 8 + CONFIRM_SEED_BASE}
    assert (ledger.trained, ledger.remaining) == (6, 0) and ledger.propose("more") is None
    assert RunDir(tmp_path).rows() == ledger.rows and search_rows_hash(ledger.run) == before
    assert ledger_module.searched(ledger.rows) == 6


@pytest.mark.parametrize("point", ["proposed", *[p for p in CRASH_POINTS if p != "asked"]])
def test_a_crash_in_confirmation_then_replay_loses_nothing_trains_nothing_twice(tmp_path, point):
    settings = ConfirmConfig(top=3, seeds=2)
    whole = searched(tmp_path / "whole")
    confirm(whole, settings, [])
    expected = confirmed(whole.rows)
    owner, method, after = ("ledger", "propose_tokens", True) if point == "proposed" else \
        CRASH_POINTS[point]
    call = 1
    while True:  # crash at the 1st, 2nd, ... confirming call until none is left
        path = tmp_path / f"{point}-{call}"
        ledger = searched(path)
        ledger.on_row = lambda row: None
        target = {"controller": ledger.controller, "run": ledger.run, "ledger": ledger}[owner]
        setattr(target, method, crash_at(getattr(target, method), call, after))
        keys: list[str] = []
        try:
            confirm(ledger, settings, keys)
        except Crash:
            pass
        else:
            break
        resumed = ledger_over(path, budget=6)
        resumed.restore()
        assert resumed.remaining == 0 and resumed.propose("x") is None  # the search is done
        confirm(resumed, settings, keys)
        assert confirmed(resumed.rows) == expected, (point, call)  # each training once
        assert resumed.controller.num_told == len(resumed.rows)  # each row told once
        call += 1
    assert call > 2


def test_extending_a_finished_confirmation_leaves_every_search_row_alone(tmp_path):
    config = SearchConfig(confirm=ConfirmConfig(top=2, seeds=2))
    ledger = searched(tmp_path)
    (tmp_path / "config.yaml").write_text(config.to_yaml())
    confirm(ledger, config.confirm, [])
    before, first = search_rows_hash(ledger.run), confirmed(ledger.rows)
    confirmation.record(ledger.run, {"top": 3, "seeds": 3, "set": {"epochs": 2}})
    data = yaml.safe_load((tmp_path / "config.yaml").read_text())
    extended = from_data(SearchConfig, data).confirm
    assert extended == ConfirmConfig(top=3, seeds=3, set={"epochs": 2})
    assert {k: v for k, v in data.items() if k != "confirm"} == \
        {k: v for k, v in yaml.safe_load(config.to_yaml()).items() if k != "confirm"}
    resumed = ledger_over(tmp_path, budget=6)
    resumed.restore()
    confirm(resumed, extended, [])
    after = confirmed(resumed.rows)
    assert set(first) < set(after) and len(after) == len(set(after)) == 9
    assert search_rows_hash(resumed.run) == before


# --- the config ----------------------------------------------------------------------------------

def test_retrain_top_of_old_configs_maps_onto_confirm():
    old = from_data(SearchConfig, {"supernet": {"retrain_top": 3}})
    assert old.confirm == ConfirmConfig(top=3, seeds=1) and old.supernet.retrain_top == 0
    assert from_data(SearchConfig, yaml.safe_load(old.to_yaml())) == old  # round trip
    with pytest.raises(SpecError, match="supernet.retrain_top.*confirm.top"):
        from_data(SearchConfig, {"supernet": {"retrain_top": 3}, "confirm": {"top": 2}})
    assert ConfirmConfig(set={"proxy.epochs": 4}).proxy(PROXY, 1001) == \
        ProxyConfig(seed=1001, epochs=4)


@pytest.mark.parametrize(("override", "named"), [
    ("confirm.top=-1", "--set confirm.top = -1"),
    ("confirm.seeds=0", "--set confirm.seeds = 0"),
    ("confirm.seeds=.nan", "--set confirm.seeds = nan"),
    ("confirm.top=1.5", "--set confirm.top = 1.5"),
    ("confirm.within_noise=-2", "--set confirm.within_noise = -2"),
    ("confirm.bogus=1", "--set confirm.bogus = 1: unknown key"),
    ("confirm.set={epoks: 3}", "--set confirm.set.epoks"),
    ("confirm.set={epochs: 0}", "--set confirm.set.epochs = 0"),
    ("confirm.set={seed: 3}", "--set confirm.set.seed = 3"),
    ("confirm.top=17", "--set confirm.top = 17: must be <= budget.num_samples (16)"),
    ("confirm.reference=bogus", "--set confirm.reference = 'bogus': neither a preset"),
    ("confirm.reference=3", "--set confirm.reference = '<int>': must be a preset name"),
    ("confirm.reference={stages: 3}", "confirm.reference = '<dict>': resolution: missing"),
    ("confirm={top: 0, reference: efficientnet-b0}", "set top >= 1"),
    ("confirm.reference=efficientnet-b0-small",  # a 32 px table; demo's space is 224 px
     "confirm.reference = 'efficientnet-b0-small': is not an architecture of the run's space"),
])
def test_malformed_confirm_values_are_one_line_exit_2(capsys, tmp_path, override, named):
    line = main_error(capsys, "run", "demo", "--set", override, "--output", str(tmp_path / "r"))
    assert named in line and not (tmp_path / "r").exists()


def test_malformed_confirm_in_a_file_names_the_file(capsys, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("confirm: {top: 2, bogus: 1}\n")
    assert "confirm.bogus" in main_error(capsys, "run", str(path), "--output", str(tmp_path / "r"))


def test_the_confirm_verb_refuses_what_it_cannot_confirm(capsys, tmp_path):
    run = fake_run(tmp_path / "done", trials=3)  # one distinct candidate
    assert "--top = 2: the run has 1 distinct scored candidates" in main_error(
        capsys, "confirm", str(run.path), "--top", "2", run_dir=run.path)
    for flags, named in ((["--seeds", "0"], "--seeds = 0"), (["--top", "-1"], "--top = -1"),
                         (["--set", "epochs=0"], "--set epochs = 0"),
                         (["--set", "nope=1"], "--set nope"), (["--set", "x"], "--set = 'x'")):
        assert named in main_error(capsys, "confirm", str(run.path), "--top", "1", *flags,
                                   run_dir=run.path)
    short = fake_run(tmp_path / "short", trials=2)
    config = yaml.safe_load((short.path / "config.yaml").read_text())
    config["budget"]["num_samples"] = 5
    (short.path / "config.yaml").write_text(yaml.safe_dump(config))
    assert "not finished (2 of 5 trials)" in main_error(capsys, "confirm", str(short.path),
                                                        run_dir=short.path)


def test_the_compare_verb_refuses_a_reference_it_cannot_train_alike(capsys, tmp_path):
    run = fake_run(tmp_path / "done", trials=3)
    for flags, named in (([], "--reference = None: required: the architecture to beat"),
                         (["--reference", "bogus"], "--reference = 'bogus': neither a preset"),
                         (["--reference", "efficientnet-b0-small", "--epochs", "0"],
                          "--epochs epochs = 0")):
        assert named in main_error(capsys, "compare", str(run.path), "--top", "1", *flags,
                                   run_dir=run.path)


def test_a_reference_from_a_file_is_recorded_as_its_block_table(tmp_path):
    from nas.commands.confirmation import as_recorded
    from search_space import preset

    path = tmp_path / "mine.yaml"
    path.write_text(preset("efficientnet-b0").to_yaml())
    recorded = as_recorded(ConfirmConfig(top=1, reference=str(path)), str(path), compare=True)
    assert recorded.reference == preset("efficientnet-b0").to_dict()  # the file may go
    named = ConfirmConfig(top=1, reference="efficientnet-b0")
    assert as_recorded(named, "efficientnet-b0", compare=True) == named  # a preset: its name
    with pytest.raises(SpecError, match="--reference = None: required"):
        as_recorded(ConfirmConfig(top=1), None, compare=True)


@pytest.mark.parametrize(("args", "named"), [
    (["--set", "epochs=.nan"], "--set epochs = nan: must be an integer"),
    (["--set", "epochs"], "--set = 'epochs': must be key=value"),
    (["--top", "0"], "--top = 0: must be >= 1"),
])
def test_the_confirm_verb_in_a_process_is_one_line_exit_2(tmp_path, args, named):
    run = fake_run(tmp_path / "done", trials=3)
    assert named in cli_error("confirm", str(run.path), *args, run_dir=run.path)


@pytest.mark.parametrize(("args", "named"), [
    (["run", "demo", "--set", "confirm.reference=BINARY"], "not UTF-8 text"),
    (["compare", "RUN", "--reference", "MISSING"], "--reference = 'MISSING': no such file"),
])
def test_a_bad_reference_in_a_process_is_one_line_exit_2(tmp_path, args, named):
    run = fake_run(tmp_path / "done", trials=3)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x00\x01\xff")
    paths = {"RUN": str(run.path), "BINARY": str(binary), "MISSING": str(tmp_path / "no.yaml")}
    args = [paths.get(a, a.replace("BINARY", str(binary))) for a in args]
    named = named.replace("MISSING", paths["MISSING"])
    out = tmp_path / "out"
    line = cli_error(*args, *(["--output", str(out)] if args[0] == "run" else []),
                     run_dir=run.path)
    assert named in line and not out.exists()

