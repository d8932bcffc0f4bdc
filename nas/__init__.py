"""The nas-search application: config, CLI, the Ray Tune runner, results, Pareto fronts, export.

Public names load lazily so that `nas-search --help` does not import torch, pandas or Ray.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_config": "nas.config",
    "SearchConfig": "nas.config",
    "search": "nas.api",
    "load_results": "nas.ledger.results",
    "load_confirmed": "nas.ledger.confirmed",
    "pareto_front": "nas.ledger.results",
    "rescore": "nas.ledger.results",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nas' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
