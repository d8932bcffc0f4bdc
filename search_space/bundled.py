"""The search spaces that ship with the package (search_space/spaces/*.yaml), by name."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def bundled_space(name: str) -> Path | None:
    """Path of the bundled space `name`, or None."""
    candidate = resources.files(__package__) / "spaces" / f"{name}.yaml"
    return Path(str(candidate)) if candidate.is_file() else None


def space_names() -> list[str]:
    """Names of the bundled spaces."""
    folder = resources.files(__package__) / "spaces"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))
