"""Datasets for proxy training: the bundled ``synthetic`` set, CIFAR-10 batches, ImageFolder trees.

`load_dataset(cfg)` returns a `ProxyData` whose ``val`` split is carved from the *training* data,
as MnasNet held 50K ImageNet training images out for the search: a test set is never touched.
Images travel as uint8 ``[N, 3, R, R]`` at the proxy resolution R; the training loop normalises
them on the device. Small data sits in memory as a `TensorSplit` (and moves to the GPU once when
it fits); a large ImageFolder tree stays an `ImageFolderSplit` that decodes files on the fly.

Sources, chosen by ``cfg.dataset``:

- ``synthetic``: a pool of 2000 images rendered from ``cfg.data_seed`` (see
  `objectives.synthetic`), offline; the val split and ``train_size`` are taken from the pool.
- a CIFAR-10 folder in the official python-batches layout (``data_batch_1`` .. ``data_batch_5``;
  ``test_batch`` is not used). Those files are pickles, so they are read with a restricted
  unpickler that can only rebuild dicts, lists, bytes, numbers and numpy arrays; a file
  that asks for any other global is refused, so a crafted file cannot run code.
- an ImageFolder tree ``root/<class>/*.png|jpg|...`` (or an ImageNet root holding ``train/``),
  decoded with Pillow. torchvision is not needed.
- a cache folder written by ``nas-search prepare-data`` (see `objectives.data_cache`): decoded
  once, memory-mapped here; the same split as its source, at the resolution it was made for
  (another one only with ``resize_cache``).

Loaded datasets are cached per process (a Ray actor reuses them across trials): a second call
with the same dataset, resolution, sizes and data seed returns the same object.
"""

from __future__ import annotations

import functools
import io
import os
import pickle
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from objectives.data_cache import MemmapSplit, is_cache, open_cache
from objectives.synthetic import NUM_CLASSES as SYNTHETIC_CLASSES
from objectives.synthetic import POOL_SIZE, make_synthetic
from search_space.errors import SpecError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".ppm")
CIFAR_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
IN_MEMORY_BYTES = 2 << 30  # an ImageFolder selection up to 2 GiB of uint8 is decoded once
DEVICE_SHARE = 0.25  # in-memory data moves to the GPU when under this share of its free memory


@dataclass(frozen=True)
class DataSpec:
    """Which images a proxy trains on: all `load_dataset` needs (ProxyConfig.data gives it).

    Attributes:
        dataset: ``synthetic``, a CIFAR-10 python-batches folder or an ImageFolder tree.
        resolution: image side in pixels.
        train_size: training images to keep (None = all left after the val split).
        val_size: held-out images: a count (int) or a fraction (float in (0, 1)).
        data_seed: synthetic images and the train/val split.
        num_workers: decoding threads for ImageFolder trees (not part of the data's identity).
        resize_cache: a ``prepare-data`` cache made at another resolution may be resized.
    """

    dataset: str = "synthetic"
    resolution: int = 32
    train_size: int | None = None
    val_size: int | float = 0.2
    data_seed: int = 0
    num_workers: int = field(default=0, compare=False)
    resize_cache: bool = False


