"""CIFAR-10 in the official python-batches layout (``data_batch_1`` .. ``data_batch_5``;
``test_batch`` is not used), read by the loader and by `prepare-data` alike.

Those files are pickles, so they are read with a restricted unpickler that can only rebuild
dicts, lists, bytes, numbers and numpy arrays; a file that asks for any other global is refused,
so a crafted file cannot run code.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from search_space.errors import SpecError

CIFAR_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck")

_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]   # numpy's array rebuild function (any version)
_SCALAR = np.int64(0).__reduce__()[0]


def is_cifar(root: Path) -> bool:
    """Whether `root` looks like a CIFAR-10 python-batches folder (its first batch is there)."""
    return (root / CIFAR_BATCHES[0]).exists()


def _latin1_encode(text: str, encoding: str) -> bytes:
    # Python 3 protocol-2 pickles spell bytes as _codecs.encode(str, 'latin1'); allow only that.
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with {encoding!r} is not allowed")
    return text.encode("latin1")


class _CifarUnpickler(pickle.Unpickler):
    """Rebuilds only dicts, lists, bytes, numbers and numpy arrays; refuses every other global."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy.core.multiarray", "scalar"): _SCALAR,
        ("numpy._core.multiarray", "scalar"): _SCALAR,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}") from None


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [N, 3, 32, 32], int64 [N]) of one batch file; SpecError if it is not one."""
    try:
        batch = _CifarUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, OSError) as err:
        raise SpecError("dataset", str(path), f"not a CIFAR-10 batch ({err})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise SpecError("dataset", str(path), "not a CIFAR-10 batch (needs b'data', b'labels')")
    data, labels = batch[b"data"], np.asarray(batch[b"labels"])
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == 3072 and labels.shape == (len(data),)):
        raise SpecError("dataset", str(path), "CIFAR-10 batch must hold uint8 data N x 3072 "
                        "and N labels")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise SpecError("dataset", str(path), "CIFAR-10 labels must be 0..9")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def read_cifar(root: Path, field: str = "dataset") -> tuple[np.ndarray, np.ndarray]:
    """Every training image of the five batches, in source order: (uint8 [N, 3, 32, 32],
    int64 [N]). A missing batch is a SpecError on `field` (``SRC`` for prepare-data)."""
    missing = [name for name in CIFAR_BATCHES if not (root / name).is_file()]
    if missing:
        raise SpecError(field, str(root / missing[0]), "missing CIFAR-10 batch file")
    parts = [read_cifar_batch(root / name) for name in CIFAR_BATCHES]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def count_cifar(root: Path) -> int:
    """Training images of the five batches (each read and checked)."""
    return len(read_cifar(root)[1])
