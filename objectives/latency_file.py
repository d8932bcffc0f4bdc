"""A latency table's file: where it lives, and what a trusted one holds.

The file is JSON (never pickle) named after a hash of the `fingerprint`; its `version` and
`fingerprint` say whether it belongs here. One that is torn or belongs elsewhere is re-timed;
one that belongs here but holds numbers no timing gives (1e-9 ms parts, a scale of 1e300) is
refused, naming the file and the key, rather than trusted or silently overwritten.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from search_space.atomic_file import atomic_write
from search_space.errors import SpecError
from search_space.validators import number

TABLE_VERSION = 2  # 2: the stem's stride is part of its key
PART_MS = (1e-4, 1e7)  # a part's plausible ms per call: a Python call alone takes over 0.1 us
SCALES = (0.01, 100.0)  # whole network / sum of parts: seen 0.8-1.2, never 100x off

Table = tuple[dict[str, float], dict[str, float]]  # (part key -> ms, skeleton -> scale)


def default_cache_dir() -> Path:
    """$NAS_SEARCH_CACHE/latency, else ~/.cache/nas-search/latency."""
    root = os.environ.get("NAS_SEARCH_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "nas-search") / "latency"


def check_table_path(path: Path) -> None:
    """The table file `path` can be written where it is: its folder is a folder (or can be
    made in a writable one), and the file itself, if there, is a regular file."""
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise SpecError("cache_dir", str(folder), "is not a folder")
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise SpecError("cache_dir", str(folder), f"cannot be written ({existing} is not a "
                        "writable folder)")
    if path.exists() and not path.is_file():
        raise SpecError("cache_dir", str(folder), f"holds {path.name}, the table's file, as "
                        "something other than a regular file")


def read_table(path: Path, fingerprint: dict[str, Any]) -> Table:
    """The parts and scales of the table at `path` if it is this `fingerprint`'s; empty ones
    if it is missing, torn or foreign; a `SpecError` naming `path` if its values are not
    plausible."""
    try:
        data = json.loads(path.read_text())
        if data.get("version") != TABLE_VERSION or data.get("fingerprint") != fingerprint:
            return {}, {}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}, {}  # missing, torn or foreign: re-time rather than trust it
    try:
        return (_plausible(data.get("parts", {}), "parts", PART_MS),
                _plausible(data.get("scales", {}), "scales", SCALES))
    except SpecError as err:
        raise err.with_source(str(path)) from None


def write_table(path: Path, fingerprint: dict[str, Any], table: Table) -> None:
    """Write the table atomically (tmp file, then rename): readers never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entries, scales = table
    data = {"version": TABLE_VERSION, "fingerprint": fingerprint,
            "parts": dict(sorted(entries.items())), "scales": scales}
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1)))


def _plausible(values: object, field: str, bounds: tuple[float, float]) -> dict[str, float]:
    """A table file's `field` mapping, each value a number within `bounds`, else SpecError."""
    if not isinstance(values, dict):
        raise SpecError(field, values, "must be a mapping")
    low, high = bounds
    for key, value in values.items():
        number(f"{field}[{key!r}]", value, low, high)
    return {str(k): float(v) for k, v in values.items()}
