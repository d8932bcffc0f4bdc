"""The one way nas-search replaces a file: write a temporary beside it, then rename over it.

A reader (``nas-search status`` during a run, a resumed driver after kill -9) then sees either the
old file or the new one, never half of one. The temporary keeps the target's suffix, since some
writers pick the format from it (matplotlib's ``savefig``), and carries the process id, so two
processes writing one path never share a temporary. It is removed whatever happens: a full disk
leaves no stray half-file behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[Path], object], *, fsync: bool = False) -> None:
    """Replace `path` with what `write(tmp)` writes to a temporary beside it.

    Args:
        path: the file to replace (created if missing; its folder must exist).
        write: writes the whole content to the path it is given.
        fsync: flush the temporary to disk before the rename, so a power loss leaves the old
            file or the new one (for checkpoints worth hours; costs a disk flush).
    """
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
