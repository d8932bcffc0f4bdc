"""Datasets: the generated `synthetic` set, CIFAR-10 batches and ImageFolder trees written here."""

from __future__ import annotations

import dataclasses
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from objectives import ProxyConfig, ProxyData, load_dataset, train_proxy
from objectives.data import (
    ImageFolderSplit,
    TensorSplit,
    materialize,
    resize_uint8,
    split_indices,
)
from objectives.data.synthetic import NUM_CLASSES, make_synthetic
from search_space import Arch, SpecError, Stage

Image = pytest.importorskip("PIL.Image")
TINY = Arch(stages=(Stage("mbconv", 1, 3, 2, 8, 1, 0.0),), stem=8, head=16, name="tiny")


# --- synthetic --------------------------------------------------------------------------------

def test_synthetic_is_deterministic_balanced_and_seed_dependent():
    images, labels = make_synthetic(200, 16, seed=3)
    again, labels_again = make_synthetic(200, 16, seed=3)
    other, _ = make_synthetic(200, 16, seed=4)
    assert images.shape == (200, 3, 16, 16) and images.dtype == np.uint8
    assert np.array_equal(images, again) and np.array_equal(labels, labels_again)
    assert not np.array_equal(images, other)
    assert np.bincount(labels, minlength=NUM_CLASSES).tolist() == [20] * NUM_CLASSES


def test_synthetic_draws_the_same_patterns_at_every_resolution():
    small, labels_small = make_synthetic(50, 16, seed=0)
    large, labels_large = make_synthetic(50, 64, seed=0)
    assert np.array_equal(labels_small, labels_large)
    down = resize_uint8(torch.from_numpy(large), 16).float()
    diff = (down - torch.from_numpy(small).float()).abs().mean()
    unrelated = (down - torch.from_numpy(small).float().roll(1, 0)).abs().mean()
    assert diff < unrelated / 2  # the same picture, up to pixel noise


def test_split_indices_carves_disjoint_seeded_splits():
    train, val = split_indices(100, 0.2, None, seed=1)
    assert len(val) == 20 and len(train) == 80
    assert not set(train) & set(val) and set(train) | set(val) == set(range(100))
    assert np.array_equal(split_indices(100, 0.2, None, seed=1)[1], val)
    train, val = split_indices(100, 30, 50, seed=1)
    assert (len(train), len(val)) == (50, 30)
    with pytest.raises(SpecError, match="train_size"):
        split_indices(100, 30, 71, seed=1)
    with pytest.raises(SpecError, match="val_size"):
        split_indices(100, 100, None, seed=1)


def test_load_synthetic_sizes_and_process_cache():
    cfg = ProxyConfig(resolution=16, train_size=300, val_size=100, data_seed=5)
    data = load_dataset(cfg)
    assert (len(data.train), len(data.val), data.num_classes) == (300, 100, 10)
    assert data.train.images.shape[1:] == (3, 16, 16) and data.name == "synthetic"
    # a different training recipe (or model seed) reuses the loaded data
    assert load_dataset(dataclasses.replace(cfg, epochs=3, lr=0.01, seed=9)) is data
    assert load_dataset(dataclasses.replace(cfg, resolution=24)) is not data


# --- CIFAR-10 ---------------------------------------------------------------------------------

def _write_cifar(root: Path, per_batch: int = 20) -> np.ndarray:
    """The official layout: data_batch_1..5 + test_batch, pickled dicts with bytes keys."""
    root.mkdir()
    rng = np.random.default_rng(0)
    everything = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(x) for x in rng.integers(0, 10, per_batch)]
        batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                 b"filenames": [f"{i}.png".encode() for i in range(per_batch)]}
        (root / name).write_bytes(pickle.dumps(batch, protocol=2))
        if name != "test_batch":
            everything.append(data)
    return np.concatenate(everything)


def test_cifar10_batches_load_with_a_held_out_split(tmp_path):
    raw = _write_cifar(tmp_path / "cifar")
    data = load_dataset(ProxyConfig(dataset=str(tmp_path / "cifar"), val_size=25))
    assert (len(data.train), len(data.val), data.num_classes) == (75, 25, 10)
    assert data.train.images.shape[1:] == (3, 32, 32) and data.train.images.dtype == torch.uint8
    seen = {bytes(img.numpy().tobytes()) for img in torch.cat([data.train.images,
                                                               data.val.images])}
    assert seen == {row.tobytes() for row in raw}  # every training image once, no test image
    small = load_dataset(ProxyConfig(dataset=str(tmp_path / "cifar"), resolution=16))
    assert small.train.images.shape[1:] == (3, 16, 16)


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_cifar10_refuses_pickles_that_call_anything(tmp_path):
    _write_cifar(tmp_path / "cifar")
    marker = tmp_path / "pwned"
    batch = {b"labels": [0], b"data": np.zeros((1, 3072), np.uint8), b"x": _Evil(marker)}
    (tmp_path / "cifar" / "data_batch_2").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(SpecError, match=r"refusing to load global io\.open") as err:
        load_dataset(ProxyConfig(dataset=str(tmp_path / "cifar")))
    assert err.value.value.endswith("data_batch_2")
    assert not marker.exists()


