"""The decode-once dataset cache: uint8 arrays on disk that every trial memory-maps.

`nas-search prepare-data` (see `objectives.data.prepare_data`) decodes a source once, at one
resolution, into a folder::

    DIR/manifest.json   format, version, source, kind, resolution, count, source_count,
                        classes, checksum (sha256 of the three arrays' files, in this order)
    DIR/index.npy       int64 [count]: each image's position in the source (ascending)
    DIR/labels.npy      int64 [count]
    DIR/images.npy      uint8 [count, 3, R, R]

Plain ``.npy`` files, opened with ``mmap_mode='r'`` and ``allow_pickle=False``: nothing is
unpickled, and every process on the machine shares one copy through the page cache. The index
lets a cache hold a subset of the source (only the images one proxy split uses) while
`objectives.data.loading` still carves the same seeded split from the source's numbering.

A folder is written as ``DIR.tmp`` and renamed when complete, so ``DIR`` is never half-written;
an interrupted ``DIR.tmp`` with the same plan is resumed where it stopped. ``DIR.tmp`` gets a
marker file before anything else, and only a folder holding it (or an older prepare-data's
plan) is ever removed: a user's own ``DIR.tmp``, or a file or link there, is refused untouched.
The full checksum is verified once per cache and then remembered in ``DIR/verified.json``
(keyed by file sizes and modification times), so a large cache is not re-hashed by every worker.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from search_space.atomic_file import atomic_write
from search_space.errors import SpecError

FORMAT = "nas-search-data-cache"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VERIFIED = "verified.json"
MARKER = "prepare-data.marker"  # written first into OUT.tmp: only such a folder is ever removed
ARRAYS = ("index", "labels", "images")  # checksum order
PLAN_KEYS = ("format", "version", "source", "kind", "resolution", "count", "source_count",
             "classes")


def is_cache(path: str | Path) -> bool:
    """Whether `path` is a prepared cache folder: it holds a manifest (of any kind, so that
    `open_cache` refuses a FIFO or a folder there by name)."""
    return os.path.lexists(Path(path) / MANIFEST)


def is_regular(path: Path) -> bool:
    """A regular file (through links): a FIFO or a device would block or never end a read."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


@dataclass(frozen=True)
class Cache:
    """An opened, verified cache: manifest fields and memory-mapped arrays."""

    path: Path
    manifest: dict[str, Any]
    index: np.ndarray
    labels: np.ndarray
    images: np.ndarray  # read-only memmap

    @property
    def resolution(self) -> int:
        return self.manifest["resolution"]

    @property
    def classes(self) -> list[str]:
        return self.manifest["classes"]

    @property
    def source_count(self) -> int:
        return self.manifest["source_count"]

    def check_resolution(self, resolution: int, resize: bool) -> None:
        """Refuse a config at another resolution unless it allows resizing the cache."""
        if resolution != self.resolution and not resize:
            raise SpecError("proxy.resolution", resolution,
                            f"the cache {self.path} holds {self.resolution} px images; prepare "
                            f"it at {resolution} px or set proxy.resize_cache: true")

    def positions(self, source_indices: np.ndarray) -> np.ndarray:
        """Rows of the cache holding these source images; SpecError when some are missing."""
        pos = np.searchsorted(self.index, source_indices)
        found = (pos < len(self.index)) & (self.index[np.minimum(pos, len(self.index) - 1)]
                                          == source_indices)
        if not found.all():
            raise SpecError("proxy.dataset", str(self.path),
                            f"the cache lacks {int((~found).sum())} of the images this split "
                            f"uses (it was prepared for another val_size/train_size/data_seed)")
        return pos


def open_cache(path: str | Path) -> Cache:
    """Open and verify a cache; anything corrupt or inconsistent is one `SpecError`."""
    path = Path(path)
    for name in (MANIFEST, *(f"{a}.npy" for a in ARRAYS), VERIFIED):
        if os.path.lexists(path / name) and not is_regular(path / name):  # before any open
            raise _corrupt(path / name, "not a regular file (a FIFO, device, folder or "
                           "broken link)")
    manifest = _read_manifest(path)
    arrays = {name: _load_array(path, name) for name in ARRAYS}
    _check_arrays(path, manifest, **arrays)
    _verify_checksum(path, manifest["checksum"])
    return Cache(path, manifest, **arrays)


