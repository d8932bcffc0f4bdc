"""The run directory: everything a search leaves behind, written so nothing finished is lost.

    RUN_DIR/
      config.yaml      the resolved config (what `resume` reads back)
      reference.yaml   the space's reference block table (the base of a scaling grid)
      trials.jsonl     the journal: one line per finished trial, appended and flushed at once
      trials.parquet   the same rows as a table, rewritten atomically (at most every 2 s, and
                       when the driver stops)
      trials.csv       (and as CSV)
      search.pt        controller state + asks in flight, replaced atomically after every ask
                       (a tell: with the next ask; `restore` replays the journal past it)
      driver.json      pid and host of the driver while it runs (`status` tells running from dead)
      ray/             Ray Tune's own experiment state, one folder per driver session
      best.yaml        the best block table, exported when the search ends

The journal is the source of truth (`load_results` reads it): a row is appended and fsynced before
the controller is told, so a driver killed at any instant loses at most the trials that were still
training.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pickle
import socket
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from search_space.atomic_file import atomic_write
from search_space.errors import RunFailed, SpecError

SCORED = ("ok", "early_stopped")  # statuses that carry an accuracy and a reward
COLUMNS = ("trial_id", "status", "reason", "accuracy", "flops", "params", "reward",
           "train_seconds", "epochs", "proxy_resolution", "cpus", "gpus", "tokens", "arch",
           "finished_at")


# journal fields every row has, and what they must hold
TEXT, NUMBER, OPTIONAL_NUMBER = "text", "a finite number", "a finite number or null"
OPTIONAL_TEXT, INTEGER, INTEGERS = "text or null", "an integer", "a list of integers"
ROW_FIELDS = {"trial_id": TEXT, "status": TEXT, "reason": OPTIONAL_TEXT,
              "accuracy": OPTIONAL_NUMBER, "flops": NUMBER, "params": NUMBER,
              "reward": OPTIONAL_NUMBER, "train_seconds": NUMBER, "arch": TEXT}
# checked when present: what the driver writes (rows of older versions may lack some), and
# the columns of a study's or a grid's rows that the verbs read
OPTIONAL_FIELDS = {"cpus": NUMBER, "gpus": NUMBER, "tokens": INTEGERS, "finished_at": NUMBER,
                   "epochs": OPTIONAL_NUMBER, "proxy_resolution": OPTIONAL_NUMBER,
                   "latency_ms": OPTIONAL_NUMBER, "evaluator": TEXT,
                   "alpha": NUMBER, "beta": NUMBER, "gamma": NUMBER, "phi": NUMBER,
                   "arch_id": INTEGER, "setting": TEXT, "seed": INTEGER, "arch_tokens": INTEGERS,
                   "candidate": TEXT, "arch_name": TEXT, "search_reward": OPTIONAL_NUMBER,
                   "accuracy_std": OPTIONAL_NUMBER, "seeds": INTEGER}  # proxy.seeds > 1


class RunDir:
    """Reads and writes one run directory. Only the driver writes; readers may come and go."""

    TABLE_INTERVAL_S = 2.0  # refresh parquet/CSV at most this often; the journal is per trial

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._tables_at = -float("inf")
        self.write_failed: RunFailed | None = None  # set once a write failed mid-run

    @contextlib.contextmanager
    def _writing(self, name: str) -> Iterator[None]:
        """A failed write (disk full, read-only) is a `RunFailed` saying how to go on; it is
        also kept in `write_failed`, since Ray Tune logs and swallows errors in callbacks."""
        try:
            yield
        except OSError as err:
            self.write_failed = RunFailed(
                f"{self.path / name}: cannot write ({err.strerror or err}); every trial "
                f"journaled so far is kept: make room, then `nas-search resume {self.path}`")
            raise self.write_failed from None

    @classmethod
    def create(cls, path: str | Path, config_yaml: str,
               files: dict[str, str] | None = None) -> RunDir:
        """A new run directory: `files` (name -> text) first, then config.yaml, each written
        atomically, so a directory with a config.yaml always has the rest."""
        run = cls(path)
        if run.path.exists() and not run.path.is_dir():
            raise SpecError("--output", str(path), "is a file, not a folder")
        if run.path.exists() and any(run.path.iterdir()):
            raise SpecError("--output", str(path), "exists and is not empty; resume it with "
                            f"`nas-search resume {path}` or choose another --output")
        try:
            run.path.mkdir(parents=True, exist_ok=True)
            for name, text in {**(files or {}), "config.yaml": config_yaml}.items():
                atomic_write(run.path / name, lambda p, text=text: p.write_text(text))
        except OSError as err:
            raise SpecError("--output", str(path), f"cannot write the run directory there "
                            f"({err.strerror or err})") from None
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        run = cls(path)
        config = run.path / "config.yaml"
        if not config.is_file():
            raise SpecError("RUN_DIR", str(path), "not a nas-search run directory "
                            "(no config.yaml)")
        if config.stat().st_size == 0:  # would read as all defaults: another search
            raise SpecError("config.yaml", str(config), "is empty: the run's config is lost",
                            str(config))
        return run

    # --- trials -------------------------------------------------------------------------

    @property
    def journal(self) -> Path:
        return self.path / "trials.jsonl"

    def rows(self, needs: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Every finished trial, in the order they finished; each must have the fields in
        `needs` too (those optional in a row that a reader cannot do without).

        Only a torn last line (the driver died writing it: no newline, not a row) is skipped;
        any other line that is not a whole row is a `SpecError` naming the file and line.
        """
        if not self.journal.exists() and not self.journal.is_symlink():
            return []
        data = self._journal_bytes()
        *lines, tail = data.split(b"\n")
        rows = [self._row(i, line, needs) for i, line in enumerate(lines, 1)]
        last = _parse_row(tail, needs) if tail else None
        return rows if last is None else [*rows, last]  # whole, only its newline was lost

    def _journal_bytes(self) -> bytes:
        try:
            return self.journal.read_bytes()
        except OSError as err:
            raise SpecError("trials.jsonl", str(self.journal), f"cannot read the journal "
                            f"({err.strerror or err})", str(self.journal)) from None

    def _row(self, number: int, line: bytes, needs: tuple[str, ...]) -> dict[str, Any]:
        try:
            return _check_row(json.loads(line), needs)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise SpecError(f"line {number}", _shown(line), "damaged: not a JSON row",
                            str(self.journal)) from None
        except SpecError as err:
            raise err.within(f"line {number}: ").with_source(str(self.journal)) from None

    def append(self, row: dict[str, Any], rows: list[dict[str, Any]] | None = None) -> None:
        """Journal one finished trial durably; refresh the parquet/CSV tables now and then.

        Rewriting the tables costs time in proportion to the trials so far, so it happens at
        most every TABLE_INTERVAL_S (and when the search ends, `write_tables`). `rows`, if
        given, are all rows including this one (saves re-reading the journal).
        """
        with self._writing(self.journal.name), self.journal.open("a+b") as f:
            f.seek(0, os.SEEK_END)
            if f.tell():  # a torn last line (driver killed mid-write) must not swallow this row
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    _end_torn_line(f)
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
        with self._writing("trials.parquet"):
            atomic_write(self.path / "trials.parquet", lambda p: df.to_parquet(p, index=False))
        with self._writing("trials.csv"):
            atomic_write(self.path / "trials.csv", lambda p: df.to_csv(p, index=False))

    # --- search state -------------------------------------------------------------------

    def save_state(self, state: dict[str, Any]) -> None:
        with self._writing("search.pt"):
            atomic_write(self.path / "search.pt", lambda p: torch.save(state, p))

    def load_state(self) -> dict[str, Any] | None:
        path = self.path / "search.pt"
        if not path.exists():
            return None
        # plain data only: nothing in a run directory is trusted enough to unpickle
        if not zipfile.is_zipfile(path):
            raise SpecError("search.pt", str(path), "damaged: not a file this program saved "
                            "(delete it to restart the controller from the journal)", str(path))
        try:
            state = torch.load(path, weights_only=True)
        except pickle.UnpicklingError:  # torch's message advises unsafe loading: not ours
            raise SpecError("search.pt", str(path), "untrusted or damaged: it holds more than "
                            "plain data, which is never unpickled", str(path)) from None
        except (RuntimeError, EOFError, KeyError, ValueError) as err:
            raise SpecError("search.pt", str(path), f"damaged ({type(err).__name__}): delete "
                            "it to restart the controller from the journal", str(path)) from None
        if not (isinstance(state, dict) and isinstance(state.get("in_flight"), list)
                and isinstance(state.get("told"), int) and "controller" in state):
            raise SpecError("search.pt", str(path), "damaged: not a saved search state",
                            str(path))
        return state

    # --- driver liveness ----------------------------------------------------------------

    def mark_driver(self) -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname()}
        atomic_write(self.path / "driver.json", lambda p: p.write_text(json.dumps(info)))

    def clear_driver(self) -> None:
        (self.path / "driver.json").unlink(missing_ok=True)

    def driver_alive(self) -> bool:
        path = self.path / "driver.json"
        if not path.exists():
            return False
        info = _driver_info(path)
        if info.get("host") != socket.gethostname():
            return True  # cannot check another machine's process; assume it runs
        try:
            os.kill(info["pid"], 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True


def _driver_info(path: Path) -> dict[str, Any]:
    """driver.json's pid and host, or a `SpecError` saying how to recover."""
    try:
        info = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        info = None
    if not (isinstance(info, dict) and isinstance(info.get("pid"), int)
            and isinstance(info.get("host"), str)):
        raise SpecError("driver.json", str(path), "damaged (no pid and host); if no driver "
                        "runs this search, delete it", str(path))
    return info


def _check_row(row: Any, needs: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise SpecError("(row)", row, "must be a JSON object")
    for key in (*ROW_FIELDS, *needs):
        if key not in row:
            raise SpecError(key, None, "missing")
    kinds = {**ROW_FIELDS, **{k: v for k, v in OPTIONAL_FIELDS.items() if k in row}}
    for key, kind in kinds.items():
        if not _holds(row[key], kind):
            raise SpecError(key, row[key], f"must be {kind}")
    _check_trial_id(row["trial_id"])
    if row["status"] in SCORED and (row["accuracy"] is None or row["reward"] is None):
        raise SpecError("accuracy", row["accuracy"], f"a {row['status']} trial has an accuracy "
                        "and a reward")
    return row


def _holds(value: Any, kind: str) -> bool:
    """Whether a journal value is of `kind` (TEXT, NUMBER, ...)."""
    if value is None and kind in (OPTIONAL_TEXT, OPTIONAL_NUMBER):
        return True
    if kind in (TEXT, OPTIONAL_TEXT):
        return isinstance(value, str)
    if kind == INTEGER:
        return type(value) is int
    if kind == INTEGERS:
        return isinstance(value, list) and all(type(t) is int for t in value)
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _check_trial_id(trial_id: str) -> None:
    """A trial id names files in the run directory (its kept weights): a plain name only."""
    if trial_id in ("", ".", "..") or any(c in trial_id for c in "/\\\0"):
        raise SpecError("trial_id", trial_id, "must be a plain name (no '/', '\\', '..')")


def _parse_row(line: bytes, needs: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """The row on `line`, or None when it is not a whole, valid row."""
    try:
        return _check_row(json.loads(line), needs)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, SpecError):
        return None


def _end_torn_line(f) -> None:
    """Before appending: a last line without its newline is either a whole row (end it) or
    the torn start of one (cut it: its trial was never told, so it is re-run)."""
    f.seek(0)
    data = f.read()
    start = data.rfind(b"\n") + 1
    if _parse_row(data[start:]) is not None:
        f.write(b"\n")
    else:
        f.truncate(start)
        f.seek(0, os.SEEK_END)


def _shown(line: bytes) -> str:
    text = line.decode("utf-8", errors="replace")
    return text if len(text) <= 60 else text[:57] + "..."


def _extra_columns(rows: list[dict[str, Any]]) -> list[str]:
    extra = {key for row in rows for key in row} - set(COLUMNS)
    return sorted(extra)
