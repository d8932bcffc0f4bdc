"""`evaluator: supernet` end to end: rows, Pareto front, export; kill -9 mid supernet training."""

from __future__ import annotations

import shutil

import pytest
from processes import nas_cli, start, stop_group, wait_for

from nas import load_config, load_results, pareto_front, search
from nas.cli import main
from nas.engine.oneshot import SUPERNET_FILE
from objectives import fvcore_flops
from objectives.supernet_training import load_checkpoint
from search_space import Arch

TINY = ["evaluator=supernet", "proxy.resolution=16", "proxy.train_size=96", "proxy.val_size=32",
        "proxy.batch_size=32", "supernet.epochs=1", "supernet.calibration=32",
        "supernet.batch=3", "supernet.actors=2", "confirm.top=2", "confirm.seeds=1",
        "budget.num_samples=8", "controller.options={population_size: 4, tournament_size: 2}"]


@pytest.fixture(scope="module")
def oneshot_run(ray_local, tmp_path_factory):
    lines: list[str] = []
    run = search(load_config("demo", TINY), tmp_path_factory.mktemp("run") / "oneshot",
                 progress=lines.append)
    return run, lines


def _retrained_best(df, k: int = 2) -> bool:
    """At least k of the candidates with the k best supernet rewards (ties included) have a
    standalone proxy row of the same candidate (a confirming training)."""
    scored = df[df["evaluator"] == "supernet"]
    kth = scored["reward"].nlargest(k).iloc[-1]
    proxy = {tuple(t) for t in df[df["evaluator"] == "proxy"]["tokens"]}
    best = scored[scored["reward"] >= kth]
    return sum(tuple(t) in proxy for t in best["tokens"]) >= k


def test_rows_pareto_and_export(oneshot_run, tmp_path):
    run, lines = oneshot_run
    df = load_results(run.path)
    assert len(df) == 10 and set(df["status"]) == {"ok"}
    assert list(df["evaluator"]) == ["supernet"] * 8 + ["proxy"] * 2  # confirm: top 2 x 1
    assert list(df["stage"].iloc[8:]) == ["confirm"] * 2 and df["stage"].iloc[:8].isna().all()
    epochs = load_config("demo", TINY).proxy.epochs  # a full proxy trial each
    assert _retrained_best(df) and (df["epochs"].iloc[8:] == epochs).all()
    assert df["accuracy"].between(0, 1).all() and (df["reward"] >= 0).all()
    assert any(line.startswith("supernet: epoch 1/1") for line in lines)
    assert (run.path / SUPERNET_FILE).is_file()
    assert len(pareto_front(df)) >= 1
    out = tmp_path / "best.yaml"
    assert main(["export", str(run.path), "--out", str(out)]) == 0
    best = df.sort_values("reward", ascending=False).iloc[0]
    assert fvcore_flops(Arch.from_yaml(out)) == best["flops"]
    assert main(["status", str(run.path)]) == 0


def test_resume_of_a_finished_run_reuses_the_supernet(oneshot_run):
    run, _ = oneshot_run
    lines: list[str] = []
    config = load_config(str(run.path / "config.yaml"), ["budget.num_samples=10"])
    search(config, run.path, resume=True, progress=lines.append)
    assert any(line.startswith("supernet: loaded") for line in lines)
    df = load_results(run.path)
    assert (df["evaluator"] == "supernet").sum() == 10 and _retrained_best(df)
    assert len(set(map(tuple, df[df["evaluator"] == "proxy"]["tokens"]))) == \
        (df["evaluator"] == "proxy").sum()  # nothing retrained twice


def test_bad_evaluator_settings_are_one_line_exit_2(capsys):
    for bad in ("evaluator=oneshot", "supernet.sampling=greedy"):
        assert main(["run", "demo", "--set", bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and bad.split("=")[0] in err
    assert main(["run", "demo", "--set", "evaluator=supernet", "--set",
                 "early_stopping.asha=true"]) == 2


def test_kill_9_during_supernet_training_then_resume(tmp_path):
    config = tmp_path / "oneshot.yaml"
    config.write_text(load_config("demo", TINY + ["supernet.epochs=5", "budget.num_samples=2",
                                                  "supernet.actors=1"]).to_yaml())
    run_dir = tmp_path / "run"
    checkpoint = run_dir / SUPERNET_FILE
    driver = start(nas_cli("run", str(config), "--output", str(run_dir)), tmp_path / "run.log")
    try:
        wait_for(checkpoint.is_file, 300, "the first supernet checkpoint")
    finally:
        stop_group(driver)  # kill -9 mid-training
    saved = load_checkpoint(checkpoint)
    assert saved["epoch"] < 5, "training finished before the kill; make it longer"
    log = tmp_path / "resume.log"
    resumed = start(nas_cli("resume", str(run_dir)), log)
    try:
        assert resumed.wait(300) == 0, log.read_text()
    finally:
        stop_group(resumed)
    assert f"resuming after epoch {saved['epoch']}" in log.read_text()
    history = load_checkpoint(checkpoint)["history"]
    assert [h["epoch"] for h in history] == list(range(1, 6))
    assert history[:saved["epoch"]] == saved["history"]  # earlier epochs were not retrained
    df = load_results(run_dir)
    assert (df["evaluator"] == "supernet").sum() == 2 and _retrained_best(df)


def test_a_fidelity_study_of_the_run_starts_from_its_supernet(oneshot_run, tmp_path, capsys):
    run, _ = oneshot_run
    command = ["fidelity", str(run.path), "--archs", "2", "--seeds", "1", "--long",
               "evaluator=proxy", "--output"]
    assert main([*command, str(tmp_path / "same")]) == 0
    out = capsys.readouterr().out
    assert "starts from the run's own" in out and "supernet for short seed 0: epochs" not in out
    copied = (tmp_path / "same" / "supernet-short-s0.pt").read_bytes()
    assert copied == (run.path / SUPERNET_FILE).read_bytes()
    # any --set, even one that only changes scoring, trains the study's own supernet
    assert main([*command, str(tmp_path / "other"), "--set", "supernet.calibration=16"]) == 0
    out = capsys.readouterr().out
    assert "starts from" not in out and "supernet for short seed 0: epochs 1..1" in out
    # so does a run whose supernet.pt no longer loads
    damaged = tmp_path / "damaged-run"
    shutil.copytree(run.path, damaged, ignore=shutil.ignore_patterns("fidelity*"))
    (damaged / SUPERNET_FILE).write_bytes(b"not a checkpoint")
    assert main([*command[:1], str(damaged), *command[2:], str(tmp_path / "damaged")]) == 0
    out = capsys.readouterr().out
    assert f"not reusing {damaged / SUPERNET_FILE}" in out and "epochs 1..1" in out