@dataclass(frozen=True)
class TensorSplit:
    """Images (uint8 [N, 3, R, R]) and labels (int64 [N]) held in memory."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device | str) -> TensorSplit:
        return TensorSplit(self.images.to(device), self.labels.to(device))


class ImageFolderSplit(Dataset):
    """Image files decoded on access into uint8 [3, R, R] (shorter side resized, centre crop)."""

    def __init__(self, files: list[Path], labels: list[int], resolution: int):
        self.files, self.labels, self.resolution = files, labels, resolution

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return _decode(self.files[i], self.resolution), self.labels[i]


Split = TensorSplit | ImageFolderSplit | MemmapSplit


@dataclass
class ProxyData:
    """A dataset ready for proxy training.

    Attributes:
        train: the training split.
        val: the held-out split (carved from the training data).
        num_classes: classifier size to build the model with.
        name: ``synthetic``, or the path the data came from.
        resolution: image side in pixels.
    """

    train: Split
    val: Split
    num_classes: int
    name: str
    resolution: int
    _on_device: dict[str, tuple[Split, Split]] = field(default_factory=dict, repr=False)

    def on(self, device: torch.device) -> tuple[Split, Split]:
        """(train, val), moved once to `device` when both are in-memory tensors that fit."""
        in_memory = isinstance(self.train, TensorSplit)
        if device.type == "cpu" or not in_memory or not self._fits(device):
            return self.train, self.val
        key = str(device)
        if key not in self._on_device:
            self._on_device[key] = (self.train.to(device), self.val.to(device))
        return self._on_device[key]

    def _fits(self, device: torch.device) -> bool:
        """Under `DEVICE_SHARE` of the free memory: room is left for training and neighbours."""
        free, _ = torch.cuda.mem_get_info(device)
        size = sum(s.images.nbytes + s.labels.nbytes for s in (self.train, self.val))
        return size < DEVICE_SHARE * free


def load_dataset(spec: Any) -> ProxyData:
    """Load (or reuse) the dataset `spec` names, split into train and held-out val.

    Args:
        spec: a `DataSpec`, or a config that holds one as ``.data`` (e.g. a ProxyConfig).

    Raises:
        SpecError: the dataset is unknown, missing or malformed, or the sizes do not fit it.
    """
    spec = getattr(spec, "data", spec)
    source = spec.dataset if spec.dataset == "synthetic" else str(Path(spec.dataset).resolve())
    key = (source, spec.resolution, spec.train_size, spec.val_size, spec.data_seed,
           spec.resize_cache)
    if key not in _CACHE:
        _CACHE[key] = _load(*key, num_workers=spec.num_workers)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return _CACHE[key]


CACHE_SIZE = 4  # datasets kept per process
_CACHE: OrderedDict[tuple, ProxyData] = OrderedDict()


def check_dataset(spec: Any) -> int:
    """What every trial would find out, found once before any starts: the dataset opens, the
    split sizes fit it, and its images fit in memory. Decodes at most one image.

    Args:
        spec: a `DataSpec`, or a config that holds one as ``.data``.

    Returns:
        The number of images available (train + held-out val).
    """
    spec = getattr(spec, "data", spec)
    res = spec.resolution
    if spec.dataset == "synthetic":
        n = POOL_SIZE
    else:
        root = Path(spec.dataset)
        if not root.is_dir():
            raise SpecError("dataset", spec.dataset, "no such folder (use 'synthetic', a "
                            "CIFAR-10 python-batches folder or an ImageFolder tree)")
        if is_cache(root):
            cache = open_cache(root)
            cache.check_resolution(res, spec.resize_cache)
            n = cache.source_count
        elif (root / CIFAR_BATCHES[0]).exists():
            n = sum(len(labels) for _, labels in _cifar_batches(root))
        else:
            _pil()
            files = _scan(_class_root(root))[0]
            _decode(files[0], res)
            n = len(files)
    train, val = split_indices(n, spec.val_size, spec.train_size, spec.data_seed)
    if spec.dataset != "synthetic" and is_cache(root):
        for split in (train, val):  # a cache prepared for another split: say so now
            cache.positions(split)
    held = (n if spec.dataset == "synthetic" else len(train) + len(val)) * 3 * res * res
    if spec.dataset != "synthetic" and held > IN_MEMORY_BYTES:
        held = 0  # an ImageFolder that large is decoded on access, not held
    if held > _memory_bytes():
        raise SpecError("resolution", res, f"{n:,} images at {res} px need "
                        f"{held / 2**30:,.1f} GiB of memory; this machine has "
                        f"{_memory_bytes() / 2**30:,.1f} GiB")
    return n


def _memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _load(source: str, resolution: int, train_size: int | None, val_size: int | float,
          seed: int, resize_cache: bool, num_workers: int) -> ProxyData:
    if source == "synthetic":
        return _synthetic(resolution, train_size, val_size, seed)
    root = Path(source)
    if not root.is_dir():
        raise SpecError("dataset", source,
                        "no such folder (use 'synthetic', a CIFAR-10 python-batches folder "
                        "or an ImageFolder tree)")
    if is_cache(root):
        return _prepared(root, resolution, train_size, val_size, seed, resize_cache)
    if (root / CIFAR_BATCHES[0]).exists():
        return _cifar10(root, resolution, train_size, val_size, seed)
    return _imagefolder(root, resolution, train_size, val_size, seed, num_workers)


def split_indices(n: int, val_size: int | float, train_size: int | None,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, val) index arrays: val carved first, then train optionally subset.

    Args:
        n: images available.
        val_size: held-out count (int) or fraction of `n` (float in (0, 1)).
        train_size: training images to keep from the rest (None = all).
        seed: permutation seed.
    """
    n_val = val_size if isinstance(val_size, int) else round(val_size * n)
    if not 1 <= n_val <= n - 2:  # training needs two images (BatchNorm)
        raise SpecError("val_size", val_size, f"leaves under 2 train or no val images of {n}")
    perm = np.random.default_rng(seed).permutation(n)
    val, train = perm[:n_val], perm[n_val:]
    if train_size is not None:
        if not 2 <= train_size <= len(train):
            raise SpecError("train_size", train_size,
                            f"must be 2..{len(train)}: the images left after the val split")
        train = train[:train_size]
    return train, val


