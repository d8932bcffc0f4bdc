"""Proxy data from a JPEG ImageFolder tree vs from its `prepare-data` cache.

Generates a JPEG tree (default 3000 images, 10 classes, 160x120 px), prepares a cache from it,
then measures, for both sources:

- first epoch: load the dataset (the tree: decode every file; the cache: open, verify, copy the
  split from the memmap) plus one proxy epoch, as a search's first trial on a worker sees it;
- streamed: the data over the in-memory limit (an ImageNet-sized tree), so the tree is decoded
  again every epoch while the cache is read row by row from the memmap: images/s of the input
  pipeline alone, and of a proxy epoch of a small model (training included).

    nice -n 10 python benchmarks/data_cache.py [--images 3000] [--resolution 64]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from objectives import ProxyConfig, train_proxy  # noqa: E402
from objectives.data import memory, prepare, read_dataset  # noqa: E402
from objectives.training import batches  # noqa: E402
from search_space import Arch, Stage  # noqa: E402

# small enough that the input pipeline, not the model, sets the pace on a CPU
SMALL = Arch(stages=(Stage("mbconv", 1, 3, 2, 16, 1, 0.0), Stage("mbconv", 3, 3, 2, 24, 1, 0.0)),
             stem=16, head=64, name="small")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="decoding threads")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=2,
                        help="measure the two sources alternately this often, keep each one's "
                        "best (steadier on a shared CPU)")
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one)")
    return parser.parse_args()


def write_tree(root: Path, n: int, classes: int = 10) -> None:
    """Smooth tinted gradients plus noise: JPEG sizes like photos of that size (~8-10 KB)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:120, 0:160]
    for i in range(n):
        c = i % classes
        folder = root / f"class{c:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        base = (np.sin(xx / (8 + c)) + np.cos(yy / (5 + i % 7)))[..., None] * 60 + 128
        tint = np.array([c * 25 % 256, 255 - c * 20, (c * 70) % 256]) * 0.3
        pixels = np.clip(base + tint + rng.normal(0, 20, (120, 160, 3)), 0, 255)
        Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i:05d}.jpg", quality=90)


def cfg(dataset: Path, args: argparse.Namespace) -> ProxyConfig:
    return ProxyConfig(dataset=str(dataset), resolution=args.resolution, epochs=1,
                       batch_size=64, val_size=0.1, bn_calibration=0, threads=args.threads,
                       num_workers=args.workers, device="cpu", seed=0)


def first_epoch(dataset: Path, args: argparse.Namespace) -> tuple[float, float]:
    """(seconds to load, seconds of load + one proxy epoch), the default in-memory policy."""
    c = cfg(dataset, args)
    start = time.perf_counter()
    data = read_dataset(c.data)
    loaded = time.perf_counter() - start
    train_proxy(SMALL, c, data=data)
    return loaded, time.perf_counter() - start


def streamed(dataset: Path, args: argparse.Namespace) -> tuple[float, float]:
    """(input pipeline img/s, proxy epoch img/s) with the data over the in-memory limit."""
    limit, memory.IN_MEMORY_BYTES = memory.IN_MEMORY_BYTES, 0
    try:
        c = cfg(dataset, args)
        data = read_dataset(c.data)
        start, seen = time.perf_counter(), 0
        for images, _ in batches(data.train, 64, shuffle=True, generator=None,
                                 num_workers=c.num_workers):
            seen += len(images)
        pipeline = seen / (time.perf_counter() - start)
        result = train_proxy(SMALL, c, data=data)
        return pipeline, result.history[0]["images_per_second"]
    finally:
        memory.IN_MEMORY_BYTES = limit


def main() -> None:
    args = parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="nas-data-cache-"))
    tree, cache = work / "tree", work / f"cache{args.resolution}"
    if not tree.exists():
        write_tree(tree, args.images)
    if cache.exists():  # time a fresh preparation
        shutil.rmtree(cache)
    start = time.perf_counter()
    prepare(tree, args.resolution, cache, workers=args.workers)
    prepared = time.perf_counter() - start
    size = sum(f.stat().st_size for f in tree.rglob("*.jpg")) / 2**20
    print(f"{args.images} JPEGs ({size:.0f} MiB, 160x120) -> {args.resolution} px; "
          f"{args.workers} decoding threads, {args.threads} torch threads, model '{SMALL.name}'")
    print(f"prepare-data: {prepared:.1f} s ({args.images / prepared:.0f} img/s)")
    print(f"{'source':<12} {'load s':>7} {'1st epoch s':>12} {'stream pipeline img/s':>22} "
          f"{'stream proxy img/s':>19}   (best of {args.repeats})")
    best: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for name, path in (("ImageFolder", tree), ("cache", cache)):
            figures = (*first_epoch(path, args), *streamed(path, args))
            old = best.setdefault(name, list(figures))
            best[name] = [min(old[0], figures[0]), min(old[1], figures[1]),
                          max(old[2], figures[2]), max(old[3], figures[3])]
    for name, (loaded, first, pipeline, proxy) in best.items():
        print(f"{name:<12} {loaded:>7.2f} {first:>12.2f} {pipeline:>22.0f} {proxy:>19.0f}")


if __name__ == "__main__":
    main()