def _corrupt(path: Path, why: str) -> SpecError:
    return SpecError("dataset", str(path), f"corrupt data cache: {why} (prepare it again)")


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError) as err:
        raise _corrupt(path / MANIFEST, f"unreadable manifest ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _corrupt(path / MANIFEST, f"not a {FORMAT} manifest")
    if manifest.get("version") != FORMAT_VERSION:
        raise SpecError("dataset", str(path), f"cache format version "
                        f"{manifest.get('version')!r}; this nas-search reads {FORMAT_VERSION}")
    missing = [k for k in (*PLAN_KEYS, "checksum") if k not in manifest]
    if missing:
        raise _corrupt(path / MANIFEST, f"manifest lacks {missing[0]!r}")
    for key in ("count", "source_count", "resolution"):
        if isinstance(manifest[key], bool) or not isinstance(manifest[key], int) \
                or manifest[key] < 0:
            raise _corrupt(path / MANIFEST, f"{key} = {manifest[key]!r} is not a count")
    if not isinstance(manifest["classes"], list):
        raise _corrupt(path / MANIFEST, "classes is not a list of names")
    return manifest


def _load_array(path: Path, name: str) -> np.ndarray:
    try:
        return np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:  # missing, truncated (mmap past the end), bad header
        raise _corrupt(path / f"{name}.npy", str(err)) from None


def _check_arrays(path: Path, m: dict[str, Any], index: np.ndarray, labels: np.ndarray,
                  images: np.ndarray) -> None:
    n, r = m["count"], m["resolution"]
    expected = {"index": (index, np.int64, (n,)), "labels": (labels, np.int64, (n,)),
                "images": (images, np.uint8, (n, 3, r, r))}
    for name, (array, dtype, shape) in expected.items():
        if array.dtype != dtype or array.shape != shape:
            raise _corrupt(path / f"{name}.npy", f"holds {array.dtype} {list(array.shape)}, "
                           f"the manifest says {np.dtype(dtype)} {list(shape)}")
    if n and (labels.min() < 0 or labels.max() >= len(m["classes"])):
        raise _corrupt(path / "labels.npy", f"labels outside 0..{len(m['classes']) - 1}")
    if n and (np.any(np.diff(index) <= 0) or index[0] < 0 or index[-1] >= m["source_count"]):
        raise _corrupt(path / "index.npy", "source positions must ascend within the source")


def checksum(path: Path, chunk: int = 16 << 20) -> str:
    """sha256 over the three array files, in `ARRAYS` order."""
    digest = hashlib.sha256()
    for name in ARRAYS:
        with open(path / f"{name}.npy", "rb") as f:
            while block := f.read(chunk):
                digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def _stamp(path: Path, expected: str) -> dict[str, Any]:
    files = {name: os.stat(path / f"{name}.npy") for name in ARRAYS}
    return {"checksum": expected,
            "files": {k: [s.st_size, s.st_mtime_ns] for k, s in files.items()}}


def _verify_checksum(path: Path, expected: str) -> None:
    stamp = _stamp(path, expected)
    try:
        if json.loads((path / VERIFIED).read_text()) == stamp:
            return
    except (OSError, ValueError):
        pass
    actual = checksum(path)
    if actual != expected:
        raise _corrupt(path, f"checksum {actual[:19]}... differs from the manifest's "
                       f"{str(expected)[:19]}...")
    try:  # best effort: a read-only cache is simply verified again next time
        _write_json(path / VERIFIED, stamp)
    except OSError:
        pass


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1)))


def check_target(out: Path) -> Path:
    """``OUT.tmp`` of a cache to be written at `out`, once nothing stands in the way that
    prepare-data must not touch: an existing OUT, a missing parent, or an OUT.tmp that is a
    file, a link or a folder prepare-data did not make."""
    if os.path.lexists(out):
        raise SpecError("--out", str(out), "already exists; remove it or choose another")
    if not out.parent.is_dir():  # a mistyped parent is not created
        raise SpecError("--out", str(out), f"{out.parent} is not an existing folder")
    tmp = out.with_name(out.name + ".tmp")
    if tmp.is_symlink() or (os.path.lexists(tmp) and not tmp.is_dir()):
        kind = "a symbolic link" if tmp.is_symlink() else "a file"
        raise SpecError("--out", str(tmp), f"is {kind}, not prepare-data's unfinished cache; "
                        "remove it or choose another --out")
    if tmp.is_dir() and not _made_by_prepare(tmp):
        raise SpecError("--out", str(tmp), "exists and was not made by prepare-data (no "
                        f"{MARKER}); remove it or choose another --out")
    return tmp


