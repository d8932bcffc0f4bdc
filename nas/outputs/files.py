"""Files the user names on the command line (--out, --csv, --plot): written whole or not at all.

A file is written to a temporary name beside it and renamed into place, so a full disk or a
kill leaves either the old file or the new one, never half of one, and no temporary behind.
Errors (no such folder, read-only, disk full) are one `SpecError` naming the option and path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from search_space.atomic_file import atomic_write
from search_space.errors import SpecError

RUN_FILES_HINT = "the run's own files are never overwritten: choose another path"


def write_output(path: str | Path, write: Callable[[Path], None], option: str,
                 protect: Path | None = None) -> Path:
    """Write `path` with `write(target)`; `protect`: a run directory whose existing files it
    must not replace."""
    path = Path(path)
    _check_target(path, option, protect)
    if path.exists() and not path.is_file():  # a device such as /dev/full or /dev/null
        _attempt(lambda: write(path), path, option)
        return path
    _attempt(lambda: atomic_write(path, write), path, option)
    return path


def make_folder(path: str | Path, option: str) -> Path:
    """Create the output folder `path` (its parent must exist)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SpecError(option, str(path), "is a file, not a folder")
    _attempt(lambda: path.mkdir(exist_ok=True), path, option)
    return path


def _check_target(path: Path, option: str, protect: Path | None) -> None:
    if path.is_dir():
        raise SpecError(option, str(path), "is a folder; name a file")
    if not path.parent.is_dir():
        raise SpecError(option, str(path), f"no such folder: {path.parent}")
    if protect is not None and path.exists():
        inside = protect.resolve() in path.resolve().parents
        if inside:
            raise SpecError(option, str(path), f"is a file of the run directory; "
                            f"{RUN_FILES_HINT}")


def _attempt(action: Callable[[], object], path: Path, option: str) -> None:
    try:
        action()
    except OSError as err:
        raise SpecError(option, str(path), f"cannot write it ({err.strerror or err})") from None
