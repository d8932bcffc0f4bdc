"""The live progress line: on a terminal (a pty) it shows; piped, only plain lines."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from nas.cli import main
from nas.outputs.progress import Progress, TrialProgress

ROOT = Path(__file__).resolve().parents[3]
RUN = [sys.executable, "-m", "nas", "run", "--set", "budget.num_samples=3",
       "--set", "controller.name=random", "--set", "controller.options={}",
       "--set", "evaluate=tests.instant_evaluator:instant"]


def _row(trial_id, status="ok", reward=0.5):
    return {"trial_id": trial_id, "status": status, "reason": "" if status == "ok" else "x",
            "accuracy": None if reward is None else reward, "reward": reward, "flops": 3e8,
            "train_seconds": 1.0}


def test_trial_progress_counts_and_lines():
    out = io.StringIO()
    with TrialProgress(4, rows=[_row("old", reward=0.7)], running=lambda: 1, stream=out,
                       live=True) as progress:
        progress.on_row(_row("a", reward=0.6))
        progress.on_row(_row("r", status="rejected", reward=None))  # not a trial
        progress.on_row(_row("b", status="failed", reward=None))
        assert (progress.done, progress.failed, progress.best) == (3, 1, 0.7)
        assert progress.status() == "running 1, failed 1, best 0.7000"
    text = out.getvalue()
    assert "[2/4] a" in text and "[3/4] b" in text and "failed: x" in text
    assert "search 3/4 trials" in text and "ETA" in text and "best 0.7000" in text


def test_retrained_picks_are_outside_the_budget():
    out = io.StringIO()
    with TrialProgress(2, rows=[_row("a"), _row("b")], stream=out, live=False) as progress:
        progress.on_row({**_row("picked", reward=0.9), "chosen": True})  # retrain_top
        assert (progress.done, progress.best) == (2, 0.9)
    assert "[2/2] picked" in out.getvalue()


def test_plain_progress_prints_only_lines():
    out = io.StringIO()
    with Progress(10, "decode", "img", stream=out) as progress:  # StringIO: not a terminal
        progress.advance(3)
        progress.write("kept line")
    assert out.getvalue() == "kept line\n"


def test_update_follows_a_done_total_callback_and_prints_each_tenth_when_piped():
    out = io.StringIO()
    with Progress(None, "decode", "img", stream=out,
                  plain=lambda done, total, rate: f"{done}/{total}") as progress:
        for done in (3, 4, 5, 10):  # the total is known only from the reports
            progress.update(done, 10)
        assert (progress.n, progress.total) == (10, 10)
    assert out.getvalue().splitlines() == ["3/10", "4/10", "5/10", "10/10"]


def test_update_moves_the_live_line():
    out = io.StringIO()
    with Progress(None, "timing parts", "part", stream=out, live=True, leave=False) as progress:
        progress.update(2, 4)
        assert (progress.bar.n, progress.bar.total) == (2, 4)
    assert out.getvalue().startswith("\rtiming parts ")  # erased when closed: leave=False


def _run_under_pty(args: list[str], timeout: float = 120) -> str:
    """Run `args` with stdout and stderr on a pseudo-terminal; return all it printed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    proc = subprocess.Popen(args, cwd=ROOT, stdout=follower, stderr=follower,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    os.close(follower)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                data = os.read(leader, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(leader)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")[-2000:]
    return b"".join(chunks).decode(errors="replace")


def test_progress_line_on_a_terminal(tmp_path):
    text = _run_under_pty(RUN + ["--output", str(tmp_path / "tty")])
    assert "demo 3/3 trials |" in text and "ETA" in text and "best 0." in text
    assert "[3/3]" in text  # the per-trial lines stay
    assert "Token authentication" not in text  # Ray's notice is hidden on a private run


def test_no_progress_line_when_piped(ray_local, tmp_path, capsys):
    assert main(RUN[3:] + ["--output", str(tmp_path / "piped")]) == 0  # stdout: not a tty
    out = capsys.readouterr().out
    assert "[3/3]" in out and "ETA" not in out and "\r" not in out