def _made_by_prepare(tmp: Path) -> bool:
    """Our marker, or a plan of this format (written before markers were)."""
    plan = _read_json(tmp / "plan.json")
    return is_regular(tmp / MARKER) or isinstance(plan, dict) and plan.get("format") == FORMAT


def _read_json(path: Path) -> Any:
    """The JSON in a regular file; None for anything else, unread."""
    try:
        return json.loads(path.read_text()) if is_regular(path) else None
    except (OSError, ValueError):
        return None


class CacheWriter:
    """Writes a cache into ``OUT.tmp`` in order, resumably, and renames it to OUT when done.

    Args:
        out: the final folder (must not exist).
        plan: the manifest fields of `PLAN_KEYS` (format and version are filled in).
        index: source positions of the images to write, ascending.
        labels: their labels.
    """

    def __init__(self, out: Path, plan: dict[str, Any], index: np.ndarray, labels: np.ndarray):
        self.out, self.tmp = out, check_target(out)
        self.plan = {"format": FORMAT, "version": FORMAT_VERSION, **plan}
        self.done = self._resume()
        if not self.tmp.exists():  # resumed even at 0 (stopped before its first chunk)
            self._start(index, labels)
        r, n = self.plan["resolution"], self.plan["count"]
        self.images = np.lib.format.open_memmap(self.tmp / "images.npy", mode="r+",
                                                dtype=np.uint8, shape=(n, 3, r, r))

    def _resume(self) -> int:
        """Images already written by an interrupted run with the same plan; else the folder
        (prepare-data's own: `check_target`) is started over."""
        progress = _read_json(self.tmp / "progress.json")
        done = progress.get("done") if isinstance(progress, dict) else None
        intact = all(is_regular(self.tmp / f"{name}.npy") for name in ARRAYS)
        if _read_json(self.tmp / "plan.json") == self.plan and intact \
                and isinstance(done, int) and 0 <= done <= self.plan["count"]:
            return done
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        return 0

    def _start(self, index: np.ndarray, labels: np.ndarray) -> None:
        try:
            self.tmp.mkdir()
            (self.tmp / MARKER).write_text("nas-search prepare-data's unfinished cache: "
                                           "prepare-data may remove this folder\n")
        except OSError as err:
            reason = f"cannot be written ({err.strerror})"
            raise SpecError("--out", str(self.out), reason) from None
        np.save(self.tmp / "index.npy", np.asarray(index, dtype=np.int64))
        np.save(self.tmp / "labels.npy", np.asarray(labels, dtype=np.int64))
        r, n = self.plan["resolution"], self.plan["count"]
        np.lib.format.open_memmap(self.tmp / "images.npy", mode="w+", dtype=np.uint8,
                                  shape=(n, 3, r, r)).flush()
        _write_json(self.tmp / "plan.json", self.plan)
        _write_json(self.tmp / "progress.json", {"done": 0})

    def write(self, images: np.ndarray) -> None:
        """Append the next images (uint8 [k, 3, R, R]) and record the progress durably."""
        self.images[self.done:self.done + len(images)] = images
        self.images.flush()
        self.done += len(images)
        _write_json(self.tmp / "progress.json", {"done": self.done})

    def finish(self) -> dict[str, Any]:
        """Checksum, manifest, rename; returns the manifest."""
        if self.done != self.plan["count"]:
            raise RuntimeError(f"wrote {self.done} of {self.plan['count']} images")
        del self.images  # close the memmap before hashing and renaming
        manifest = {**self.plan, "checksum": checksum(self.tmp)}
        _write_json(self.tmp / MANIFEST, manifest)
        for name in ("plan.json", "progress.json", MARKER):
            (self.tmp / name).unlink(missing_ok=True)  # no marker in an older prepare's folder
        os.replace(self.tmp, self.out)
        return manifest


class MemmapSplit(Dataset):
    """Rows of a cache read from the memmap on access: large caches are never copied whole.

    Args:
        images: the cache's memmapped images.
        labels: the cache's labels.
        rows: cache rows of this split, in split order.
        transform: applied to each uint8 [3, R, R] image (resizing, where allowed).
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, rows: np.ndarray,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.images, self.rows, self.transform = images, rows, transform
        self.labels = [int(v) for v in labels[rows]]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = torch.from_numpy(np.array(self.images[self.rows[i]]))
        return (self.transform(image) if self.transform else image), self.labels[i]