def _tensor_splits(images: np.ndarray | torch.Tensor, labels: np.ndarray, val_size: int | float,
                   train_size: int | None, seed: int) -> tuple[TensorSplit, TensorSplit]:
    images, labels = torch.as_tensor(images), torch.as_tensor(labels, dtype=torch.int64)
    train, val = (torch.as_tensor(i) for i in split_indices(len(labels), val_size, train_size,
                                                            seed))
    return (TensorSplit(images[train].contiguous(), labels[train]),
            TensorSplit(images[val].contiguous(), labels[val]))


def _synthetic(resolution: int, train_size: int | None, val_size: int | float,
               seed: int) -> ProxyData:
    images, labels = make_synthetic(POOL_SIZE, resolution, seed)
    train, val = _tensor_splits(images, labels, val_size, train_size, seed)
    return ProxyData(train, val, SYNTHETIC_CLASSES, "synthetic", resolution)


# --- CIFAR-10 ---------------------------------------------------------------------------------

_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]   # numpy's array rebuild function (any version)
_SCALAR = np.int64(0).__reduce__()[0]


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


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
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


def _cifar_batches(root: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    missing = [name for name in CIFAR_BATCHES if not (root / name).is_file()]
    if missing:
        raise SpecError("dataset", str(root / missing[0]), "missing CIFAR-10 batch file")
    return [_read_cifar_batch(root / name) for name in CIFAR_BATCHES]


def _cifar10(root: Path, resolution: int, train_size: int | None, val_size: int | float,
             seed: int) -> ProxyData:
    parts = _cifar_batches(root)
    images = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    labels = np.concatenate([p[1] for p in parts])
    train, val = _tensor_splits(images, labels, val_size, train_size, seed)
    train, val = (TensorSplit(resize_uint8(s.images, resolution), s.labels) for s in (train, val))
    return ProxyData(train, val, 10, str(root), resolution)


def resize_uint8(images: torch.Tensor, resolution: int, chunk: int = 1024) -> torch.Tensor:
    """Antialiased bilinear resize of uint8 [N, 3, H, W] to [N, 3, R, R], in chunks."""
    if images.shape[-1] == resolution and images.shape[-2] == resolution:
        return images
    out = [F.interpolate(images[i:i + chunk].float(), size=(resolution, resolution),
                         mode="bilinear", antialias=True, align_corners=False)
           .round_().clamp_(0, 255).to(torch.uint8) for i in range(0, len(images), chunk)]
    return torch.cat(out)


# --- ImageFolder ------------------------------------------------------------------------------

def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise SpecError("dataset", "ImageFolder", "decoding images needs Pillow: "
                        "pip install pillow") from None
    return Image


def _decode(path: Path, resolution: int) -> torch.Tensor:
    """Shorter side to `resolution`, centre crop, uint8 [3, R, R]."""
    image_mod = _pil()
    try:
        with image_mod.open(path) as img:
            img.draft("RGB", (resolution, resolution))  # JPEG: decode at reduced size, fast
            img = img.convert("RGB")
            scale = resolution / min(img.size)
            size = (max(resolution, round(img.width * scale)),
                    max(resolution, round(img.height * scale)))
            img = img.resize(size, image_mod.BILINEAR)
            left, top = (size[0] - resolution) // 2, (size[1] - resolution) // 2
            img = img.crop((left, top, left + resolution, top + resolution))
            array = np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as err:
        raise SpecError("dataset", str(path), f"cannot decode image ({err})") from None
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


def _class_root(root: Path) -> Path:
    """An ImageNet root holding ``train/``: the val split is carved from train/, never val/."""
    train = root / "train"
    if train.is_dir() and any(p.is_dir() for p in train.iterdir()):
        return train
    return root


def _scan(root: Path) -> tuple[list[Path], list[int], list[str]]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise SpecError("dataset", str(root), "an ImageFolder tree needs >= 2 class folders "
                        "(root/<class>/<image>), or CIFAR-10 data_batch_1..5")
    files, labels = [], []
    for label, name in enumerate(classes):
        found = sorted(p for p in (root / name).iterdir()
                       if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not found:
            raise SpecError("dataset", str(root / name),
                            f"class folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
        files += found
        labels += [label] * len(found)
    return files, labels, classes


def _imagefolder(root: Path, resolution: int, train_size: int | None, val_size: int | float,
                 seed: int, num_workers: int) -> ProxyData:
    _pil()
    root = _class_root(root)
    files, labels, classes = _scan(root)
    train_idx, val_idx = split_indices(len(files), val_size, train_size, seed)
    splits = [ImageFolderSplit([files[i] for i in idx], [labels[i] for i in idx], resolution)
              for idx in (train_idx, val_idx)]
    images = (len(train_idx) + len(val_idx)) * 3 * resolution * resolution
    if images <= IN_MEMORY_BYTES:
        splits = [materialize(s, num_workers) for s in splits]
    return ProxyData(splits[0], splits[1], len(classes), str(root), resolution)


def materialize(split: ImageFolderSplit, num_workers: int = 0) -> TensorSplit:
    """Decode every file of `split` once (threads: Pillow releases the GIL while decoding)."""
    with ThreadPoolExecutor(max(1, num_workers)) as pool:
        images = list(pool.map(split.__getitem__, range(len(split))))
    return TensorSplit(torch.stack([img for img, _ in images]),
                       torch.tensor(split.labels, dtype=torch.int64))


# --- prepared cache ---------------------------------------------------------------------------

def _prepared(root: Path, resolution: int, train_size: int | None, val_size: int | float,
              seed: int, resize: bool) -> ProxyData:
    """The split its source would give, read from the memmap (copied only when small)."""
    cache = open_cache(root)
    cache.check_resolution(resolution, resize)
    rows = [cache.positions(idx)
            for idx in split_indices(cache.source_count, val_size, train_size, seed)]
    in_memory = sum(map(len, rows)) * 3 * resolution * resolution <= IN_MEMORY_BYTES
    if in_memory:
        splits = [TensorSplit(resize_uint8(torch.from_numpy(cache.images[r]), resolution),
                              torch.from_numpy(cache.labels[r].copy())) for r in rows]
    else:
        resize = None if resolution == cache.resolution else \
            functools.partial(_resize_one, resolution=resolution)  # picklable for workers
        splits = [MemmapSplit(cache.images, cache.labels, r, resize) for r in rows]
    return ProxyData(splits[0], splits[1], len(cache.classes), str(root), resolution)


def _resize_one(image: torch.Tensor, resolution: int) -> torch.Tensor:
    return resize_uint8(image[None], resolution)[0]
