"""Run directories with confirmation rows, made by hand (no Ray): the contract's journal rows
(`chosen: true`, `stage: confirm`, `confirm_seed`) beside a search's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas.config import BudgetConfig, ObjectiveConfig, SearchConfig
from nas.ledger.run_dir import RunDir
from tests.run_dirs import row

OBJECTIVE = ObjectiveConfig()


def confirm_row(trial_id: str, tokens: list[int], accuracy: float, seed: int,
                **fields: Any) -> dict[str, Any]:
    """A confirmation training's journal row, as the contract describes it."""
    fields = {"reward": OBJECTIVE.reward(accuracy, fields.get("flops", 4e7)), **fields}
    return row(trial_id, tokens=tokens, accuracy=accuracy, chosen=True, stage="confirm",
               confirm_seed=seed, evaluator="proxy", **fields)


def search_and_confirm() -> list[dict[str, Any]]:
    """Search: A lucky (0.70), B 0.65, C 0.60; confirmation: A ~0.55, B ~0.64 (3 seeds)."""
    search = [row("a", tokens=[0, 0], accuracy=0.70, reward=0.80),
              row("b", tokens=[1, 1], accuracy=0.65, reward=0.75),
              row("c", tokens=[2, 2], accuracy=0.60, reward=0.70, flops=3e7)]
    confirm = [confirm_row(f"ca{i}", [0, 0], acc, 1000 + i)
               for i, acc in enumerate((0.54, 0.56, 0.55))]
    confirm += [confirm_row(f"cb{i}", [1, 1], acc, 1000 + i)
                for i, acc in enumerate((0.63, 0.65, 0.64))]
    return search + confirm


def confirmed_run(path: Path, rows: list[dict[str, Any]] | None = None,
                  config: SearchConfig | None = None) -> RunDir:
    """A finished run directory holding `rows` (default `search_and_confirm`)."""
    rows = search_and_confirm() if rows is None else rows
    config = config or SearchConfig(name="confirmed", budget=BudgetConfig(num_samples=3))
    run = RunDir.create(path, config.to_yaml())
    for r in rows:
        run.append(r, rows)
    run.write_tables(rows)
    run.save_state({"version": 1, "controller": {}, "in_flight": [], "told": 3})
    return run
