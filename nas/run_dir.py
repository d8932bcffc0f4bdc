"""The run directory: everything a search leaves behind, written so nothing finished is lost.

    RUN_DIR/
      config.yaml      the resolved config (what `resume` reads back)
      reference.yaml   the space's reference block table (the base of a scaling grid)
      trials.jsonl     the journal: one line per finished trial, appended and flushed at once
      trials.parquet   the same rows as a table, rewritten atomically (at most every 2 s, and
                       when the driver stops)
      trials.csv       (and as CSV)
      search.pt        controller state + asks in flight, replaced atomically after every tell
      driver.json      pid and host of the driver while it runs (`status` tells running from dead)
      ray/             Ray Tune's own experiment state, one folder per driver session
      best.yaml        the best block table, exported when the search ends

The journal is the source of truth (`load_results` reads it): a row is appended and fsynced before
the controller is told, so a driver killed at any instant loses at most the trials that were still
training.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from search_space.errors import SpecError

SCORED = ("ok", "early_stopped")  # statuses that carry an accuracy and a reward
COLUMNS = ("trial_id", "status", "reason", "accuracy", "flops", "params", "reward",
           "train_seconds", "epochs", "proxy_resolution", "cpus", "gpus", "tokens", "arch",
           "finished_at")


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


class RunDir:
    """Reads and writes one run directory. Only the driver writes; readers may come and go."""

    TABLE_INTERVAL_S = 2.0  # refresh parquet/CSV at most this often; the journal is per trial

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._tables_at = -float("inf")

    @classmethod
    def create(cls, path: str | Path, config_yaml: str) -> RunDir:
        run = cls(path)
        if run.path.exists() and not run.path.is_dir():
            raise SpecError("--output", str(path), "is a file, not a folder")
        if run.path.exists() and any(run.path.iterdir()):
            raise SpecError("--output", str(path), "exists and is not empty; resume it with "
                            f"`nas-search resume {path}` or choose another --output")
        run.path.mkdir(parents=True, exist_ok=True)
        (run.path / "config.yaml").write_text(config_yaml)
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        run = cls(path)
        if not (run.path / "config.yaml").is_file():
            raise SpecError("RUN_DIR", str(path), "not a nas-search run directory "
                            "(no config.yaml)")
        return run

    # --- trials -------------------------------------------------------------------------

    @property
    def journal(self) -> Path:
        return self.path / "trials.jsonl"

    def rows(self) -> list[dict[str, Any]]:
        """Every finished trial, in the order they finished (a torn last line is skipped)."""
        if not self.journal.exists():
            return []
        rows = []
        for line in self.journal.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # only a line being written when the driver died can be torn
        return rows

    def append(self, row: dict[str, Any], rows: list[dict[str, Any]] | None = None) -> None:
        """Journal one finished trial durably; refresh the parquet/CSV tables now and then.

        Rewriting the tables costs time in proportion to the trials so far, so it happens at
        most every TABLE_INTERVAL_S (and when the search ends, `write_tables`). `rows`, if
        given, are all rows including this one (saves re-reading the journal).
        """
        with self.journal.open("a+b") as f:
            f.seek(0, os.SEEK_END)
            if f.tell():  # a torn last line (driver killed mid-write) must not swallow this row
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    f.write(b"\n")
            f.write(json.dumps(row, sort_keys=True).encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        if time.monotonic() - self._tables_at >= self.TABLE_INTERVAL_S:
            self.write_tables(rows)

    def table(self, rows: list[dict[str, Any]] | None = None) -> pd.DataFrame:
        rows = self.rows() if rows is None else rows
        return pd.DataFrame(rows, columns=list(COLUMNS) + _extra_columns(rows))

    def write_tables(self, rows: list[dict[str, Any]] | None = None) -> None:
        self._tables_at = time.monotonic()
        df = self.table(rows)
        _atomic_write(self.path / "trials.parquet", lambda p: df.to_parquet(p, index=False))
        _atomic_write(self.path / "trials.csv", lambda p: df.to_csv(p, index=False))

    # --- search state -------------------------------------------------------------------

    def save_state(self, state: dict[str, Any]) -> None:
        _atomic_write(self.path / "search.pt", lambda p: torch.save(state, p))

    def load_state(self) -> dict[str, Any] | None:
        path = self.path / "search.pt"
        if not path.exists():
            return None
        return torch.load(path, weights_only=True)  # plain data only: no arbitrary unpickling

    # --- driver liveness ----------------------------------------------------------------

    def mark_driver(self) -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname()}
        (self.path / "driver.json").write_text(json.dumps(info))

    def clear_driver(self) -> None:
        (self.path / "driver.json").unlink(missing_ok=True)

    def driver_alive(self) -> bool:
        path = self.path / "driver.json"
        if not path.exists():
            return False
        info = json.loads(path.read_text())
        if info.get("host") != socket.gethostname():
            return True  # cannot check another machine's process; assume it runs
        try:
            os.kill(info["pid"], 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True


def _extra_columns(rows: list[dict[str, Any]]) -> list[str]:
    extra = {key for row in rows for key in row} - set(COLUMNS)
    return sorted(extra)
