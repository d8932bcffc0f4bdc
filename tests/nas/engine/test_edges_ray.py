"""A plain `run` (no --address) starts its own private Ray, whatever else runs on the machine.

Ray, given no address, attaches to the cluster named by RAY_ADDRESS or by the address file that
`ray start` leaves in its temp dir (RAY_TMPDIR/ray/ray_current_cluster). These tests point both
at their own head or a dead port, never at the machine's shared /tmp/ray.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from processes import (
    TINY,
    clean_env,
    free_port,
    listening,
    nas_cli,
    start,
    stop_group,
    wait_for,
)

from nas.ledger.run_dir import RunDir


def _plain_run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY.format(n=1))
    return subprocess.run(nas_cli("run", str(config), "--output", str(tmp_path / "run")),
                          capture_output=True, text=True, timeout=240, env=clean_env(**env))


@pytest.mark.skipif(shutil.which("ray") is None, reason="the ray CLI is not on PATH")
def test_plain_run_ignores_a_cluster_started_with_ray_start(tmp_path: Path) -> None:
    port = free_port()
    temp_dir = Path(f"/tmp/nasray{port}")
    # no CPUs: a run that attached to this head would wait forever for its first trial
    head = start(["ray", "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
                   "--port", str(port), "--num-cpus", "0", "--include-dashboard", "false",
                   "--temp-dir", str(temp_dir / "ray")], tmp_path / "head.log",
                  RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    try:
        wait_for(lambda: listening(port), 90, "the Ray head")
        done = _plain_run(tmp_path, RAY_ADDRESS=f"127.0.0.1:{port}", RAY_TMPDIR=str(temp_dir))
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert [r["status"] for r in RunDir(tmp_path / "run").rows()] == ["ok"]
    finally:
        stop_group(head, signal.SIGTERM, wait=5)  # then SIGKILL: no 30 s drain
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_plain_run_ignores_a_stale_cluster_address_file(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: the cluster that wrote it was killed
    temp_dir = Path(f"/tmp/nasstale{port}")
    (temp_dir / "ray").mkdir(parents=True)
    (temp_dir / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{port}\n")
    try:
        done = _plain_run(tmp_path, RAY_TMPDIR=str(temp_dir))
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert [r["status"] for r in RunDir(tmp_path / "run").rows()] == ["ok"]
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
