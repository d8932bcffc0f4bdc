"""Decode a dataset once into a cache folder (`objectives.data.cache`): `nas-search prepare-data`.

The images go through exactly the readers the loader uses on the fly (`decode_image` for
ImageFolder files, `read_cifar` and `resize_uint8` for CIFAR-10 batches), in the same source
order, so a proxy trained from the cache sees the same pixels, batches and accuracy as one
trained from the source.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from objectives.data.cache import CacheWriter, check_target, is_cache
from objectives.data.cifar import CIFAR_CLASSES, is_cifar, read_cifar
from objectives.data.imagefolder import class_root, decode_image, pillow, scan_image_folder
from objectives.data.resize import resize_uint8
from objectives.data.splits import check_val_size, split_indices
from search_space.errors import SpecError
from search_space.validators import integer

CHUNK = 512  # images decoded between durable progress records


@dataclass
class Source:
    """A dataset in source order: labels, class names and a reader of image ranges."""

    kind: str
    labels: np.ndarray
    classes: list[str]
    read: Callable[[np.ndarray], np.ndarray]  # source positions -> uint8 [k, 3, R, R]


def open_source(src: Path, resolution: int, pool: ThreadPoolExecutor) -> Source:
    """An ImageFolder tree (or ImageNet root) or a CIFAR-10 python-batches folder."""
    if not src.is_dir():
        raise SpecError("SRC", str(src), "no such folder (a CIFAR-10 python-batches folder "
                        "or an ImageFolder tree)")
    if is_cache(src):
        raise SpecError("SRC", str(src), "is already a prepared cache")
    if is_cifar(src):
        return _cifar_source(src, resolution)
    pillow()
    files, labels, classes = scan_image_folder(class_root(src))

    def read(positions: np.ndarray) -> np.ndarray:
        images = pool.map(lambda i: decode_image(files[i], resolution), positions)
        return torch.stack(list(images)).numpy()

    return Source("imagefolder", np.asarray(labels, dtype=np.int64), classes, read)


def _cifar_source(src: Path, resolution: int) -> Source:
    images, labels = read_cifar(src, field="SRC")

    def read(positions: np.ndarray) -> np.ndarray:
        return resize_uint8(torch.from_numpy(images[positions]), resolution).numpy()

    return Source("cifar10", labels, list(CIFAR_CLASSES), read)


def prepare(src: str | Path, resolution: int, out: str | Path, *, val_size: int | float | None
            = None, train_size: int | None = None, data_seed: int = 0, workers: int = 0,
            progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Decode `src` at `resolution` into the cache folder `out`; returns its manifest.

    Args:
        src: ImageFolder tree, ImageNet root (its ``train/``) or CIFAR-10 batches folder.
        resolution: image side in pixels (shorter side resized, centre crop, as on the fly).
        out: the cache folder to create (written as ``out.tmp``, then renamed).
        val_size: with it, only the images of the proxy split ``(val_size, train_size,
            data_seed)`` are decoded; configs using the cache must carve that same split.
            Without it, every image is.
        train_size: see `val_size`.
        data_seed: see `val_size`.
        workers: decoding threads.
        progress: called with (images done, images in all) after each chunk.
    """
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 8:
        raise SpecError("--resolution", resolution, "must be an integer >= 8")
    _check_split_flags(val_size, train_size, data_seed)
    check_target(Path(out))  # before the source is read: a refusal costs nothing
    src = Path(src).resolve()
    with ThreadPoolExecutor(max(1, workers)) as pool:  # Pillow releases the GIL in decoding
        source = open_source(src, resolution, pool)
        n = len(source.labels)
        index = np.arange(n) if val_size is None else _split_index(n, val_size, train_size,
                                                                   data_seed)
        plan = {"source": str(src), "kind": source.kind, "resolution": resolution,
                "count": len(index), "source_count": n, "classes": source.classes}
        writer = CacheWriter(Path(out), plan, index, source.labels[index])
        for start in range(writer.done, len(index), CHUNK):
            writer.write(source.read(index[start:start + CHUNK]))
            if progress:
                progress(writer.done, len(index))
    return writer.finish()


def _check_split_flags(val_size: int | float | None, train_size: int | None,
                       data_seed: int) -> None:
    integer("--data-seed", data_seed, 0)
    if val_size is not None:
        check_val_size("--val-size", val_size)
    if train_size is not None:
        integer("--train-size", train_size, 2)


def _split_index(n: int, val_size: int | float, train_size: int | None,
                 data_seed: int) -> np.ndarray:
    """Source positions of the split's images, ascending; a size that does not fit the source
    names its flag."""
    try:
        return np.sort(np.concatenate(split_indices(n, val_size, train_size, data_seed)))
    except SpecError as err:
        raise SpecError("--" + err.field.replace("_", "-"), err.value, err.reason) from None
