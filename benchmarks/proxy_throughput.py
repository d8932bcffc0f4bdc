"""Training throughput of `objectives.train_proxy` vs a bare PyTorch loop (goal: ratio >= 0.95).

Both loops train the same freshly built model (same seed) on the same synthetic batches with the
same optimizer family; the bare loop gets its inputs already normalised on the device, so the
ratio is the whole cost of our loop's bookkeeping (uint8 -> float on the fly, schedule, loss
read-backs, divergence checks). Each is timed over epochs after the first (warm-up). Run with
channels_last off and on.

    python benchmarks/proxy_throughput.py                      # CPU, small settings
    python benchmarks/proxy_throughput.py --device cuda --quick  # GPU, < 2 minutes
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from objectives import ProxyConfig, load_dataset, train_proxy  # noqa: E402
from objectives.training import batches, make_runtime  # noqa: E402
from search_space import build_model, load_arch  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--quick", action="store_true", help="fewer epochs (GPU run < 2 min)")
    parser.add_argument("--arch", default="efficientnet-b0")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch-size", type=int, help="default: 64 on CPU, 256 on CUDA")
    parser.add_argument("--train-size", type=int, help="images per epoch (default: all 1600)")
    parser.add_argument("--epochs", type=int,
                        help="default: 3 (quick) or 6 on CPU, 10 or 20 on CUDA; the first is "
                        "warm-up")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=1,
                        help="alternate ours/bare this many times, keep each one's best "
                        "(steadier on a shared CPU)")
    return parser.parse_args()


def config(args: argparse.Namespace, channels_last: bool) -> ProxyConfig:
    cuda = args.device.startswith("cuda") or (args.device == "auto"
                                              and torch.cuda.is_available())
    short = 10 if cuda else 3  # a GPU epoch of 1600 images is a fraction of a second
    return ProxyConfig(
        epochs=args.epochs or (short if args.quick else 2 * short), resolution=args.resolution,
        batch_size=args.batch_size or (256 if cuda else 64), train_size=args.train_size,
        device=args.device, threads=args.threads, channels_last=channels_last,
        bn_calibration=0, seed=0)


def ours(arch, cfg: ProxyConfig) -> float:
    """Median training img/s of `train_proxy` over epochs after the first."""
    result = train_proxy(arch, cfg)
    return statistics.median(h["images_per_second"] for h in result.history[1:])


def bare(arch, cfg: ProxyConfig) -> float:
    """The same epochs as a textbook loop over pre-normalised device tensors."""
    rt = make_runtime(cfg)
    data = load_dataset(cfg)
    train, _ = data.on(rt.device)
    inputs = [(rt.prepare(x), y.to(rt.device)) for x, y in
              batches(train, cfg.batch_size, shuffle=True, generator=torch.Generator())]
    torch.manual_seed(cfg.seed)
    fmt = torch.channels_last if rt.channels_last else torch.preserve_format
    model = build_model(arch, data.num_classes).to(rt.device, memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                          weight_decay=cfg.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    speeds = []
    for _ in range(cfg.epochs):
        start = time.perf_counter()
        for x, y in inputs:
            with rt.autocast():
                loss = loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        loss.item()  # wait for the device
        speeds.append(sum(len(y) for _, y in inputs) / (time.perf_counter() - start))
    return statistics.median(speeds[1:])


def main() -> None:
    args = parse_args()
    arch = load_arch(args.arch)
    if args.threads:
        torch.set_num_threads(args.threads)
    base = config(args, False)
    rt = make_runtime(base)
    name = torch.cuda.get_device_name(rt.device) if rt.device.type == "cuda" else \
        f"cpu, {torch.get_num_threads()} threads"
    print(f"{args.arch} at {base.resolution} px, batch {base.batch_size}, {base.epochs} epochs "
          f"(first = warm-up), bf16 autocast {'on' if rt.bf16 else 'off'}, device: {name}")
    print(f"{'channels_last':<14}{'ours img/s':>12}{'bare img/s':>12}{'ratio':>8}")
    for channels_last in (False, True):
        cfg = dataclasses.replace(base, channels_last=channels_last)
        runs = [(ours(arch, cfg), bare(arch, cfg)) for _ in range(args.repeats)]
        mine, theirs = max(r[0] for r in runs), max(r[1] for r in runs)
        print(f"{'on' if channels_last else 'off':<14}{mine:>12.1f}{theirs:>12.1f}"
              f"{mine / theirs:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
