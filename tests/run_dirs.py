"""Run directories made by hand (no Ray): whole journal rows and a saved state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas.config import BudgetConfig, SearchConfig
from nas.ledger.run_dir import RunDir
from search_space import preset

ARCH = preset("efficientnet-b0").replace(resolution=32)


def row(trial_id: str, **fields: Any) -> dict[str, Any]:
    """A journal row as the driver writes it (status ok unless `fields` say otherwise)."""
    return {"trial_id": trial_id, "status": "ok", "reason": "", "accuracy": 0.5, "flops": 4e7,
            "params": 4e6, "reward": 0.6, "train_seconds": 1.0, "epochs": 1,
            "proxy_resolution": 16, "cpus": 1.0, "gpus": 0.0, "tokens": [0, 1],
            "arch": ARCH.to_yaml(), "finished_at": 0.0, **fields}


def fake_run(path: Path, trials: int = 3) -> RunDir:
    """A finished-looking run directory of `trials` rows, its state saved."""
    config = SearchConfig(name="fake", budget=BudgetConfig(num_samples=trials))
    run = RunDir.create(path, config.to_yaml())
    rows = [row(f"t{i}", accuracy=0.5 + i / 100) for i in range(trials)]
    for r in rows:
        run.append(r, rows)
    run.write_tables(rows)
    run.save_state({"version": 1, "controller": {}, "in_flight": [], "told": trials})
    return run
