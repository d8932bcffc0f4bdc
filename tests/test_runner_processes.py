"""The search as separate processes: kill -9 and resume, and a Ray head started by `ray start`.

Every process these tests start runs in its own process group on 127.0.0.1 and is stopped by
its group id at the end, never by a broad `ray stop`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nas.ledger.run_dir import RunDir

TINY = """\
version: 1
name: tiny
seed: 0
space: b0
controller: {{name: evolution, options: {{population_size: 4, tournament_size: 2}}}}
proxy: {{dataset: synthetic, resolution: 16, train_size: 128, val_size: 64, batch_size: 32,
        device: cpu}}
budget: {{num_samples: {n}, max_concurrent: 2}}
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def _start(args: list[str], log: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True, env=_env(**env))


def _stop_group(proc: subprocess.Popen, sig: int = signal.SIGKILL, wait: float = 45) -> None:
    """Signal the process group, then SIGKILL it if it has not ended within `wait` s."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


def _nas(*args: str) -> list[str]:
    return [sys.executable, "-m", "nas", *args]


def test_kill_9_then_resume_completes_budget(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY.format(n=8))
    run_dir = tmp_path / "run"
    driver = _start(_nas("run", str(config), "--output", str(run_dir)), tmp_path / "run.log")
    run = RunDir(run_dir)
    try:
        _wait_for(lambda: len(run.rows()) >= 3, 300, "3 finished trials")
    finally:
        _stop_group(driver)  # kill -9 the driver and the Ray it started
    before = run.rows()
    in_flight = run.load_state()["in_flight"]
    assert 3 <= len(before) < 8

    resumed = subprocess.run(_nas("resume", str(run_dir)), capture_output=True, text=True,
                             timeout=600, env=_env())
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    rows = run.rows()
    assert len(rows) == 8
    assert rows[:len(before)] == before  # finished trials survive, unchanged
    state = torch.load(run_dir / "search.pt", weights_only=True)
    assert state["told"] == 8 and state["in_flight"] == []
    later = [r["tokens"] for r in rows[len(before):]]
    assert all(tokens in later for tokens in in_flight)  # the killed trials were re-run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("ray") is None, reason="the ray CLI is not on PATH")
def test_search_on_cluster_started_with_ray_start(tmp_path):
    port = _free_port()
    temp_dir = Path(f"/tmp/nasray{port}")  # Ray's socket paths must stay short
    head = _start(["ray", "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
                   "--port", str(port), "--num-cpus", "2", "--include-dashboard", "false",
                   "--temp-dir", str(temp_dir)], tmp_path / "head.log",
                  RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    try:
        _wait_for(lambda: _listening(port), 90, "the Ray head")
        config = tmp_path / "tiny.yaml"
        config.write_text(TINY.format(n=3))
        # no RAY_* variables: the token that `ray start` saved must be found by nas-search
        done = subprocess.run(
            _nas("run", str(config), "--output", str(tmp_path / "run"),
                 "--address", f"127.0.0.1:{port}"),
            capture_output=True, text=True, timeout=600, env=_env())
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        rows = RunDir(tmp_path / "run").rows()
        assert len(rows) == 3 and {r["status"] for r in rows} == {"ok"}
        # a trial asking more CPUs than the whole cluster has would wait forever: refused
        too_big = subprocess.run(
            _nas("run", str(config), "--output", str(tmp_path / "big"), "--set",
                 "resources.cpu=3", "--address", f"127.0.0.1:{port}"),
            capture_output=True, text=True, timeout=120, env=_env())
        assert too_big.returncode == 2, too_big.stderr[-2000:]
        assert "more than the 2 CPUs the cluster" in too_big.stderr.splitlines()[-1]
    finally:
        _stop_group(head, signal.SIGTERM, wait=5)  # then SIGKILL: no 30 s drain
        shutil.rmtree(temp_dir, ignore_errors=True)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
