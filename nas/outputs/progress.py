"""Progress of long work: a live tqdm line on a terminal, plain lines when piped.

`Progress` is the general form every verb uses (prepare-data, train, latency):

    with Progress(total=len(items), desc="decode", unit="img") as progress:
        for item in items:
            ...
            progress.advance()
        progress.write("a line that stays")  # printed above the live line, or plainly

Its `update(done, total)` suits a callback that reports (done, total), as the data and latency
code below `nas` do: they know nothing of terminals.

`TrialProgress` is the search's: its `on_row(row)` is the callback the runner passes for every
journaled row. On a terminal it keeps one line with trials done / budget, running, failed, best
reward, elapsed and ETA below the per-trial lines; piped, it prints only the per-trial lines,
exactly as before, so logs and scripts see no control characters.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from nas.ledger.ledger import CHOSEN

REFRESH_S = 1.0  # the live line's clock ticks this often even when nothing finishes


class Progress:
    """A live line (tqdm) when `stream` is a terminal; otherwise only `write` (and `plain`)
    print.

    Args:
        total: units of work expected (None: unknown, no ETA).
        desc: what is being done, shown first on the line.
        unit: the unit's name (trials, images, archs ...).
        stream: where to print (default stdout).
        live: force the live line on or off (default: whether `stream` is a terminal).
        initial: units already done (a resumed run), left out of the rate and ETA.
        status: called at every refresh for the text after the counts (e.g. best so far).
        out: where `write` sends lines when not live (default: print them to `stream`).
        leave: keep the live line on the terminal once closed (False: erase it).
        plain: when not live, a line to print each time the work passes a tenth of `total`,
            made from (done, total, units per second), so logs see it move.
    """

    def __init__(self, total: int | None, desc: str = "", unit: str = "it",
                 stream: IO[str] | None = None, live: bool | None = None, initial: int = 0,
                 status: Callable[[], str] | None = None,
                 out: Callable[[str], None] | None = None, leave: bool = True,
                 plain: Callable[[int, int, float], str] | None = None):
        self.stream = stream or sys.stdout
        self.live = _is_terminal(self.stream) if live is None else live
        self.status, self.out, self.plain = status, out, plain
        self.total, self.n, self.initial = total, initial, initial
        self.bar = None
        self._stop = threading.Event()
        self._start, self._tenth = time.perf_counter(), -1
        if self.live:
            self._open_bar(desc, unit, leave)

    def _open_bar(self, desc: str, unit: str, leave: bool) -> None:
        from tqdm import tqdm

        # a terminal of unknown size (0 x 0, e.g. a fresh pty) makes tqdm print nothing
        sized = _columns(self.stream) > 0
        self.bar = tqdm(total=self.total, desc=desc, unit=f" {unit}", initial=self.n,
                        file=self.stream, dynamic_ncols=sized, ncols=None if sized else 100,
                        nrows=None if sized else 24, leave=leave,
                        bar_format="{desc} {n_fmt}/{total_fmt}{unit} |{bar:20}| "
                        "elapsed {elapsed}, ETA {remaining}{postfix}")  # tqdm adds ", "
        self._refresh_status()
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()

    def write(self, line: str) -> None:
        """Print a line that stays (above the live line on a terminal)."""
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        elif self.out is not None:
            self.out(line)
        else:
            print(line, file=self.stream, flush=True)

    def advance(self, n: int = 1) -> None:
        self.n += n
        if self.bar is not None:
            self._refresh_status(redraw=False)
            self.bar.update(n)
        elif self.plain is not None and self.total:
            self._plain_line()

    def update(self, done: int, total: int | None = None) -> None:
        """Move to `done` units (of `total`, when only the work knows it): for callbacks that
        report (done, total)."""
        if total is not None and total != self.total:
            self.total = total
            if self.bar is not None:
                self.bar.total = total
        self.advance(done - self.n)

    def _plain_line(self) -> None:
        tenth = self.n * 10 // max(1, self.total)
        if tenth != self._tenth:
            self._tenth = tenth
            rate = (self.n - self.initial) / max(1e-9, time.perf_counter() - self._start)
            self.write(self.plain(self.n, self.total, rate))

    def close(self) -> None:
        if self.bar is not None:
            self._stop.set()
            self._ticker.join()
            self._refresh_status()
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __getstate__(self) -> dict[str, Any]:
        # Ray pickles its searcher, and with it the ledger's on_row, for its own checkpoints:
        # a copy needs no terminal, bar or clock thread
        return {**self.__dict__, "stream": None, "bar": None, "_stop": None, "_ticker": None}

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _refresh_status(self, redraw: bool = True) -> None:
        if self.status is not None:
            self.bar.set_postfix_str(self.status(), refresh=redraw)

    def _tick(self) -> None:
        while not self._stop.wait(REFRESH_S):
            self._refresh_status()  # redraws: the elapsed time and ETA move on


def _columns(stream: IO[str]) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a file
        return False


class TrialProgress:
    """A search's progress: one line per finished trial, plus the live line on a terminal.

    Args:
        budget: trials the whole search trains.
        rows: rows journaled before (a resumed run), for the counts and the best so far.
        running: how many trials are training now (e.g. the ledger's in_flight).
        desc: the live line's label.
        stream, live, out: as for `Progress`.
    """

    def __init__(self, budget: int, rows: list[dict[str, Any]] = (),
                 running: Callable[[], int] | None = None, desc: str = "search",
                 stream: IO[str] | None = None, live: bool | None = None,
                 out: Callable[[str], None] | None = None):
        self.budget, self.running = budget, running
        self.done = self.failed = 0
        self.confirmed = self.confirm_total = 0  # confirming trainings (outside the budget)
        self.best: float | None = None
        for row in rows:
            self._count(row)
        self.progress = Progress(budget, desc, "trials", stream, live, initial=self.done,
                                 status=self.status, out=out)

    def on_row(self, row: dict[str, Any]) -> None:
        """The runner's per-row callback: count it, print its line, move the live line."""
        if row["status"] == "rejected":  # never trained: not a trial of the budget
            return
        self._count(row)
        if row.get("stage") == "confirm":  # a confirming training: `confirm i/N`
            self.confirmed += 1
            line = trial_line(row, self.done, self.budget, self.best).split("] ", 1)[1]
            self.progress.write(f"confirm {self.confirmed}/{self.confirm_total} {line}  "
                                f"seed {row.get('confirm_seed')}")
            return
        self.progress.write(trial_line(row, self.done, self.budget, self.best))
        if not row.get(CHOSEN):
            self.progress.advance()

    def confirming(self, done: int, total: int) -> None:
        """A confirmation round starts: `done` of `total` confirming trainings journaled."""
        self.confirmed, self.confirm_total = done, total

    def status(self) -> str:
        best = "-" if self.best is None else f"{self.best:.4f}"
        running = "" if self.running is None else f"running {self.running()}, "
        return f"{running}failed {self.failed}, best {best}"

    def close(self) -> None:
        self.progress.close()

    def __enter__(self) -> TrialProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _count(self, row: dict[str, Any]) -> None:
        if row["status"] == "rejected":
            return
        if not row.get(CHOSEN):  # a confirming training is outside the budget
            self.done += 1
        if row["status"] in ("failed", "diverged"):
            self.failed += 1
        reward = row.get("reward")
        if reward is not None and (self.best is None or reward > self.best):
            self.best = reward


def trial_line(row: dict[str, Any], done: int, budget: int, best: float | None) -> str:
    """`[3/16] trial-id  acc 0.412  FLOPs 312.4M  reward 0.4178  best 0.4290  12.3s`."""
    acc = "-" if row.get("accuracy") is None else f"{row['accuracy']:.3f}"
    reward = "-" if row.get("reward") is None else f"{row['reward']:.4f}"
    best_text = "-" if best is None else f"{best:.4f}"
    note = f"  {row['status']}: {row['reason']}" if row["status"] != "ok" else ""
    return (f"[{done:>{len(str(budget))}}/{budget}] {row['trial_id']:<14} acc {acc}  "
            f"FLOPs {row['flops'] / 1e6:7.1f}M  reward {reward}  best {best_text}  "
            f"{row.get('train_seconds') or 0.0:5.1f}s{note}")
