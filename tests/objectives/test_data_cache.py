"""The decode-once cache: same pixels and accuracy as its source, subsets, resizing, corruption."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from objectives import ProxyConfig, load_dataset, train_proxy
from objectives import data as ds
from objectives.data import DataSpec, MemmapSplit, memory, open_cache
from objectives.data import prepare_data as prep
from search_space import Arch, SpecError, Stage

Image = pytest.importorskip("PIL.Image")
TINY = Arch(stages=(Stage("mbconv", 1, 3, 2, 8, 1, 0.0),), stem=8, head=16, name="tiny")
ROOT = Path(__file__).resolve().parents[2]


def _write_tree(root: Path, per_class: int = 12) -> Path:
    """3 classes of tinted noise, PNG and JPEG, odd sizes: decoding crops and resizes."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(("cat", "dog", "emu")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            h, w = (20, 28) if i % 2 else (26, 18)
            pixels = rng.integers(0, 120, (h, w, 3), dtype=np.uint8)
            pixels[..., c] += 120
            suffix = ".png" if i % 3 else ".jpg"
            Image.fromarray(pixels).save(root / name / f"{i:03d}{suffix}")
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return _write_tree(tmp_path_factory.mktemp("data") / "tree")


@pytest.fixture(scope="module")
def cache(tree) -> Path:
    out = tree.parent / "cache16"
    prep.prepare(tree, 16, out, workers=2)
    return out


def _cfg(dataset: Path, **changes) -> ProxyConfig:
    base = dict(dataset=str(dataset), resolution=16, val_size=9, epochs=2, batch_size=8,
                bn_calibration=16, threads=1, seed=3)
    return ProxyConfig(**{**base, **changes})


def _pixels(split) -> torch.Tensor:
    if isinstance(split, ds.TensorSplit):
        return split.images
    return torch.stack([split[i][0] for i in range(len(split))])


def test_manifest_describes_the_cache(tree, cache):
    opened = open_cache(cache)
    m = opened.manifest
    assert (m["count"], m["source_count"], m["resolution"]) == (36, 36, 16)
    assert m["classes"] == ["cat", "dog", "emu"] and m["kind"] == "imagefolder"
    assert m["source"] == str(tree.resolve()) and m["checksum"].startswith("sha256:")
    assert opened.images.shape == (36, 3, 16, 16) and isinstance(opened.images, np.memmap)
    assert not (cache.parent / "cache16.tmp").exists()


@pytest.mark.parametrize("streamed", [False, True], ids=["in-memory", "memory-mapped"])
def test_cache_trains_to_exactly_the_accuracy_of_its_source(tree, cache, monkeypatch, streamed):
    if streamed:  # past the in-memory limit: files decoded per epoch vs rows read from the memmap
        monkeypatch.setattr(memory, "IN_MEMORY_BYTES", 0)
    from_tree, from_cache = (ds.read_dataset(_cfg(d).data) for d in (tree, cache))
    assert isinstance(from_cache.train, MemmapSplit if streamed else ds.TensorSplit)
    for a, b in ((from_tree.train, from_cache.train), (from_tree.val, from_cache.val)):
        assert torch.equal(_pixels(a), _pixels(b)) and list(a.labels) == list(b.labels)
    results = [train_proxy(TINY, _cfg(d), data=data)
               for d, data in ((tree, from_tree), (cache, from_cache))]
    assert results[0].accuracy == results[1].accuracy
    assert [h["loss"] for h in results[0].history] == [h["loss"] for h in results[1].history]


def test_a_split_only_cache_serves_that_split_and_refuses_others(tree, tmp_path):
    prep.prepare(tree, 16, tmp_path / "part", val_size=9, train_size=12, data_seed=1)
    assert open_cache(tmp_path / "part").manifest["count"] == 21
    full = load_dataset(_cfg(tree, train_size=12, data_seed=1))
    part = load_dataset(_cfg(tmp_path / "part", train_size=12, data_seed=1))
    assert torch.equal(full.train.images, part.train.images)
    assert torch.equal(full.val.labels, part.val.labels)
    with pytest.raises(SpecError, match="lacks .* of the images this split uses"):
        load_dataset(_cfg(tmp_path / "part", train_size=12, data_seed=2))


def test_another_resolution_is_refused_unless_resizing_is_allowed(cache):
    with pytest.raises(SpecError, match=r"holds 16 px images.*resize_cache: true"):
        load_dataset(_cfg(cache, resolution=12))
    data = load_dataset(_cfg(cache, resolution=12, resize_cache=True))
    assert data.train.images.shape[1:] == (3, 12, 12)


