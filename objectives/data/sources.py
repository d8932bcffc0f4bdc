"""Each source as a `ProxyData`: the val split carved from its *training* images.

MnasNet held 50K ImageNet training images out for the search; here too a test set is never
touched. Every source is split by `split_indices` over its own numbering, so a cache made by
``prepare-data`` yields the very split of the source it was made from.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from objectives.data.cache import MemmapSplit, open_cache
from objectives.data.cifar import read_cifar
from objectives.data.imagefolder import (
    ImageFolderSplit,
    class_root,
    pillow,
    scan_image_folder,
)
from objectives.data.memory import fits_in_memory
from objectives.data.resize import resize_one, resize_uint8
from objectives.data.spec import DataSpec
from objectives.data.splits import (
    ProxyData,
    TensorSplit,
    materialize,
    split_indices,
    tensor_splits,
)
from objectives.data.synthetic import NUM_CLASSES as SYNTHETIC_CLASSES
from objectives.data.synthetic import POOL_SIZE, make_synthetic


def from_synthetic(spec: DataSpec) -> ProxyData:
    """The bundled pool of `POOL_SIZE` images rendered from the data seed."""
    images, labels = make_synthetic(POOL_SIZE, spec.resolution, spec.data_seed)
    train, val = tensor_splits(images, labels, spec.val_size, spec.train_size, spec.data_seed)
    return ProxyData(train, val, SYNTHETIC_CLASSES, "synthetic", spec.resolution)


def from_cifar10(root: Path, spec: DataSpec) -> ProxyData:
    """The five training batches, split at 32 px, then resized."""
    images, labels = read_cifar(root)
    train, val = tensor_splits(torch.from_numpy(images), labels, spec.val_size,
                               spec.train_size, spec.data_seed)
    train, val = (TensorSplit(resize_uint8(s.images, spec.resolution), s.labels)
                  for s in (train, val))
    return ProxyData(train, val, 10, str(root), spec.resolution)


def from_imagefolder(root: Path, spec: DataSpec) -> ProxyData:
    """Decoded once into memory when small enough, else decoded on access."""
    pillow()
    root = class_root(root)
    files, labels, classes = scan_image_folder(root)
    train_idx, val_idx = split_indices(len(files), spec.val_size, spec.train_size,
                                       spec.data_seed)
    splits = [ImageFolderSplit([files[i] for i in idx], [labels[i] for i in idx],
                               spec.resolution) for idx in (train_idx, val_idx)]
    if fits_in_memory(len(train_idx) + len(val_idx), spec.resolution):
        splits = [materialize(s, spec.num_workers) for s in splits]
    return ProxyData(splits[0], splits[1], len(classes), str(root), spec.resolution)


def from_cache(root: Path, spec: DataSpec) -> ProxyData:
    """The split its source would give, read from the memmap (copied only when small)."""
    cache = open_cache(root)
    resolution = spec.resolution
    cache.check_resolution(resolution, spec.resize_cache)
    rows = [cache.positions(idx) for idx in split_indices(
        cache.source_count, spec.val_size, spec.train_size, spec.data_seed)]
    if fits_in_memory(sum(map(len, rows)), resolution):
        splits = [TensorSplit(resize_uint8(torch.from_numpy(cache.images[r]), resolution),
                              torch.from_numpy(cache.labels[r].copy())) for r in rows]
    else:
        resize = None if resolution == cache.resolution else \
            functools.partial(resize_one, resolution=resolution)  # picklable for workers
        splits = [MemmapSplit(cache.images, cache.labels, r, resize) for r in rows]
    return ProxyData(splits[0], splits[1], len(cache.classes), str(root), resolution)
