"""Loading a dataset for proxy training, and checking it once before any trial starts.

Sources, chosen by ``spec.dataset`` (each a module of this package):

- ``synthetic``: a pool of 2000 images rendered from ``spec.data_seed`` (see
  `objectives.data.synthetic`), offline; the val split and ``train_size`` are taken from the pool.
- a CIFAR-10 folder in the official python-batches layout (`objectives.data.cifar`, read with a
  restricted unpickler).
- an ImageFolder tree ``root/<class>/*.png|jpg|...`` or an ImageNet root holding ``train/``
  (`objectives.data.imagefolder`), decoded with Pillow.
- a cache folder written by ``nas-search prepare-data`` (`objectives.data.cache`): decoded
  once, memory-mapped here; the same split as its source, at the resolution it was made for
  (another one only with ``resize_cache``).

Loaded datasets are cached per process (a Ray actor reuses them across trials): a second call
with the same dataset, resolution, sizes and data seed returns the same object.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

from objectives.data.cache import Cache, is_cache, open_cache
from objectives.data.cifar import count_cifar, is_cifar
from objectives.data.imagefolder import class_root, decode_image, pillow, scan_image_folder
from objectives.data.memory import fits_in_memory, image_bytes, machine_bytes
from objectives.data.sources import from_cache, from_cifar10, from_imagefolder, from_synthetic
from objectives.data.spec import DataSpec
from objectives.data.splits import ProxyData, split_indices
from objectives.data.synthetic import POOL_SIZE
from search_space.errors import SpecError

CACHE_SIZE = 4  # datasets kept per process
_CACHE: OrderedDict[tuple, ProxyData] = OrderedDict()


def load_dataset(spec: Any) -> ProxyData:
    """Load (or reuse) the dataset `spec` names, split into train and held-out val.

    Args:
        spec: a `DataSpec`, or a config that holds one as ``.data`` (e.g. a ProxyConfig).

    Raises:
        SpecError: the dataset is unknown, missing or malformed, or the sizes do not fit it.
    """
    spec = getattr(spec, "data", spec)
    key = (_source(spec), spec.resolution, spec.train_size, spec.val_size, spec.data_seed,
           spec.resize_cache)
    if key not in _CACHE:
        _CACHE[key] = read_dataset(spec)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return _CACHE[key]


def read_dataset(spec: DataSpec) -> ProxyData:
    """Read the dataset `spec` names afresh (`load_dataset` keeps what this returns)."""
    source = _source(spec)
    if source == "synthetic":
        return from_synthetic(spec)
    root = _folder(source)
    if is_cache(root):
        return from_cache(root, spec)
    if is_cifar(root):
        return from_cifar10(root, spec)
    return from_imagefolder(root, spec)


def check_dataset(spec: Any) -> int:
    """What every trial would find out, found once before any starts: the dataset opens, the
    split sizes fit it, and its images fit in memory. Decodes at most one image.

    Args:
        spec: a `DataSpec`, or a config that holds one as ``.data``.

    Returns:
        The number of images available (train + held-out val).
    """
    spec = getattr(spec, "data", spec)
    n, cache = _count(spec)
    train, val = split_indices(n, spec.val_size, spec.train_size, spec.data_seed)
    if cache is not None:
        for split in (train, val):  # a cache prepared for another split: say so now
            cache.positions(split)
    _check_memory(spec, n, len(train) + len(val))
    return n


def _source(spec: DataSpec) -> str:
    return spec.dataset if spec.dataset == "synthetic" else str(Path(spec.dataset).resolve())


def _folder(dataset: str) -> Path:
    root = Path(dataset)
    if not root.is_dir():
        raise SpecError("dataset", dataset, "no such folder (use 'synthetic', a "
                        "CIFAR-10 python-batches folder or an ImageFolder tree)")
    return root


def _count(spec: DataSpec) -> tuple[int, Cache | None]:
    """Images the source holds (and the opened cache, when it is one)."""
    if spec.dataset == "synthetic":
        return POOL_SIZE, None
    root = _folder(spec.dataset)
    if is_cache(root):
        cache = open_cache(root)
        cache.check_resolution(spec.resolution, spec.resize_cache)
        return cache.source_count, cache
    if is_cifar(root):
        return count_cifar(root), None
    pillow()
    files = scan_image_folder(class_root(root))[0]
    decode_image(files[0], spec.resolution)
    return len(files), None


def _check_memory(spec: DataSpec, n: int, selected: int) -> None:
    """The images a trial holds must fit this machine (a large ImageFolder is not held)."""
    res = spec.resolution
    if spec.dataset == "synthetic":
        held = image_bytes(n, res)
    else:
        held = image_bytes(selected, res) if fits_in_memory(selected, res) else 0
    if held > machine_bytes():
        raise SpecError("resolution", res, f"{n:,} images at {res} px need "
                        f"{held / 2**30:,.1f} GiB of memory; this machine has "
                        f"{machine_bytes() / 2**30:,.1f} GiB")
