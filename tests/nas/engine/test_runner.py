"""The search on Ray Tune end to end: trials table, Pareto front, export, failures, CLI views."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
from run_dirs import row

from nas import load_config, load_results, pareto_front, search
from nas.cli import main
from nas.ledger.run_dir import COLUMNS, RunDir
from objectives import fvcore_flops, torch_params
from search_space import Arch

TINY = ["proxy.resolution=16", "proxy.train_size=128", "proxy.val_size=64",
        "proxy.batch_size=32", "budget.max_concurrent=2", "confirm.top=0"]


@pytest.fixture(scope="module")
def finished_run(ray_local, tmp_path_factory):
    config = load_config("demo", TINY + ["budget.num_samples=4", "controller.name=random",
                                         "controller.options={}", "keep_weights=2"])
    lines: list[str] = []
    run = search(config, tmp_path_factory.mktemp("run") / "demo", progress=lines.append)
    return run, lines


def test_search_writes_trials_table(finished_run):
    run, lines = finished_run
    df = load_results(run.path)
    assert len(df) == 4 and set(df["status"]) == {"ok"} and set(df["evaluator"]) == {"proxy"}
    assert set(COLUMNS) <= set(df.columns)
    assert df["accuracy"].between(0, 1).all() and (df["reward"] > 0).all()
    on_disk = pd.read_parquet(run.path / "trials.parquet")
    assert list(on_disk["trial_id"]) == list(df["trial_id"])
    assert len(pd.read_csv(run.path / "trials.csv")) == 4
    assert len(lines) == 4 and lines[-1].startswith("[4/4]")  # one progress line per trial


def test_keep_weights_keeps_the_two_best_trials(finished_run):
    from search_space.weights import load_weights

    run = finished_run[0]
    best = load_results(run.path).sort_values("reward", ascending=False)["trial_id"][:2]
    assert sorted(p.stem for p in (run.path / "weights").glob("*.pt")) == sorted(best)
    assert not list((run.path / "weights" / "trials").glob("*"))  # the others were deleted
    model, arch = load_weights(run.path / "weights" / f"{best.iloc[0]}.pt")
    assert model.classifier.out_features == 10


def test_pareto_front_is_non_dominated(finished_run):
    df = load_results(finished_run[0].path)
    front = pareto_front(df)
    assert len(front) >= 1
    for _, f in front.iterrows():
        dominated = (df["flops"] <= f["flops"]) & (df["accuracy"] > f["accuracy"])
        assert not dominated.any()
    assert front["flops"].is_monotonic_increasing


def test_export_rebuilds_recorded_model(finished_run, tmp_path, capsys):
    run = finished_run[0]
    out = tmp_path / "best.yaml"
    assert main(["export", str(run.path), "--rank", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "timm block strings" in text and "_k" in text
    best = load_results(run.path).sort_values("reward", ascending=False).iloc[0]
    arch = Arch.from_yaml(out)
    assert fvcore_flops(arch) == best["flops"]
    assert torch_params(arch) == best["params"]


def test_status_and_pareto_views(finished_run, tmp_path, capsys):
    run = finished_run[0]
    assert main(["status", str(run.path)]) == 0
    text = capsys.readouterr().out
    assert "4 done, 0 failed" in text and "CPU-seconds" in text
    csv = tmp_path / "front.csv"
    assert main(["pareto", str(run.path), "--target", "200000000", "--w", "-0.5",
                 "--csv", str(csv)]) == 0
    rescored = pd.read_csv(csv)
    expected = rescored["accuracy"] * (rescored["flops"] / 200e6) ** -0.5
    assert rescored["reward"].tolist() == pytest.approx(expected.tolist())


def test_failed_and_diverged_trials_are_recorded(ray_local, tmp_path):
    config = load_config("demo", TINY + ["budget.num_samples=8", "controller.name=random",
                                         "controller.options={}", "seed=3",
                                         "evaluate=tests.evaluators:flaky"])
    run = search(config, tmp_path / "flaky", progress=lambda line: None)
    df = load_results(run.path)
    assert len(df) == 8
    by_status = dict(df.groupby("status")["reason"].first())
    assert set(by_status) == {"ok", "failed", "diverged"}, by_status
    assert "injected failure" in by_status["failed"]
    assert "nan" in by_status["diverged"].lower() or "inf" in by_status["diverged"].lower()
    assert df.loc[df["status"] != "ok", "reward"].isna().all()


def test_ray_folder_keeps_tunes_json_logs_only(finished_run):
    """No tracking: Tune's CSV and TensorBoard loggers (slower than a near-zero trial) are off
    for the search only, not for the process."""
    ray = finished_run[0].path / "ray"
    assert len(list(ray.rglob("result.json"))) == 4 and not list(ray.rglob("progress.csv"))
    assert not list(ray.rglob("events.out.tfevents.*"))
    assert "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS" not in os.environ


def test_resume_of_finished_run_trains_nothing(finished_run):
    run = finished_run[0]
    before = RunDir(run.path).rows()
    config = load_config(str(run.path / "config.yaml"))
    search(config, run.path, resume=True, progress=lambda line: None)
    assert RunDir(run.path).rows() == before


def test_asha_stops_trials_early_and_keeps_their_last_accuracy(ray_local, tmp_path):
    config = load_config("demo", TINY + [
        "budget.num_samples=6", "controller.name=random", "controller.options={}",
        "proxy.epochs=3", "early_stopping={asha: true, grace_period: 1, reduction_factor: 2}"])
    df = load_results(search(config, tmp_path / "asha", progress=lambda line: None).path)
    assert len(df) == 6 and set(df["status"]) <= {"ok", "early_stopped"}
    assert (df["train_seconds"] > 0).all() and df["accuracy"].notna().all()
    full = df[df["status"] == "ok"]
    stopped = df[df["status"] == "early_stopped"]
    assert (full["epochs"] == 3).all() and (stopped["epochs"] < 3).all()
    assert len(stopped) >= 1  # a reduction factor of 2 must stop someone


def test_torn_journal_line_does_not_swallow_the_next_row(tmp_path):
    run = RunDir.create(tmp_path / "run", "version: 1\n")
    run.append(row("a"))
    with run.journal.open("a") as f:
        f.write('{"trial_id": "b", "sta')  # the driver died mid-write
    assert [r["trial_id"] for r in run.rows()] == ["a"]
    run.append(row("c"))
    assert [r["trial_id"] for r in run.rows()] == ["a", "c"]
    assert run.journal.read_text().count("\n") == 2  # the torn start is cut, not kept


def test_a_whole_last_row_that_lost_its_newline_is_kept(tmp_path):
    run = RunDir.create(tmp_path / "run", "version: 1\n")
    run.journal.write_text(json.dumps(row("a")))  # killed between the row and its newline
    assert [r["trial_id"] for r in run.rows()] == ["a"]
    run.append(row("b"))
    assert [r["trial_id"] for r in run.rows()] == ["a", "b"]
