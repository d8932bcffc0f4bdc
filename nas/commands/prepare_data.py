"""`nas-search prepare-data SRC --resolution R --out DIR`: decode a dataset once into a cache.

The cache (`objectives.data.cache`) is then named as ``proxy.dataset: DIR`` (or ``train
--dataset DIR``): trials memory-map it instead of decoding JPEGs epoch after epoch.
"""

from __future__ import annotations

import argparse
import sys
import time

from nas.commands.arguments import count_or_fraction

HELP = "decode an ImageFolder tree or CIFAR-10 batches once into a memory-mapped cache"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", metavar="SRC",
                        help="ImageFolder tree (or ImageNet root with train/) or CIFAR-10 "
                        "python-batches folder")
    parser.add_argument("--resolution", type=int, required=True,
                        help="image side in px: the proxy.resolution of the configs using it")
    parser.add_argument("--out", required=True, metavar="DIR", help="cache folder to create")
    parser.add_argument("--val-size", type=count_or_fraction, metavar="V",
                        help="decode only one proxy split: V held-out images (count or "
                        "fraction) plus --train-size, carved with --data-seed as proxy "
                        "training carves them (default: decode everything)")
    parser.add_argument("--train-size", type=int, metavar="T",
                        help="with --val-size: training images (default: all the rest)")
    parser.add_argument("--data-seed", type=int, default=0, help="with --val-size")
    parser.add_argument("--workers", type=int, default=4, help="decoding threads (default: 4)")


def main(args: argparse.Namespace) -> int:
    from nas.outputs.progress import Progress
    from objectives.data.prepare_data import prepare
    from search_space.errors import SpecError

    if args.workers < 1:
        raise SpecError("--workers", args.workers, "must be >= 1")
    if args.val_size is None and args.train_size is not None:
        raise SpecError("--train-size", args.train_size, "needs --val-size")
    start = time.perf_counter()
    with Progress(None, "decode", "img", stream=sys.stderr, plain=_decoded) as progress:
        manifest = prepare(args.src, args.resolution, args.out, val_size=args.val_size,
                           train_size=args.train_size, data_seed=args.data_seed,
                           workers=args.workers, progress=progress.update)
    seconds = time.perf_counter() - start
    print(f"wrote {args.out}: {manifest['count']} of {manifest['source_count']} images, "
          f"{len(manifest['classes'])} classes, {manifest['resolution']} px, "
          f"{manifest['checksum'][:23]}... in {seconds:.1f} s")
    print(f"use it with proxy.dataset: {args.out}")
    return 0


def _decoded(done: int, total: int, rate: float) -> str:
    return f"decoded {done}/{total} images ({rate:.0f} img/s)"  # piped: at every tenth