@pytest.mark.parametrize("breakage, message", [
    ("missing", "missing CIFAR-10 batch file"),
    ("shape", "uint8 data N x 3072"),
    ("labels", "labels must be 0..9"),
    ("garbage", "not a CIFAR-10 batch"),
])
def test_malformed_cifar10_names_the_file(tmp_path, breakage, message):
    _write_cifar(tmp_path / "cifar")
    path = tmp_path / "cifar" / "data_batch_3"
    if breakage == "missing":
        path.unlink()
    elif breakage == "garbage":
        path.write_bytes(b"not a pickle at all")
    else:
        data = np.zeros((4, 3000 if breakage == "shape" else 3072), np.uint8)
        labels = [0, 1, 2, 42 if breakage == "labels" else 3]
        path.write_bytes(pickle.dumps({b"data": data, b"labels": labels}, protocol=4))
    with pytest.raises(SpecError, match=message) as err:
        load_dataset(ProxyConfig(dataset=str(tmp_path / "cifar")))
    assert err.value.value == str(path.resolve())


# --- ImageFolder ------------------------------------------------------------------------------

COLOURS = {"cat": (220, 30, 30), "dog": (30, 220, 30), "eel": (30, 30, 220)}


def _write_imagefolder(root: Path, per_class: int = 6, suffix: str = ".png") -> None:
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            size = (40 + 4 * i, 24)  # not square: resized and centre-cropped
            Image.new("RGB", size, colour).save(root / name / f"img{i}{suffix}")
    (root / "cat" / "notes.txt").write_text("not an image, ignored")


def test_imagefolder_tree_loads_with_labels_from_folders(tmp_path):
    _write_imagefolder(tmp_path / "tree")
    data = load_dataset(ProxyConfig(dataset=str(tmp_path / "tree"), resolution=16, val_size=6))
    assert (len(data.train), len(data.val), data.num_classes) == (12, 6, 3)
    assert isinstance(data.train, TensorSplit)
    assert data.train.images.shape[1:] == (3, 16, 16)
    for split in (data.train, data.val):
        for image, label in zip(split.images, split.labels, strict=True):
            expected = list(COLOURS.values())[int(label)]
            assert image[:, 8, 8].tolist() == list(expected)


def test_imagenet_root_with_train_folder_and_jpegs(tmp_path):
    _write_imagefolder(tmp_path / "imagenet" / "train", suffix=".JPEG")
    (tmp_path / "imagenet" / "val").mkdir()
    data = load_dataset(ProxyConfig(dataset=str(tmp_path / "imagenet"), resolution=8,
                                    val_size=0.5))
    assert data.num_classes == 3 and len(data.train) == len(data.val) == 9
    assert data.name.endswith(os.path.join("imagenet", "train"))


def test_lazy_imagefolder_split_decodes_like_the_in_memory_one(tmp_path):
    _write_imagefolder(tmp_path / "tree", per_class=2)
    files = sorted((tmp_path / "tree").glob("*/*.png"))
    labels = [list(COLOURS).index(f.parent.name) for f in files]
    lazy = ImageFolderSplit(files, labels, 12)
    image, label = lazy[3]
    assert image.shape == (3, 12, 12) and image.dtype == torch.uint8 and label == labels[3]
    eager = materialize(lazy, num_workers=2)
    assert torch.equal(eager.images[3], image) and eager.labels.tolist() == labels
    # too big for memory, a tree stays lazy: the training loop reads it through a DataLoader
    data = ProxyData(lazy, lazy, len(COLOURS), "lazy", 12)
    result = train_proxy(TINY, ProxyConfig(resolution=12, batch_size=4, threads=1), data=data)
    assert result.status == "ok" and result.epochs == 1 and len(result.history) == 1


@pytest.mark.parametrize("breakage, message", [
    ("one-class", ">= 2 class folders"),
    ("empty-class", "class folder holds no images"),
    ("corrupt", "cannot decode image"),
])
def test_malformed_imagefolder_names_the_path(tmp_path, breakage, message):
    root = tmp_path / "tree"
    _write_imagefolder(root, per_class=2)
    if breakage == "one-class":
        for name in ("dog", "eel"):
            for f in (root / name).iterdir():
                f.unlink()
            (root / name).rmdir()
    elif breakage == "empty-class":
        (root / "fox").mkdir()
    else:
        (root / "dog" / "img1.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(SpecError, match=message) as err:
        load_dataset(ProxyConfig(dataset=str(root), val_size=2))
    assert str(root) in str(err.value)


def test_missing_dataset_path_is_a_spec_error_naming_it(tmp_path):
    with pytest.raises(SpecError, match="no such folder") as err:
        load_dataset(ProxyConfig(dataset=str(tmp_path / "nowhere")))
    assert err.value.field == "dataset" and "nowhere" in err.value.value
