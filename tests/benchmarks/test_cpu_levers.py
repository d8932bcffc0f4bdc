"""The CPU levers benchmark never rots: its quick run finishes and prints every section."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.cpu_levers import HEADERS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_run_prints_every_section() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "benchmarks/cpu_levers.py", "--quick"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    for header in HEADERS:
        assert header in done.stdout
    assert "fp32 contiguous" in done.stdout and "bf16 channels_last" in done.stdout
