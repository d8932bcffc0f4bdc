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
4. Allocator and trial layout: each training in a fresh spawned process (mallopt holds for the
   rest of a process), the layouts alternating, each keeping its best of the repeats: glibc's
   default allocator vs `objectives.latency.steady_allocator`, and on 2 cores two concurrent
   1-thread trainings (what Ray runs with resources.cpu: 1) vs one 2-thread training, as
   aggregate img/s.

Measure only: a lever that changes the numbers needs a fidelity measurement before it becomes a
default (issue 25).

    python benchmarks/cpu_levers.py [--quick] [--only trials ...] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import resource
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
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
from objectives.latency import steady_allocator  # noqa: E402
from search_space import build_model, load_arch, load_space  # noqa: E402

ARCH = "efficientnet-b0-small"
HEADERS = ("== 1. training throughput", "== 2. where the time goes", "== 3. per-trial fixed costs",
           "== 4. allocator and trial layout")
SECTIONS = ("throughput", "profiles", "fixed", "trials")
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
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="run only these sections (default: all)")
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


@dataclasses.dataclass(frozen=True)
class Layout:
    """`processes` concurrent trainings of `threads` torch threads each, in fresh processes."""

    processes: int
    threads: int
    steady: bool  # steady_allocator() first

    @property
    def name(self) -> str:
        return (f"{self.processes} x {self.threads} thread(s), "
                f"{'steady' if self.steady else 'default'} allocator")


LAYOUTS = (Layout(1, 1, False), Layout(1, 1, True), Layout(2, 1, False), Layout(2, 1, True),
           Layout(1, 2, False), Layout(1, 2, True))


@dataclasses.dataclass(frozen=True)
class Speed:
    """What a layout's trainings did: img/s (wall, summed over the concurrent ones), and per
    image the CPU seconds and minor page faults (steadier than wall time on a busy machine)."""

    images_per_second: float
    cpu_ms_per_image: float
    faults_per_image: float

    def __add__(self, other: Speed) -> Speed:
        return Speed(self.images_per_second + other.images_per_second,
                     (self.cpu_ms_per_image + other.cpu_ms_per_image) / 2,
                     (self.faults_per_image + other.faults_per_image) / 2)


def layout_child(layout: Layout, args: argparse.Namespace) -> Speed:
    """One training in a spawned process (img/s: median over epochs after a warm-up)."""
    if layout.steady and not steady_allocator():
        raise RuntimeError("steady_allocator() refused: not glibc?")
    variant = Variant(False, True, layout.threads)  # fp32, channels_last: the CPU default
    cfg = recipe(args, variant, args.epochs + 1, args.images)
    before, cpu = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.process_time()
    speed = ours(load_arch(ARCH), cfg)
    images = cfg.epochs * args.images
    return Speed(speed, (time.process_time() - cpu) * 1e3 / images,
                 (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / images)


def layout_speed(layout: Layout, args: argparse.Namespace) -> Speed:
    """The layout's concurrent trainings, each in a fresh process."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(layout.processes, mp_context=context) as pool:
        runs = [pool.submit(layout_child, layout, args) for _ in range(layout.processes)]
        speeds = [run.result() for run in runs]
    return sum(speeds[1:], speeds[0])


def trial_layouts(args: argparse.Namespace, say: Say) -> None:
    say(f"{HEADERS[3]}: {ARCH} at 32 px, batch 32, fp32 channels_last, each training in a "
        f"fresh process; aggregate img/s, best of {args.repeats} alternating repeat(s); CPU ms "
        "and minor page faults per image trained (a training's mean)")
    runs: dict[Layout, list[Speed]] = {layout: [] for layout in LAYOUTS}
    for _ in range(args.repeats):
        for layout in LAYOUTS:
            runs[layout].append(layout_speed(layout, args))
    best = {layout: max(r.images_per_second for r in runs[layout]) for layout in LAYOUTS}
    say(f"{'layout':<40}{'img/s':>8}{'vs default':>12}{'CPU ms/img':>12}{'faults/img':>12}")
    for layout in LAYOUTS:
        default = best[dataclasses.replace(layout, steady=False)]
        cpu = min(r.cpu_ms_per_image for r in runs[layout])
        faults = min(r.faults_per_image for r in runs[layout])
        say(f"{layout.name:<40}{best[layout]:>8.1f}{best[layout] / default:>11.2f}x"
            f"{cpu:>12.1f}{faults:>12.0f}")
    for steady in (False, True):
        two, one = best[Layout(2, 1, steady)], best[Layout(1, 2, steady)]
        say(f"{'steady' if steady else 'default'} allocator: 2 x 1 thread / 1 x 2 threads = "
            f"{two / one:.2f}x")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    lines: list[str] = []
    say = Recorder(lines)
    start = time.perf_counter()
    say(f"torch {torch.__version__}, {torch.get_num_threads()} threads"
        + (" (quick)" if args.quick else ""))
    for name, section in zip(SECTIONS, (throughput, profiles, fixed_costs, trial_layouts)):
        if name in args.only:
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
