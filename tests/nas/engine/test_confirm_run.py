"""The confirmation phase end to end on Ray: a tiny search confirms its best, the `confirm`
verb extends it, a killed confirmation resumes to completion."""

from __future__ import annotations

import subprocess

import yaml
from processes import TINY, clean_env, nas_cli, start, stop_group, wait_for

from nas import load_config, search
from nas.cli import main
from nas.ledger.run_dir import RunDir

HOOK = "evaluate=tests.confirm_evaluator:"


def confirming(rows: list[dict]) -> list[tuple]:
    return sorted((tuple(r["tokens"]), r["confirm_seed"]) for r in rows
                  if r.get("stage") == "confirm")


def test_a_search_confirms_its_best_and_the_verb_extends_it(ray_local, tmp_path, capsys):
    config = load_config("demo", [
        "budget.num_samples=4", "budget.max_concurrent=2", "controller.name=random",
        "controller.options={}", HOOK + "seed_marked", "confirm.top=2", "confirm.seeds=2",
        "confirm.set={epochs: 3}"])
    lines: list[str] = []
    run = search(config, tmp_path / "run", progress=lines.append)
    rows = run.rows()
    search_rows = [r for r in rows if not r.get("chosen")]
    assert len(search_rows) == 4 and len(confirming(rows)) == 4
    best = sorted({tuple(r["tokens"]): r["reward"] for r in search_rows}.items(),
                  key=lambda kv: -kv[1])[:2]
    assert {t for t, _ in confirming(rows)} == {t for t, _ in best}
    assert {s for _, s in confirming(rows)} == {1000, 1001}  # proxy.seed 0 + 1000 + i
    searched = {tuple(r["tokens"]): r["accuracy"] for r in search_rows}  # seed 0, 2 epochs
    for row in (r for r in rows if r.get("stage") == "confirm"):
        assert row["chosen"] and row["evaluator"] == "proxy" and row["epochs"] == 3
        trained_with = 0.01 * (row["confirm_seed"] % 10) + 0.001  # its seed, 3 epochs
        assert abs(row["accuracy"] - searched[tuple(row["tokens"])] - trained_with) < 1e-9
    assert any(line.startswith("confirm 4/4 ") for line in lines), lines
    assert main(["confirm", str(run.path), "--seeds", "3"]) == 0
    capsys.readouterr()
    after = run.rows()
    assert after[:len(rows)] == rows  # nothing journaled changed
    assert len(confirming(after)) == 6 == len(set(confirming(after)))
    recorded = yaml.safe_load((run.path / "config.yaml").read_text())["confirm"]
    assert recorded == {"top": 2, "seeds": 3, "set": {"epochs": 3}, "within_noise": 0,
                        "reference": None}


def test_a_killed_confirmation_resumes_to_completion(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY.format(n=3) + "evaluate: tests.confirm_evaluator:slow_confirming\n"
                      "confirm: {top: 2, seeds: 2}\n")
    run_dir = tmp_path / "run"
    driver = start(nas_cli("run", str(config), "--output", str(run_dir)), tmp_path / "run.log")
    run = RunDir(run_dir)
    try:
        wait_for(lambda: len(confirming(run.rows())) >= 1, 240, "a confirming training")
    finally:
        stop_group(driver)  # kill -9 the driver mid-confirmation
    before = run.rows()
    assert 1 <= len(confirming(before)) < 4, (tmp_path / "run.log").read_text()[-2000:]
    resumed = subprocess.run(nas_cli("resume", str(run_dir)), capture_output=True, text=True,
                             timeout=300, env=clean_env())
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    rows = run.rows()
    assert rows[:len(before)] == before  # nothing lost or changed
    assert len(confirming(rows)) == 4 == len(set(confirming(rows)))  # nothing trained twice
    assert len([r for r in rows if not r.get("chosen")]) == 3
