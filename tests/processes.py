"""Processes the tests start: each in its own process group on 127.0.0.1, stopped by its group
id at the end (never by a broad `ray stop`), and a tiny search config for them to run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def start(args: list[str], log: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True, env=clean_env(**env))


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGKILL, wait: float = 45) -> None:
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


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


def nas_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "nas", *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
