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

SUFFIXES = (".pt", ".yaml")


def trial_weights(run_dir: str | Path, trial_id: str) -> Path:
    """Where a trial saves its weights before the driver ranks them."""
    return Path(run_dir) / "weights" / "trials" / f"{trial_id}.pt"


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
            self._delete(self.dir / f"{trial_id}.pt")
        if row["trial_id"] not in self.kept:
            self._delete(saved)
            return False
        for suffix in SUFFIXES:
            os.replace(saved.with_suffix(suffix), (self.dir / row["trial_id"]).with_suffix(suffix))
        return True

    @staticmethod
    def _delete(ckpt: Path) -> None:
        for suffix in SUFFIXES:
            ckpt.with_suffix(suffix).unlink(missing_ok=True)


def _reward(row: dict[str, Any]) -> float | None:
    return row.get("reward") if row.get("status") in SCORED else None
