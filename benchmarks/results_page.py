"""What every benchmark saves under benchmarks/results/: its output as a page headed by the
command, commit, date and machine that produced it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MACHINE = "this project's shared 2-core CPU virtual machine, no GPU"


def commit() -> str | None:
    """The checkout's short commit (None in a copied working tree without .git)."""
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, timeout=10,
                              capture_output=True, text=True, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def save(out: Path, title: str, script: str, lines: list[str], machine: str = MACHINE) -> None:
    """Write `lines` (the run's output) to `out` as a results page; the command is this
    process's own: `python SCRIPT ARGS`."""
    facts = {"Command": f"`{' '.join(['python', script, *sys.argv[1:]])}`",
             "Commit": commit() or "unknown", "Date": time.strftime("%Y-%m-%d %H:%M %z"),
             "Machine": machine}
    text = [f"# {title}", "", *(f"- {k}: {v}" for k, v in facts.items()), "", "```", *lines,
            "```", ""]
    out.write_text("\n".join(text), encoding="utf-8")
