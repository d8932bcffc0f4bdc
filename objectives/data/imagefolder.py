"""ImageFolder trees ``root/<class>/*.png|jpg|...`` (or an ImageNet root holding ``train/``),
decoded with Pillow (torchvision is not needed): the readers the loader and `prepare-data` share.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from search_space.errors import SpecError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".ppm")


def pillow():
    """Pillow's Image module; a SpecError naming the fix when it is not installed."""
    if importlib.util.find_spec("PIL") is None:
        raise SpecError("dataset", "ImageFolder", "decoding images needs Pillow: "
                        "pip install pillow")
    from PIL import Image

    return Image


def decode_image(path: Path, resolution: int) -> torch.Tensor:
    """Shorter side to `resolution`, centre crop, uint8 [3, R, R].

    An image over Pillow's decompression-bomb limit (twice ``Image.MAX_IMAGE_PIXELS``) stops
    the reading with one SpecError naming it: skipping it would renumber every later image, so
    a cache and its source would no longer carve the same split.
    """
    image_mod = pillow()
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
    except image_mod.DecompressionBombError as err:
        raise SpecError("dataset", str(path), f"refused as a decompression bomb ({err}); "
                        "shrink or remove the image") from None
    except (OSError, ValueError, SyntaxError) as err:
        raise SpecError("dataset", str(path), f"cannot decode image ({err})") from None
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


def class_root(root: Path) -> Path:
    """An ImageNet root holding ``train/``: the val split is carved from train/, never val/."""
    train = root / "train"
    if train.is_dir() and any(p.is_dir() for p in train.iterdir()):
        return train
    return root


def scan_image_folder(root: Path) -> tuple[list[Path], list[int], list[str]]:
    """(files, labels, class names) of a tree, in source order: classes sorted, files sorted."""
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


class ImageFolderSplit(Dataset):
    """Image files decoded on access into uint8 [3, R, R] (shorter side resized, centre crop)."""

    def __init__(self, files: list[Path], labels: list[int], resolution: int):
        self.files, self.labels, self.resolution = files, labels, resolution

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return decode_image(self.files[i], self.resolution), self.labels[i]
