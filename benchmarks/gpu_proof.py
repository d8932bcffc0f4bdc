"""GPU proof: what this project does on one GPU, in one command of at most 8 minutes.

Sections, printed as they go; every figure also lands in OUT/gpu_proof.json (rewritten after
each section, so a run cut short keeps what it measured). docs/gpu-proof.md explains each key.

  1. training throughput: our proxy loop vs a bare PyTorch loop (benchmarks/proxy_throughput.py's
     two loops) on the same model and batch, bf16 autocast + channels_last, for
     efficientnet-b0-small at 32 px and efficientnet-b0 at 224 px, with GPU utilisation;
  2. candidates per GPU-hour: seeded b0-small samples with the b0-cifar10 recipe on a large
     synthetic set, one at a time, then in several processes sharing the GPU (resources.gpu 0.25);
  3. supernet: epoch time, candidates scored per second, Kendall tau vs section 2's accuracies;
  4. latency on CUDA: `nas-search latency efficientnet-b0` (its defaults) vs CUDA events, and the
     per-block table's within_10pct over 20 `b0` archs;
  5. Ray, if it imports: the demo with resources.gpu 0.25 vs 1, trials per hour.

Needs torch, numpy, pyyaml and the project; scipy for Kendall tau; pynvml or nvidia-smi for
utilisation; Ray for section 5. A section that lacks what it needs is skipped with a line.

    python benchmarks/gpu_proof.py --out DIR                      # on the GPU
    python benchmarks/gpu_proof.py --device cpu --quick --skip ray --out DIR   # CPU smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import gpu_candidates as cand  # noqa: E402
from benchmarks.gpu_latency import latency_section  # noqa: E402
from benchmarks.gpu_util import Utilisation, reader  # noqa: E402
from benchmarks.proxy_throughput import bare, ours  # noqa: E402
from benchmarks.results_page import commit  # noqa: E402
from objectives.latency import device_name  # noqa: E402
from objectives.training import (  # noqa: E402
    ProxyConfig,
    make_runtime,
    resolve_device,
)
from search_space import load_arch  # noqa: E402
from search_space.atomic_file import atomic_write  # noqa: E402

COMMON = ("skipped", "error", "seconds")  # in every section
THROUGHPUT = ("arch", "resolution", "batch_size", "epochs", "train_images", "bf16",
              "channels_last", "ours_img_s", "bare_img_s", "ratio", "ours_gpu_util_pct",
              "bare_gpu_util_pct")
RUN = ("candidates", "seconds", "img_s", "candidates_per_hour", "gpu_util_pct")
SCHEMA = {
    "meta": ("command", "commit", "device", "device_name", "torch", "cuda", "python", "quick",
             "util_source", "started"),
    "throughput_small": THROUGHPUT,
    "throughput_b0": THROUGHPUT,
    "candidates": ("space", "recipe", "resolution", "epochs", "batch_size", "set_train",
                   "set_val", "set_seconds", "images_per_candidate",
                   *(f"serial_{k}" for k in RUN), *(f"concurrent_{k}" for k in RUN),
                   "concurrent_processes", "speedup", "accuracies"),
    "supernet": ("epochs", "epoch_seconds", "train_gpu_util_pct", "scored", "scored_per_s",
                 "scores", "standalone", "kendall_tau", "cheaper_x"),
    "latency": ("arch", "resolution", "batch", "project_ms", "independent_ms", "ratio",
                "independent_timer", "table_space", "table_archs", "table_calibration_archs",
                "table_min_run_time", "table_parts", "table_seconds", "within_10pct",
                "mean_abs_error_pct"),
    "ray": ("trials", *(f"{w}_{k}" for w in ("shared", "whole")
                        for k in ("gpu", "seconds", "trials_per_hour", "gpu_util_pct")),
            "ratio"),
}
SECTIONS = ("throughput", "candidates", "supernet", "latency", "ray")  # for --skip


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Every size the proof uses: the GPU run's by default, `QUICK` for the CPU smoke run."""

    small_epochs: int = 20  # 1600 images an epoch; the first is warm-up
    b0_resolution: int = 224
    b0_epochs: int = 6
    batch: int = 256
    train_size: int | None = None  # all 1600 left after the 400 held out
    val_size: int | float = 0.2
    set_train: int = 20_000
    set_val: int = 5_000  # the recipe's own val_size
    archs: int = 12
    serial: int = 3
    processes: int = 4
    recipe: dict[str, Any] = dataclasses.field(default_factory=dict)  # overrides of b0-cifar10
    supernet_epochs: int = 5  # the recipe's epochs: a candidate's own training budget
    latency_min_run_time: float = 0.5  # `nas-search latency`'s default
    latency_sweeps: int = 2
    table_archs: int = 20
    table_calibration: int = 10
    table_min_run_time: float = 0.05  # ~330 parts x 2 sweeps: about a minute on a GPU
    table_resolution: int | None = None  # the archs' own (224 px)
    independent: tuple[int, int] = (10, 20)  # blocks, calls a block of the CUDA-event timing
    threads: int | None = None  # torch CPU threads of this process (None: torch's default)


