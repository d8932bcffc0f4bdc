"""The search as separate processes: kill -9 and resume, and a Ray head started by `ray start`.

Every process these tests start runs in its own process group on 127.0.0.1 and is stopped by
its group id at the end, never by a broad `ray stop`.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import torch
from processes import TINY, clean_env, free_port, listening, nas_cli, start, stop_group, wait_for

from nas.ledger.run_dir import RunDir


def test_kill_9_then_resume_completes_budget(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY.format(n=8))
    run_dir = tmp_path / "run"
    driver = start(nas_cli("run", str(config), "--output", str(run_dir)), tmp_path / "run.log")
    run = RunDir(run_dir)
    try:
        wait_for(lambda: len(run.rows()) >= 3, 300, "3 finished trials")
    finally:
        stop_group(driver)  # kill -9 the driver and the Ray it started
    before = run.rows()
    in_flight = run.load_state()["in_flight"]
    assert 3 <= len(before) < 8

    resumed = subprocess.run(nas_cli("resume", str(run_dir)), capture_output=True, text=True,
                             timeout=600, env=clean_env())
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    rows = run.rows()
    assert len(rows) == 8
    assert rows[:len(before)] == before  # finished trials survive, unchanged
    state = torch.load(run_dir / "search.pt", weights_only=True)
    assert state["told"] == 8 and state["in_flight"] == []
    later = [r["tokens"] for r in rows[len(before):]]
    assert all(tokens in later for tokens in in_flight)  # the killed trials were re-run


@pytest.mark.skipif(shutil.which("ray") is None, reason="the ray CLI is not on PATH")
def test_search_on_cluster_started_with_ray_start(tmp_path):
    port = free_port()
    temp_dir = Path(f"/tmp/nasray{port}")  # Ray's socket paths must stay short
    head = start(["ray", "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
                   "--port", str(port), "--num-cpus", "2", "--include-dashboard", "false",
                   "--temp-dir", str(temp_dir)], tmp_path / "head.log",
                  RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    try:
        wait_for(lambda: listening(port), 90, "the Ray head")
        config = tmp_path / "tiny.yaml"
        config.write_text(TINY.format(n=3))
        # no RAY_* variables: the token that `ray start` saved must be found by nas-search
        done = subprocess.run(
            nas_cli("run", str(config), "--output", str(tmp_path / "run"),
                 "--address", f"127.0.0.1:{port}"),
            capture_output=True, text=True, timeout=600, env=clean_env())
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        rows = RunDir(tmp_path / "run").rows()
        assert len(rows) == 3 and {r["status"] for r in rows} == {"ok"}
        # a trial asking more CPUs than the whole cluster has would wait forever: refused
        too_big = subprocess.run(
            nas_cli("run", str(config), "--output", str(tmp_path / "big"), "--set",
                 "resources.cpu=3", "--address", f"127.0.0.1:{port}"),
            capture_output=True, text=True, timeout=120, env=clean_env())
        assert too_big.returncode == 2, too_big.stderr[-2000:]
        assert "more than the 2 CPUs the cluster" in too_big.stderr.splitlines()[-1]
    finally:
        stop_group(head, signal.SIGTERM, wait=5)  # then SIGKILL: no 30 s drain
        shutil.rmtree(temp_dir, ignore_errors=True)
