"""Files the user names on the command line (--out, --csv, --plot): written whole or not at all.

A file is written to a temporary name beside it and renamed into place, so a full disk or a
kill leaves either the old file or the new one, never half of one, and no temporary behind.
Errors (no such folder, read-only, disk full) are one `SpecError` naming the option and path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from search_space.atomic_file import check_target, write_file
from search_space.errors import SpecError

RUN_FILES_HINT = "the run's own files are never overwritten: choose another path"
# beside config.yaml, these make a folder a run directory (`nas.ledger.run_dir`)
RUN_MARKS = ("trials.jsonl", "search.pt", "reference.yaml")


def write_output(path: str | Path, write: Callable[[Path], None], option: str,
                 protect: Path | None = None, *, special: bool = True) -> Path:
    """Write `path` with `write(target)` (`search_space.atomic_file.write_file`; `special`:
    whether a device or pipe may be written in place); `protect`: a run directory whose
    existing files it must not replace."""
    path = Path(path)
    check_output(path, option, protect, special=special)
    return write_file(path, write, option, special=special)


def check_output(path: str | Path, option: str, protect: Path | None = None, *,
                 special: bool = True) -> Path:
    """Refuse, before any work, what `write_output` would refuse."""
    path = check_target(path, option, special=special)
    if protect is not None and path.is_file() and protect.resolve() in path.resolve().parents:
        raise SpecError(option, str(path), f"is a file of the run directory; {RUN_FILES_HINT}")
    return path


def run_dir_above(path: str | Path) -> Path | None:
    """The run directory `path` lies in (through links too): the nearest folder above it with
    a run's config.yaml and one of its other files (`RUN_MARKS`), or None."""
    folder = Path(path).parent.resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / "config.yaml").is_file() and any(
                (candidate / mark).exists() for mark in RUN_MARKS):
            return candidate
    return None


def refuse_run_files(path: str | Path, option: str) -> Path:
    """Refuse a run directory's own files: one that exists there, or any file in its weights/
    folder (the kept weights, which `export` and `resume` take for the search's own)."""
    path = Path(path)
    run = run_dir_above(path)
    if run is None:
        return path
    if path.exists() or path.is_symlink():
        raise SpecError(option, str(path), f"is a file of the run directory {run}; "
                        f"{RUN_FILES_HINT}")
    if run / "weights" in (path.parent.resolve(), *path.parent.resolve().parents):
        raise SpecError(option, str(path), f"is in {run / 'weights'}, the search's kept "
                        f"weights; {RUN_FILES_HINT}")
    return path


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
