"""The one way nas-search replaces a file: write a temporary beside it, then rename over it.

A reader (``nas-search status`` during a run, a resumed driver after kill -9) then sees either the
old file or the new one, never half of one. The temporary keeps the target's suffix, for writers
that pick a format from it, and carries the process id and a random token, so two writers of one
path (processes, threads, hosts on shared storage) never share one. It is removed whatever
happens: a full disk leaves no stray half-file behind.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path


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
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        write(tmp)
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
