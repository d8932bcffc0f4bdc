"""Train and held-out splits in memory, the dataset a proxy trains on, and the seeded split.

Images travel as uint8 ``[N, 3, R, R]`` at the proxy resolution R; the training loop normalises
them on the device. Small data sits in memory as a `TensorSplit` (and moves to the GPU once when
it fits); a large ImageFolder tree stays an `ImageFolderSplit` that decodes files on the fly, a
large cache a `MemmapSplit` that reads rows on access.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from objectives.data import memory
from objectives.data.cache import MemmapSplit
from objectives.data.imagefolder import ImageFolderSplit
from search_space.errors import SpecError
from search_space.validators import integer, number


@dataclass(frozen=True)
class TensorSplit:
    """Images (uint8 [N, 3, R, R]) and labels (int64 [N]) held in memory."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device | str) -> TensorSplit:
        return TensorSplit(self.images.to(device), self.labels.to(device))


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
        return size < memory.DEVICE_SHARE * free


def check_val_size(field: str, value: Any) -> int | float:
    """A held-out size: a count (int >= 1) or a fraction in (0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(field, value, "must be a count (int >= 1) or a fraction in (0, 1)")
    if isinstance(value, int):
        return integer(field, value, 1)
    return number(field, value, 0.0, 1.0, low_open=True, high_open=True)


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


def tensor_splits(images: np.ndarray | torch.Tensor, labels: np.ndarray, val_size: int | float,
                  train_size: int | None, seed: int) -> tuple[TensorSplit, TensorSplit]:
    """(train, val) of in-memory images, carved by `split_indices`."""
    images, labels = torch.as_tensor(images), torch.as_tensor(labels, dtype=torch.int64)
    train, val = (torch.as_tensor(i) for i in split_indices(len(labels), val_size, train_size,
                                                            seed))
    return (TensorSplit(images[train].contiguous(), labels[train]),
            TensorSplit(images[val].contiguous(), labels[val]))


def materialize(split: ImageFolderSplit, num_workers: int = 0) -> TensorSplit:
    """Decode every file of `split` once (threads: Pillow releases the GIL while decoding)."""
    with ThreadPoolExecutor(max(1, num_workers)) as pool:
        images = list(pool.map(split.__getitem__, range(len(split))))
    return TensorSplit(torch.stack([img for img, _ in images]),
                       torch.tensor(split.labels, dtype=torch.int64))
