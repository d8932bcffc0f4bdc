"""Helpers for the bad-input tests: run the CLI, expect one error line, and nothing changed."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from nas.cli import main

ROOT = Path(__file__).resolve().parents[1]


def snapshot(folder: Path) -> dict[str, str]:
    """Path -> content hash of every file under `folder` (folders listed as such)."""
    return {str(p.relative_to(folder)): "dir" if p.is_dir() else
            hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))}


def cli_error(*args: str, run_dir: Path | None = None, code: int = 2) -> str:
    """Run `python -m nas ARGS` in a subprocess; it must fail with exit `code` and one stderr
    line, no traceback, leaving `run_dir` (if given) exactly as it was. Returns that line."""
    before = snapshot(run_dir) if run_dir else None
    done = subprocess.run([sys.executable, "-m", "nas", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == code, done.stdout[-1000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"nas-search {args[0]}: error: "), lines[0]
    if run_dir:
        assert snapshot(run_dir) == before
    return lines[0]


def main_error(capsys: pytest.CaptureFixture[str], *args: str,
               run_dir: Path | None = None) -> str:
    """The same check in this process (cheap, for the many variants of one class)."""
    before = snapshot(run_dir) if run_dir else None
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"nas-search {args[0]}: error: "), lines[0]
    if run_dir:
        assert snapshot(run_dir) == before
    return lines[0]
