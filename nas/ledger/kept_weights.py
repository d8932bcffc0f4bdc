"""`keep_weights: K`: the trained weights of a search's K best trials, under RUN_DIR/weights/.

Each trial that finishes training saves its weights (`search_space.weights.save_weights`) as
``RUN_DIR/weights/trials/TRIAL_ID.pt`` (+ ``.yaml``); the run directory is where every node can
write (a multi-machine run keeps it on shared storage). The driver hands each journaled row to
`WeightsKeeper.offer`, which moves the files of a top-K trial (by reward) to
``RUN_DIR/weights/TRIAL_ID.pt`` and deletes the rest, pruning kept ones that fall out of the top
K. Trials stopped early (ASHA), failed or diverged leave no weights. No Ray import here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nas.ledger.run_dir import SCORED
from search_space.errors import SpecError

SUFFIXES = (".pt", ".yaml")


def trial_weights(run_dir: str | Path, trial_id: str) -> Path:
    """Where a trial saves its weights before the driver ranks them."""
    return kept_path(run_dir, trial_id, "trials")


def kept_path(run_dir: str | Path, trial_id: str, folder: str = "") -> Path:
    """RUN_DIR/weights/[folder/]TRIAL_ID.pt; a trial id read from a journal is data, so one
    that is not a plain name, or a file that resolves elsewhere (a link), is a `SpecError`."""
    weights = Path(run_dir) / "weights" / folder
    path = weights / f"{trial_id}.pt"
    plain = (isinstance(trial_id, str) and trial_id not in ("", ".", "..")
             and "\0" not in trial_id and Path(trial_id).name == trial_id)
    if not (plain and path.resolve().parent == weights.resolve()):
        raise SpecError("trial_id", trial_id, f"not a plain name: a trial's weights lie in "
                        f"{weights}{os.sep} and nowhere else")
    return path


class WeightsKeeper:
    """Keeps the weights of the `k` best-rewarded trials.

    Args:
        run_dir: the run directory.
        k: trials to keep (0 = keep none: every saved file is deleted).
        rows: rows journaled before (a resumed search), to rank against.
    """

    def __init__(self, run_dir: str | Path, k: int, rows: list[dict[str, Any]] = ()):
        self.dir, self.k = Path(run_dir) / "weights", k
        kept = {p.stem for p in self.dir.glob("*.pt")}
        self.kept = {row["trial_id"]: row["reward"] for row in rows
                     if row["trial_id"] in kept and _reward(row) is not None}
        for stem in kept - set(self.kept):  # files of rows that never made it to the journal
            self._delete(self.dir / f"{stem}.pt")

    def offer(self, row: dict[str, Any]) -> bool:
        """Rank a finished trial; keep its weights if they are in the top K. True if kept."""
        saved = trial_weights(self.dir.parent, row["trial_id"])
        reward = _reward(row)
        if reward is None or not saved.is_file():
            self._delete(saved)
            return False
        self.kept[row["trial_id"]] = reward
        best = sorted(self.kept, key=self.kept.__getitem__, reverse=True)[:self.k]
        for trial_id in [t for t in self.kept if t not in best]:
            del self.kept[trial_id]
            self._delete(kept_path(self.dir.parent, trial_id))
        if row["trial_id"] not in self.kept:
            self._delete(saved)
            return False
        kept = kept_path(self.dir.parent, row["trial_id"])
        for suffix in SUFFIXES:
            os.replace(saved.with_suffix(suffix), kept.with_suffix(suffix))
        return True

    @staticmethod
    def _delete(ckpt: Path) -> None:
        for suffix in SUFFIXES:
            ckpt.with_suffix(suffix).unlink(missing_ok=True)


def _reward(row: dict[str, Any]) -> float | None:
    return row.get("reward") if row.get("status") in SCORED else None
