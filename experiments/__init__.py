"""Bundled experiment configs (YAML files, loadable by name); spaces live in search_space."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def bundled(kind: str, name: str) -> Path | None:
    """Path of the bundled `<name>.yaml` (kind "": experiments; or a subfolder)."""
    folder = resources.files(__name__)
    if kind:
        folder = folder / kind
    candidate = folder / f"{name}.yaml"
    return Path(str(candidate)) if candidate.is_file() else None


def names(kind: str = "") -> list[str]:
    """Names of the bundled YAML files of one kind."""
    folder = resources.files(__name__) / kind if kind else resources.files(__name__)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))
