"""Which images a proxy trains on: the one value every data reader takes."""

from __future__ import annotations

from dataclasses import dataclass, field


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
