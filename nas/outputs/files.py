"""Files the user names on the command line (--out, --csv, --plot): written whole or not at all.

A file is written to a temporary name beside it and renamed into place, so a full disk or a
kill leaves either the old file or the new one, never half of one, and no temporary behind.
Errors (no such folder, read-only, disk full) are one `SpecError` naming the option and path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from search_space.atomic_file import write_file
from search_space.errors import SpecError

RUN_FILES_HINT = "the run's own files are never overwritten: choose another path"


def write_output(path: str | Path, write: Callable[[Path], None], option: str,
                 protect: Path | None = None) -> Path:
    """Write `path` with `write(target)` (`search_space.atomic_file.write_file`); `protect`: a
    run directory whose existing files it must not replace."""
    path = Path(path)
    if protect is not None and path.is_file() and protect.resolve() in path.resolve().parents:
        raise SpecError(option, str(path), f"is a file of the run directory; {RUN_FILES_HINT}")
    return write_file(path, write, option)


def make_folder(path: str | Path, option: str) -> Path:
    """Create the output folder `path` (its parent must exist)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SpecError(option, str(path), "is a file, not a folder")
    try:
        path.mkdir(exist_ok=True)
    except OSError as err:
        raise SpecError(option, str(path), f"cannot write it ({err.strerror or err})") from None
    return path
