"""Tracking through Ray Tune's logger callbacks, and the report, on one tiny real search: 3
trials, its top 2 confirmed with 2 seeds, then extended to 3 seeds by the `confirm` verb."""

from __future__ import annotations

import importlib.util
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from nas import load_config, load_confirmed, search
from nas.cli import main
from nas.ledger.confirmation import candidate_key
from nas.ledger.run_dir import RunDir
from nas.outputs.report import write_report
from nas.outputs.tracking import CONFIRMED_STATS

ROOT = Path(__file__).resolve().parents[3]
# MLflow's own SQLAlchemy use warns about itself; nothing this project can change
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")
QUICK = ["budget.num_samples=3", "budget.max_concurrent=2", "proxy.epochs=2",
         "controller.name=random", "controller.options={}",
         "evaluate=tests.instant_evaluator:instant", "confirm.top=0"]


CONFIRMING = ["confirm.top=2", "confirm.seeds=2",
              "evaluate=tests.instant_evaluator:instant_seeded"]


@pytest.fixture(scope="module")
def tracked_run(ray_local, tmp_path_factory):
    pytest.importorskip("mlflow")
    config = load_config("demo", QUICK + CONFIRMING + ["tracking=[mlflow, tensorboard]"])
    run = search(config, tmp_path_factory.mktemp("tracked") / "run", progress=lambda line: None)
    assert main(["confirm", str(run.path), "--seeds", "3"]) == 0  # one more seed of each
    return run


def test_mlflow_has_one_run_per_trial_with_epochs_and_final_row(tracked_run):
    import mlflow
    from mlflow.tracking import MlflowClient

    store = f"sqlite:///{tracked_run.path / 'mlruns' / 'mlflow.db'}"
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["demo"])
    runs = runs[runs["tags.trial_id"].notna()]  # the confirmed table's run is no trial's
    rows = {row["trial_id"]: row for row in tracked_run.rows()}
    assert len(runs) == len(rows) == 3 + 2 * 3
    for _, run in runs.iterrows():
        trial_id = run["tags.trial_id"]
        assert run["tags.trial_name"].endswith(trial_id)
        assert run["metrics.final/reward"] == pytest.approx(rows[trial_id]["reward"])
        assert run["params.final/status"] == "ok"
        assert run["params.search/controller/name"] == run["tags.controller"] == "random"
        epochs = MlflowClient(store).get_metric_history(run["run_id"], "epoch")
        assert sorted(m.value for m in epochs)[:2] == [1, 2]  # one report per epoch


def test_tensorboard_event_files_per_trial(tracked_run):
    events = [path for path in (tracked_run.path / "ray").rglob("events.out.tfevents.*")
              if path.suffix != ".confirmed"]
    assert len(events) == 3 + 2 * 3
    for path in events:
        data = path.read_bytes()
        assert b"accuracy" in data and b"final/reward" in data and b"search_config" in data


def test_report_of_a_real_finished_run(tracked_run, tmp_path):
    page = write_report(tracked_run.path, tmp_path / "r.html").read_text()
    assert len(re.findall(r'src="data:image/png;base64,', page)) >= 4
    assert "Top 10 by reward" in page and page.count("<tr><td>") >= 3
    assert "finished: 3 of 3 trials" in page and RunDir(tracked_run.path).rows()


def expected_confirmed(run) -> dict[str, dict[str, float]]:
    """Each confirming trial's `confirmed/` statistics, from `nas.load_confirmed`."""
    table = load_confirmed(run.path).set_index("tokens")
    assert len(table) == 2 and table["n"].tolist() == [3, 3] and table["accuracy_std"].gt(0).all()
    return {row["trial_id"]: {f"confirmed/{c}": float(table.loc[[key]].iloc[0][c])
                              for c in CONFIRMED_STATS}
            for row in run.rows() if row.get("stage") == "confirm"
            for key in [candidate_key(row["tokens"], row["arch"])]}


def confirm_seeds(run) -> dict[str, int]:
    return {row["trial_id"]: row["confirm_seed"] for row in run.rows()
            if row.get("stage") == "confirm"}