def test_cifar10_cache_equals_the_batches(tmp_path):
    root = tmp_path / "cifar"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in ds.CIFAR_BATCHES:
        batch = {b"data": rng.integers(0, 256, (8, 3072), dtype=np.uint8),
                 b"labels": [int(x) for x in rng.integers(0, 10, 8)]}
        (root / name).write_bytes(pickle.dumps(batch, protocol=2))
    prep.prepare(root, 20, tmp_path / "c20")
    direct = load_dataset(_cfg(root, resolution=20, val_size=10))
    cached = load_dataset(_cfg(tmp_path / "c20", resolution=20, val_size=10))
    assert open_cache(tmp_path / "c20").manifest["kind"] == "cifar10"
    assert torch.equal(direct.train.images, cached.train.images)
    assert torch.equal(direct.val.images, cached.val.images)


def test_an_interrupted_prepare_resumes_to_the_same_cache(tree, cache, tmp_path, monkeypatch):
    monkeypatch.setattr(prep, "CHUNK", 10)
    calls = []

    def stop_after_two(done, total):
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prep.prepare(tree, 16, tmp_path / "again", progress=stop_after_two)
    assert json.loads((tmp_path / "again.tmp" / "progress.json").read_text())["done"] == 20
    resumed = []
    manifest = prep.prepare(tree, 16, tmp_path / "again", progress=lambda d, t: resumed.append(d))
    assert resumed == [30, 36]  # only the rest was decoded
    assert manifest["checksum"] == open_cache(cache).manifest["checksum"]


def _break(cache: Path, how: str) -> None:
    if how == "truncated":
        path = cache / "images.npy"
        path.write_bytes(path.read_bytes()[:-100])
    elif how == "manifest":
        (cache / "manifest.json").write_text("{not json")
    elif how == "checksum":
        images = np.load(cache / "images.npy", mmap_mode="r+")
        images[3, 0, 0, 0] ^= 1
        images.flush()
    elif how == "labels":
        np.save(cache / "labels.npy", np.zeros(35, dtype=np.int64))


@pytest.mark.parametrize("how, message", [
    ("truncated", "images.npy.*corrupt data cache"),
    ("manifest", "manifest.json.*unreadable manifest"),
    ("checksum", "checksum .* differs"),
    ("labels", r"labels.npy.*\[35\], the manifest says int64 \[36\]"),
])
def test_a_corrupt_cache_is_one_error(tree, tmp_path, how, message):
    prep.prepare(tree, 16, tmp_path / "c")
    _break(tmp_path / "c", how)
    with pytest.raises(SpecError, match=message):
        open_cache(tmp_path / "c")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nas", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_cli_prepares_and_rejects_bad_input_in_one_line(tree, tmp_path, capsys):
    from nas.cli import main

    out = tmp_path / "c"
    assert main(["prepare-data", str(tree), "--resolution", "12", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "wrote" in printed.out and "decoded 36/36 images" in printed.err  # piped: plain
    _break(out, "checksum")
    (tmp_path / "t.yaml").write_text(TINY.to_yaml())
    for args, text in (
            (["prepare-data", str(tree), "--resolution", "12", "--out", str(out)],
             "already exists"),
            (["prepare-data", str(tree), "--resolution", "12", "--out",
              str(tmp_path / "typo" / "c")], "not an existing folder"),
            (["prepare-data", str(tree), "--resolution", "12", "--out",
              str(out / "manifest.json" / "c")], "not an existing folder"),  # under a file
            (["train", str(tmp_path / "t.yaml"), "--dataset", str(out), "--resolution", "12",
              "--val-size", "9"], "corrupt data cache")):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert text in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "typo").exists()  # a mistyped parent is not created
    missing = _cli("prepare-data", str(tmp_path / "nope"), "--resolution", "12", "--out", "x")
    assert missing.returncode == 2 and "no such folder" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and "Traceback" not in missing.stderr


def test_a_search_refuses_a_cache_at_another_resolution_before_ray(cache):
    from nas.config import check_reachable, load_config

    config = load_config("demo", [f"proxy.dataset={cache}", "proxy.resolution=12"])
    with pytest.raises(SpecError, match="proxy.resolution = 12: the cache .* holds 16 px"):
        check_reachable(config)
    check_reachable(load_config("demo", [f"proxy.dataset={cache}", "proxy.resolution=16"]))


def test_a_large_cache_is_resized_row_by_row_when_allowed(cache, monkeypatch):
    monkeypatch.setattr(memory, "IN_MEMORY_BYTES", 0)
    data = ds.read_dataset(DataSpec(str(cache), 12, None, 9, 0, resize_cache=True))
    image, label = data.train[0]
    assert isinstance(data.train, MemmapSplit) and image.shape == (3, 12, 12)
    expected = ds.resize_uint8(torch.from_numpy(np.array(open_cache(cache).images[
        data.train.rows[0]]))[None], 12)[0]
    assert torch.equal(image, expected) and label == data.train.labels[0]
