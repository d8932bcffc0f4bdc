"""The CPU levers side by side in one process: precision, memory format, threads, fixed costs.

1. Training throughput of the project's own loop (`train_proxy`, through
   `benchmarks.proxy_throughput.ours`) for every mix of fp32 / bf16 autocast, contiguous /
   channels_last and 1 / all torch threads. The variants are interleaved and each keeps its best
   of the repeats, so a load burst hits all of them alike; ratios are against fp32, contiguous,
   torch's default threads.
2. Where the time goes: torch.profiler over a few training steps of that default, of
   channels_last and of bf16 + channels_last: the top ops by self CPU time, and the
   convolutions split into depthwise and the rest.
3. Per-trial fixed costs: dataset load, model build, the analytic FLOPs count and, if Ray
   imports, a private local Ray's start + shutdown.

Measure only: a lever that changes the numbers needs a fidelity measurement before it becomes a
default (issue 25).

    python benchmarks/cpu_levers.py [--quick] [--out benchmarks/results/cpu_levers.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.proxy_throughput import ours  # noqa: E402
from benchmarks.results_page import save  # noqa: E402
from nas.config.loading import load_config  # noqa: E402
from objectives import ProxyConfig, analytic_flops, train_proxy  # noqa: E402
from objectives.data.loading import load_dataset, read_dataset  # noqa: E402
from search_space import build_model, load_arch, load_space  # noqa: E402

ARCH = "efficientnet-b0-small"
HEADERS = ("== 1. training throughput", "== 2. where the time goes", "== 3. per-trial fixed costs")
Say = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Variant:
    bf16: bool
    channels_last: bool
    threads: int

    @property
    def name(self) -> str:
        return (f"{'bf16' if self.bf16 else 'fp32'} "
                f"{'channels_last' if self.channels_last else 'contiguous'} "
                f"{self.threads}t")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run (a few steps, 1 "
                        "repeat)")
    parser.add_argument("--out", type=Path, default=None,
                        help="also save the output as markdown (command, commit, date, machine)")
    args = parser.parse_args(argv)
    # (repeats, timed epochs, images per epoch, profiled steps, fixed-cost repeats)
    args.repeats, args.epochs, args.images, args.steps, args.fixed = (
        (1, 1, 64, 2, 1) if args.quick else (3, 2, 256, 8, 5))
    return args


def recipe(args: argparse.Namespace, variant: Variant, epochs: int, images: int) -> ProxyConfig:
    """The demo's recipe at 32 px, batch 32, synthetic data; a small val split, no BN
    recalibration, so a run is nearly all training."""
    return ProxyConfig(epochs=epochs, resolution=32, batch_size=32, train_size=images,
                       val_size=32, device="cpu", threads=variant.threads, bn_calibration=0,
                       channels_last=variant.channels_last, bf16=variant.bf16, seed=0)


def throughput(args: argparse.Namespace, say: Say) -> None:
    default = torch.get_num_threads()
    threads = sorted({1, default}, reverse=True)
    variants = [Variant(bf16, cl, t) for t in threads for cl in (False, True)
                for bf16 in (False, True)]
    arch = load_arch(ARCH)
    say(f"{HEADERS[0]}: {ARCH} at 32 px, batch 32, synthetic; img/s = median over "
        f"{args.epochs} epoch(s) of {args.images} images after a warm-up one, best of "
        f"{args.repeats} interleaved repeat(s); torch default threads: {default}")
    best = {v: 0.0 for v in variants}
    for _ in range(args.repeats):
        for v in variants:
            best[v] = max(best[v], ours(arch, recipe(args, v, args.epochs + 1, args.images)))
    base = best[Variant(False, False, default)]
    say(f"{'variant':<28}{'img/s':>8}{'vs default':>12}")
    for v in variants:
        say(f"{v.name:<28}{best[v]:>8.1f}{best[v] / base:>11.2f}x")


def profiled(args: argparse.Namespace, variant: Variant, say: Say) -> None:
    """Top ops by self CPU time over `args.steps` training steps (plus one tiny evaluation)."""
    cfg = recipe(args, variant, 1, args.steps * 32)
    train_proxy(load_arch(ARCH), cfg)  # warm-up: oneDNN primitives, allocator
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        train_proxy(load_arch(ARCH), cfg)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    say(f"{variant.name}: {groups(prof)}")
    total = sum(e.self_cpu_time_total for e in events)
    say(f"{variant.name}: {args.steps} steps, {total / 1e3:.0f} ms self CPU in all")
    say(f"  {'op':<44}{'self ms':>9}{'share':>8}{'calls':>7}")
    for e in events[:8]:
        say(f"  {e.key[:43]:<44}{e.self_cpu_time_total / 1e3:>9.1f}"
            f"{e.self_cpu_time_total / total:>8.1%}{e.count:>7}")


def groups(prof: profile) -> str:
    """Self ms of depthwise vs other convolutions (a weight of shape [C, 1, k, k]), BN, and the
    optimizer steps' whole time (SE's mean/sigmoid/mul are spread over generic ops)."""
    ms = dict.fromkeys(("depthwise conv", "other conv", "batch norm", "optimizer step"), 0.0)
    for e in prof.key_averages(group_by_input_shape=True):
        if e.key in ("aten::mkldnn_convolution", "aten::convolution_backward"):
            weight = e.input_shapes[1 if e.key == "aten::mkldnn_convolution" else 2]
            depthwise = len(weight) == 4 and weight[1] == 1
            ms["depthwise conv" if depthwise else "other conv"] += e.self_cpu_time_total / 1e3
        elif e.key.startswith("aten::native_batch_norm"):
            ms["batch norm"] += e.self_cpu_time_total / 1e3
        elif e.key.startswith("Optimizer.step"):
            ms["optimizer step"] += e.cpu_time_total / 1e3
    return ", ".join(f"{k} {v:.0f} ms" for k, v in ms.items())


def profiles(args: argparse.Namespace, say: Say) -> None:
    say(f"{HEADERS[1]}: torch.profiler, top 8 ops by self CPU time")
    default = torch.get_num_threads()
    for variant in (Variant(False, False, default), Variant(False, True, default),
                    Variant(True, True, default)):
        profiled(args, variant, say)


def seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall seconds of `fn` over `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ray_start_stop() -> str:
    try:
        start = time.perf_counter()
        import ray  # noqa: F401
    except ImportError:
        return "ray does not import: skipped"
    imported = time.perf_counter() - start
    from nas.engine.ray_session import ray_session

    start = time.perf_counter()
    with ray_session(num_cpus=2):  # private Ray on 127.0.0.1, no dashboard, stopped after
        up = time.perf_counter() - start
    return (f"{imported:.3f} s import ray, {up:.3f} s ray.init, "
            f"{time.perf_counter() - start - up:.3f} s shutdown")


def fixed_costs(args: argparse.Namespace, say: Say) -> None:
    say(f"{HEADERS[2]}: median of {args.fixed} call(s) each")
    data = load_config("demo").proxy.data
    rng = np.random.default_rng(0)
    space = load_space("b0")
    archs = [space.sample(rng) for _ in range(args.fixed)]
    say(f"{'dataset load (demo synthetic, uncached)':<44}"
        f"{seconds(lambda: read_dataset(data), args.fixed):>9.3f} s")
    load_dataset(data)
    say(f"{'dataset load (demo synthetic, cached)':<44}"
        f"{seconds(lambda: load_dataset(data), args.fixed):>9.6f} s")
    it = iter(archs)
    say(f"{'build_model (sampled b0 arch, 10 classes)':<44}"
        f"{seconds(lambda: build_model(next(it), 10), args.fixed):>9.3f} s")
    it = iter(archs)
    say(f"{'analytic FLOPs (224 px, 1000 classes)':<44}"
        f"{seconds(lambda: analytic_flops(next(it), 224, 1000), args.fixed):>9.6f} s")
    say(f"{'ray (once)':<44}{ray_start_stop()}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    lines: list[str] = []
    say = Recorder(lines)
    start = time.perf_counter()
    say(f"torch {torch.__version__}, {torch.get_num_threads()} threads"
        + (" (quick)" if args.quick else ""))
    for section in (throughput, profiles, fixed_costs):
        section(args, say)
    say(f"done in {time.perf_counter() - start:.0f} s")
    if args.out:
        save(args.out, "cpu_levers: bf16, channels_last, threads and per-trial fixed costs on "
             "CPU", "benchmarks/cpu_levers.py", lines)


@dataclasses.dataclass
class Recorder:
    """Prints each line as it comes and keeps it for the markdown page."""

    lines: list[str]

    def __call__(self, line: str) -> None:
        print(line, flush=True)
        self.lines.append(line)


if __name__ == "__main__":
    main()
