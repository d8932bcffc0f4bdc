"""The entry points that see every room: `nas.search` runs a search or a scaling grid by its
config. The engine runs whatever (space, controller, budget) it is handed; which parts a config
asks for is decided here, above the rooms, so the engine knows nothing of studies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nas.config import SearchConfig
from nas.engine import runner
from nas.ledger.run_dir import RunDir
from nas.studies.grid import grid_parts


def search(config: SearchConfig, output: str | Path | None = None, resume: bool = False,
           progress: Callable[[str], None] = print, live: bool | None = False) -> RunDir:
    """Run (or resume) a search, or a scaling grid, to its budget; return its run directory.

    Args:
        config: the validated experiment config (`nas.load_config`).
        output: the run directory; a new one must be empty. Defaults to runs/NAME-TIMESTAMP.
        resume: continue the search in `output` from its saved state.
        progress: receives one line per finished trial.
        live: keep a live progress line on stdout (None: when stdout is a terminal).
    """
    return runner.search(config, output, resume, progress, live, parts=_grid_parts(config))


def budget(config: SearchConfig) -> int:
    """Trials the config's search trains: its budget, or the scaling grid's distinct models."""
    parts = _grid_parts(config)
    return config.budget.num_samples if parts is None else parts[2]


def _grid_parts(config: SearchConfig) -> tuple | None:
    if config.grid is None:
        return None
    space, controller = grid_parts(config.grid)
    return space, controller, len(space)