QUICK = Sizes(small_epochs=2, b0_resolution=64, b0_epochs=2, batch=16, train_size=48,
              val_size=16, set_train=64, set_val=32, archs=4, serial=1, processes=2,
              recipe=dict(epochs=1, batch_size=32, bn_calibration=64), supernet_epochs=1,
              latency_min_run_time=0.01, latency_sweeps=1, table_archs=2, table_calibration=1,
              table_min_run_time=0.002, table_resolution=32, independent=(2, 2),
              threads=1)  # one thread: a shared CPU is not oversubscribed


def say(line: str) -> None:
    print(line, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for gpu_proof.json")
    parser.add_argument("--device", default="auto", help="cuda (default when available) or cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a CPU smoke run")
    parser.add_argument("--skip", action="append", default=[], choices=SECTIONS,
                        help="leave a section out (repeatable)")
    return parser.parse_args(argv)


def blank() -> dict[str, dict[str, Any]]:
    """Every documented key, None until measured."""
    return {name: {key: None for key in (*keys, *([] if name == "meta" else COMMON))}
            for name, keys in SCHEMA.items()}


def write(out: Path, results: dict[str, Any]) -> None:
    atomic_write(out / "gpu_proof.json",
                 lambda tmp: tmp.write_text(json.dumps(results, indent=1) + "\n"))


def meta(device: torch.device, quick: bool, util_source: str) -> dict[str, Any]:
    cuda = device.type == "cuda"
    return {"command": " ".join([Path(sys.executable).name, *sys.argv]), "commit": commit(),
            "device": str(device), "quick": quick, "util_source": util_source,
            "device_name": device_name(str(device)), "torch": torch.__version__,
            "cuda": torch.version.cuda if cuda else None,
            "python": platform.python_version(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %z")}


def run_section(results: dict[str, Any], name: str, out: Path, work: Callable[[], dict],
                skipped: str | None = None) -> bool:
    """Run one section into `results[name]`, or record why not; False when it failed."""
    section = results[name]
    if skipped:
        section["skipped"] = skipped
        say(f"skipped: {skipped}")
    else:
        begin = time.perf_counter()
        try:
            values = work()
            unknown = set(values) - set(section)
            if unknown:  # keys must be documented: docs/gpu-proof.md lists SCHEMA
                raise KeyError(f"undocumented keys {sorted(unknown)}")
            section.update(values)
        except Exception as err:  # one failed section must not cost the others
            traceback.print_exc()
            section["error"] = f"{type(err).__name__}: {err}"
        section["seconds"] = round(time.perf_counter() - begin, 1)
        say(f"({name}: {section['seconds']} s)")
    write(out, results)
    return section["error"] is None


# -- 1. training throughput ----------------------------------------------------------------

def throughput(arch_name: str, resolution: int, epochs: int, sizes: Sizes,
               device: torch.device, read) -> dict[str, Any]:
    """Our loop vs the bare loop, one after the other on the same model, batch and data."""
    arch = load_arch(arch_name)
    cfg = ProxyConfig(epochs=epochs, resolution=resolution, batch_size=sizes.batch,
                      train_size=sizes.train_size, val_size=sizes.val_size, device=str(device),
                      channels_last=True, bn_calibration=0, seed=0)  # bf16: on for CUDA
    with Utilisation(read) as ours_util:
        mine = ours(arch, cfg)
    with Utilisation(read) as bare_util:
        theirs = bare(arch, cfg)
    say(f"{arch_name} at {resolution} px: ours {mine:.1f} img/s, bare {theirs:.1f} img/s, "
        f"ratio {mine / theirs:.3f}, GPU util {ours_util.mean} / {bare_util.mean} %")
    return {"arch": arch_name, "resolution": resolution, "batch_size": sizes.batch,
            "epochs": epochs, "train_images": sizes.train_size or 1600,
            "bf16": make_runtime(cfg).bf16, "channels_last": True,
            "ours_img_s": round(mine, 1), "bare_img_s": round(theirs, 1),
            "ratio": round(mine / theirs, 3), "ours_gpu_util_pct": ours_util.mean,
            "bare_gpu_util_pct": bare_util.mean}


# -- 2. and 3. candidates per GPU-hour, supernet ----------------------------------------------

@dataclasses.dataclass
class Shared:
    """What section 2 leaves for section 3: the set, the candidates and their accuracies."""

    plan: cand.Plan
    cfg: ProxyConfig | None = None
    data: Any = None
    archs: list = dataclasses.field(default_factory=list)
    serial_seconds: list[float] = dataclasses.field(default_factory=list)
    standalone: list[float] = dataclasses.field(default_factory=list)


def candidates_section(shared: Shared, read) -> dict[str, Any]:
    plan = shared.plan
    shared.cfg = cfg = cand.recipe(plan)
    begin = time.perf_counter()
    shared.data = data = cand.large_set(plan, cfg.resolution)
    made = time.perf_counter() - begin
    say(f"{plan.set_train:,} + {plan.set_val:,} synthetic images at {cfg.resolution} px made "
        f"in {made:.1f} s; recipe b0-cifar10: {cfg.epochs} epochs, batch {cfg.batch_size}")
    shared.archs = cand.candidates(plan)
    one, done = cand.serial(plan, cfg, data, shared.archs, read)
    shared.serial_seconds = [d["seconds"] for d in done]
    say(f"one at a time: {one['candidates']} in {one['seconds']} s, {one['img_s']} img/s, "
        f"{one['candidates_per_hour']} candidates/hour, GPU util {one['gpu_util_pct']} %")
    many, done = cand.concurrent(plan, cfg, data, read)
    shared.standalone = [d["accuracy"] for d in done]
    say(f"{plan.processes} processes: {many['candidates']} in {many['seconds']} s, "
        f"{many['img_s']} img/s, {many['candidates_per_hour']} candidates/hour, GPU util "
        f"{many['gpu_util_pct']} %")
    return {"space": cand.SPACE, "recipe": "b0-cifar10", "resolution": cfg.resolution,
            "epochs": cfg.epochs, "batch_size": cfg.batch_size, "set_train": plan.set_train,
            "set_val": plan.set_val, "set_seconds": round(made, 1),
            "images_per_candidate": cand.images_per_candidate(cfg, data),
            **{f"serial_{k}": v for k, v in one.items()},
            **{f"concurrent_{k}": v for k, v in many.items()},
            "speedup": round(many["candidates_per_hour"] / one["candidates_per_hour"], 2),
            "accuracies": shared.standalone}


def supernet_section(shared: Shared, read) -> dict[str, Any]:
    out = cand.supernet(shared.plan, shared.cfg, shared.data, shared.archs, shared.standalone,
                        read, say)
    per_candidate = sum(shared.serial_seconds) / len(shared.serial_seconds)
    out["cheaper_x"] = round(per_candidate * out["scored_per_s"], 1)
    say(f"supernet: {out['epoch_seconds']} s an epoch, {out['scored_per_s']} candidates scored "
        f"a second ({out['cheaper_x']}x cheaper than training one), Kendall tau "
        f"{out['kendall_tau']} over {out['scored']} candidates")
    return out


# -- 5. Ray ------------------------------------------------------------------------------

def demo_run(gpu: float, out: Path, read) -> dict[str, Any]:
    """The bundled demo on CUDA, `gpu` of a GPU a trial, in a fresh process (Ray start in)."""
    from nas import load_results

    run_dir = out / f"ray-demo-gpu{gpu}"
    command = [sys.executable, "-m", "nas", "run", "demo", "--output", str(run_dir),
               "--set", "proxy.device=cuda", "--set", f"resources.gpu={gpu}",
               "--set", "budget.max_concurrent=4"]
    begin = time.perf_counter()
    with Utilisation(read) as util, open(out / f"ray-demo-gpu{gpu}.log", "w") as log:
        run_group(command, log, timeout=300)
    seconds = time.perf_counter() - begin
    trials = len(load_results(run_dir))
    say(f"demo, resources.gpu {gpu}: {trials} trials in {seconds:.0f} s, "
        f"GPU util {util.mean} %")
    return {"gpu": gpu, "trials": trials, "seconds": round(seconds, 1),
            "trials_per_hour": round(3600 * trials / seconds, 1), "gpu_util_pct": util.mean}


def run_group(command: list[str], log, timeout: float) -> None:
    """Run `command` in its own process group; past `timeout`, kill the group (the run's
    private Ray with it) rather than leave it beside the sections that follow."""
    proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if code:
        raise subprocess.CalledProcessError(code, command)


def ray_section(out: Path, read) -> dict[str, Any]:
    shared, whole = demo_run(0.25, out, read), demo_run(1, out, read)
    return {"trials": shared.pop("trials"), "ratio": round(
        shared["trials_per_hour"] / whole["trials_per_hour"], 2),
            **{f"shared_{k}": v for k, v in shared.items()},
            **{f"whole_{k}": v for k, v in whole.items() if k != "trials"}}


def ray_skipped(args: argparse.Namespace, device: torch.device) -> str | None:
    if "ray" in args.skip:
        return "--skip ray"
    if device.type != "cuda":
        return "needs a GPU: resources.gpu asks Ray for one"
    if importlib.util.find_spec("ray") is None:
        return "Ray is not installed here"
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes, device = (QUICK if args.quick else Sizes()), resolve_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    if sizes.threads:
        torch.set_num_threads(sizes.threads)
    if device.type == "cpu" and not args.quick:
        say("the full sizes are meant for a GPU: on a CPU they take hours (--quick: seconds)")
    read, util_source = reader(device)
    results = blank()
    results["meta"].update(meta(device, args.quick, util_source))
    say(f"GPU proof on {results['meta']['device_name']} ({device}), torch {torch.__version__}; "
        f"utilisation: {util_source}; writing {args.out / 'gpu_proof.json'}")
    begin, ok = time.perf_counter(), []
    shared = Shared(cand.Plan(str(device), sizes.set_train, sizes.set_val, sizes.archs,
                              sizes.serial, sizes.processes, sizes.supernet_epochs,
                              sizes.recipe))
    scipy = importlib.util.find_spec("scipy") is not None
    steps = [
        ("1. training throughput", "throughput_small", lambda: throughput(
            "efficientnet-b0-small", 32, sizes.small_epochs, sizes, device, read), None),
        ("", "throughput_b0", lambda: throughput(
            "efficientnet-b0", sizes.b0_resolution, sizes.b0_epochs, sizes, device, read), None),
        ("2. candidates per GPU-hour", "candidates",
         lambda: candidates_section(shared, read), None),
        ("3. supernet", "supernet", lambda: supernet_section(shared, read),
         None if scipy else "scipy is not installed (Kendall tau)"),
        ("4. latency", "latency", lambda: latency_section(sizes, device, say), None),
        ("5. Ray", "ray", lambda: ray_section(args.out, read), ray_skipped(args, device)),
    ]
    for title, name, work, skipped in steps:
        if title:
            say(f"\n== {title}")
        group = name.split("_")[0]
        if skipped is None and group in args.skip:
            skipped = f"--skip {group}"
        if skipped is None and name == "supernet" and not shared.standalone:
            skipped = "needs section 2's standalone accuracies"
        ok.append(run_section(results, name, args.out, work, skipped))
    say(f"\nGPU proof done in {time.perf_counter() - begin:.0f} s: {args.out / 'gpu_proof.json'}")
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