def test_mlflow_confirming_runs_carry_their_candidates_confirmed_statistics(tracked_run):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tracked_run.path / 'mlruns' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("demo").experiment_id])
    expected, seeds = expected_confirmed(tracked_run), confirm_seeds(tracked_run)
    got = {run.data.tags["trial_id"]: {k: v for k, v in run.data.metrics.items()
                                       if k.startswith("confirmed/")}
           for run in runs if "trial_id" in run.data.tags}
    assert {t for t, metrics in got.items() if metrics} == set(expected)  # search trials: none
    for trial_id, metrics in expected.items():
        assert got[trial_id] == pytest.approx(metrics)
    for run in runs:
        if run.data.tags.get("trial_id") in expected:  # after the search: 2 seeds; the verb: 3
            history = client.get_metric_history(run.info.run_id, "confirmed/n")
            first = seeds[run.data.tags["trial_id"]] < 1002
            assert sorted((m.step, m.value) for m in history) == \
                ([(4, 2.0)] if first else []) + [(6, 3.0)]


def test_mlflow_keeps_the_confirmed_table_in_one_run(tracked_run, tmp_path):
    import mlflow
    import pandas as pd

    store = f"sqlite:///{tracked_run.path / 'mlruns' / 'mlflow.db'}"
    holders = mlflow.MlflowClient(store).search_runs(
        [mlflow.MlflowClient(store).get_experiment_by_name("demo").experiment_id],
        "tags.table = 'confirmed'")
    assert len(holders) == 1 and holders[0].info.run_name == "demo: confirmed"
    path = mlflow.artifacts.download_artifacts(run_id=holders[0].info.run_id,
                                               artifact_path="confirmed.csv",
                                               dst_path=str(tmp_path), tracking_uri=store)
    saved, table = pd.read_csv(path), load_confirmed(tracked_run.path)
    columns = [*CONFIRMED_STATS, "reward_low", "reward_high", "search_reward", "flops"]
    assert saved[columns].to_numpy() == pytest.approx(table[columns].to_numpy(dtype=float))


def event_scalars(path: Path) -> dict[str, dict[int, float]]:
    """An event file's scalars, {tag: {step: value}} (TFRecord: length, crc, event, crc)."""
    from tensorboardX.proto.event_pb2 import Event

    data, at, out = path.read_bytes(), 0, {}
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at:at + 8])
        event = Event.FromString(data[at + 12:at + 12 + length])
        at += 16 + length
        for value in event.summary.value:
            out.setdefault(value.tag, {})[event.step] = value.simple_value
    return out


def test_tensorboard_confirming_trials_get_their_confirmed_statistics(tracked_run):
    expected, seeds = expected_confirmed(tracked_run), confirm_seeds(tracked_run)
    files = list((tracked_run.path / "ray").rglob("events.out.tfevents.*.confirmed"))
    assert len(files) == 4 * 2 + 2  # the search's confirming trials twice, the verb's once
    scalars: dict[str, dict[str, dict[int, float]]] = {}
    for path in files:
        for tag, values in event_scalars(path).items():
            scalars.setdefault(path.parent.name, {}).setdefault(tag, {}).update(values)
    assert set(scalars) == {f"trial-{t}" for t in expected}
    for trial_id, metrics in expected.items():
        logged = scalars[f"trial-{trial_id}"]
        assert {tag: logged[tag][6] for tag in metrics} == pytest.approx(metrics, abs=1e-6)
        assert logged["confirmed/n"] == ({4: 2.0} if seeds[trial_id] < 1002 else {}) | {6: 3.0}


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb installed")
def test_missing_tracking_package_is_one_line_before_ray(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nas", "run", "--set", "tracking=[wandb]",
                           "--output", str(tmp_path / "run")], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "nas-search[wandb]" in proc.stderr
    assert not (tmp_path / "run").exists()  # failed before the run directory or Ray


def test_bad_tracking_config_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nas", "run", "--set",
                           "tracking={mlflow: {url: http://x}}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "tracking.mlflow.url" in proc.stderr
