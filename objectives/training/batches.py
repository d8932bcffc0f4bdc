"""Batches of a split, for training (shuffled, ragged end dropped) and for evaluation."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from objectives.data import Split, TensorSplit


def batches(split: Split, batch_size: int, *, shuffle: bool, generator: torch.Generator | None,
            num_workers: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(images, labels) batches; training drops a ragged last batch (BN needs > 1 sample)."""
    drop_last = shuffle and len(split) >= batch_size
    if not isinstance(split, TensorSplit):
        loader = torch.utils.data.DataLoader(
            split, batch_size, shuffle=shuffle, generator=generator, drop_last=drop_last,
            num_workers=num_workers, pin_memory=torch.cuda.is_available())
        yield from loader
        return
    n = len(split)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    order = order.to(split.labels.device)
    stop = n - n % batch_size if drop_last else n
    for i in range(0, stop, batch_size):
        idx = order[i:i + batch_size]
        yield split.images[idx], split.labels[idx]


def steps_per_epoch(split: Split, batch_size: int) -> int:
    return max(1, len(split) // batch_size)


def first_batches(split: Split, images: int, batch_size: int = 256, num_workers: int = 0
                  ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The first `images` images of `split` in order, in batches of at most `batch_size`."""
    seen = 0
    for batch, labels in batches(split, batch_size, shuffle=False, generator=None,
                                 num_workers=num_workers):
        keep = min(len(labels), images - seen)
        yield batch[:keep], labels[:keep]
        seen += keep
        if seen >= images:
            return
