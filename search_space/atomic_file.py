"""The one way nas-search replaces a file: write a temporary beside it, then rename over it.

A reader (``nas-search status`` during a run, a resumed driver after kill -9) then sees either the
old file or the new one, never half of one. The temporary keeps the target's suffix, for writers
that pick a format from it, and carries the process id and a random token, so two writers of one
path (processes, threads, hosts on shared storage) never share one. It is removed whatever
happens: a full disk leaves no stray half-file behind.

`write_file` is the one path for every file a verb writes where the user said (--out, --csv,
--save ...): the same replacement, and every failure one `SpecError` naming the option and path.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from search_space.errors import SpecError


def atomic_write(path: Path, write: Callable[[Path], object], *, fsync: bool = False) -> None:
    """Replace `path` with what `write(tmp)` writes to a temporary beside it.

    Args:
        path: the file to replace (created if missing; its folder must exist). Anything but a
            regular file there (a folder, a device such as /dev/null) is an OSError: renaming
            over it would replace it.
        write: writes the whole content to the path it is given.
        fsync: flush the temporary to disk before the rename, so a power loss leaves the old
            file or the new one (for checkpoints worth hours; costs a disk flush).
    """
    if path.exists() and not path.is_file():
        raise OSError(errno.EEXIST, "not a regular file", str(path))
    tmp = _temporary(path)
    try:
        write(tmp)
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def check_target(path: str | Path, option: str, *, special: bool = True,
                 make_parents: bool = False) -> Path:
    """Refuse, before any work, what `write_file` would refuse: a folder, a missing parent
    folder (with `make_parents`: a nearest existing one that is not a writable folder), and a
    special file (a device such as /dev/null, a pipe) unless `special`. Returns the path."""
    path = Path(path)
    if path.is_dir():
        raise SpecError(option, str(path), "is a folder; name a file")
    if not special and (path.exists() or path.is_symlink()) and not path.is_file():
        raise SpecError(option, str(path), "is not a regular file (a device, pipe or broken "
                        "link); name a file")
    folder = path.parent
    while make_parents and not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the nearest folder that exists: the rest is created
    if not folder.is_dir():
        raise SpecError(option, str(path), f"{folder} is a file, not a folder"
                        if folder.exists() else f"no such folder: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        what = "write it" if folder == path.parent else "create its folder"
        raise SpecError(option, str(path), f"cannot {what} ({folder} is not writable)")
    return path


def write_file(path: str | Path, write: Callable[[Path], object], option: str, *,
               special: bool = True) -> Path:
    """Write the file the user named with `option` whole or not at all; returns its path.

    A folder, or a missing parent folder, is refused; a special file that exists (a device such
    as /dev/full, a pipe) is written in place, since renaming over it would replace it, or
    refused unless `special`. Errors (read-only, disk full) are one `SpecError` naming `option`
    and the path.
    """
    path = check_target(path, option, special=special)
    special = path.exists() and not path.is_file()
    try:
        write(path) if special else atomic_write(path, write)
    except OSError as err:
        raise SpecError(option, str(path), f"cannot write it ({err.strerror or err})") from None
    return path


def write_together(writes: dict[Path, Callable[[Path], object]], option: str) -> list[Path]:
    """Write several regular files (e.g. weights and their block table) all or none: every
    temporary is written before the first is renamed into place. Folders must exist."""
    temps = {path: _temporary(path) for path in writes}
    path = next(iter(writes))
    try:
        for path, write in writes.items():
            check_target(path, option, special=False)
            write(temps[path])
        for path, tmp in temps.items():
            os.replace(tmp, path)
    except OSError as err:
        raise SpecError(option, str(path), f"cannot write it ({err.strerror or err})") from None
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
    return list(writes)


def _temporary(path: Path) -> Path:
    """A name beside `path` no other writer uses (pid + random token), with its suffix."""
    return path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}")
