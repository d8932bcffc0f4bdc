"""Tracking through Ray Tune's logger callbacks, and the report, on one tiny real search."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nas import load_config, search
from nas.ledger.run_dir import RunDir
from nas.outputs.report import write_report

ROOT = Path(__file__).resolve().parents[3]
# MLflow's own SQLAlchemy use warns about itself; nothing this project can change
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")
QUICK = ["budget.num_samples=3", "budget.max_concurrent=2", "proxy.epochs=2",
         "controller.name=random", "controller.options={}",
         "evaluate=tests.instant_evaluator:instant", "confirm.top=0"]


@pytest.fixture(scope="module")
def tracked_run(ray_local, tmp_path_factory):
    pytest.importorskip("mlflow")
    config = load_config("demo", QUICK + ["tracking=[mlflow, tensorboard]"])
    return search(config, tmp_path_factory.mktemp("tracked") / "run", progress=lambda line: None)


def test_mlflow_has_one_run_per_trial_with_epochs_and_final_row(tracked_run):
    import mlflow
    from mlflow.tracking import MlflowClient

    store = f"sqlite:///{tracked_run.path / 'mlruns' / 'mlflow.db'}"
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["demo"])
    rows = {row["trial_id"]: row for row in tracked_run.rows()}
    assert len(runs) == len(rows) == 3
    for _, run in runs.iterrows():
        trial_id = run["tags.trial_name"].rsplit("_", 1)[-1]
        assert run["metrics.final/reward"] == pytest.approx(rows[trial_id]["reward"])
        assert run["params.final/status"] == "ok"
        assert run["params.search/controller/name"] == run["tags.controller"] == "random"
        epochs = MlflowClient(store).get_metric_history(run["run_id"], "epoch")
        assert sorted(m.value for m in epochs)[:2] == [1, 2]  # one report per epoch


def test_tensorboard_event_files_per_trial(tracked_run):
    events = sorted((tracked_run.path / "ray").rglob("events.out.tfevents.*"))
    assert len(events) == 3
    for path in events:
        data = path.read_bytes()
        assert b"accuracy" in data and b"final/reward" in data and b"search_config" in data


def test_report_of_a_real_finished_run(tracked_run, tmp_path):
    page = write_report(tracked_run.path, tmp_path / "r.html").read_text()
    assert len(re.findall(r'src="data:image/png;base64,', page)) >= 4
    assert "Top 10 by reward" in page and page.count("<tr><td>") >= 3
    assert "finished: 3 of 3 trials" in page and RunDir(tracked_run.path).rows()


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
