"""Sections 2 and 3 of `benchmarks/gpu_proof.py`: candidates per GPU-hour, and the supernet.

Candidates: seeded `b0-small` samples proxy-trained with the `b0-cifar10` recipe (the proxy
section of experiments/b0-cifar10.yaml) on a large synthetic set rendered on the machine that
runs the proof (nothing is shipped). First a few one at a time in this process, then all of them
spread over several processes that share the GPU, as `resources.gpu: 0.25` has Ray do. Every
process renders the set and warms up before a common start, so the window timed is training.

Supernet: trained with the same recipe on the same set; its scores of the same candidates
are ranked against their standalone accuracies (Kendall tau).
"""

from __future__ import annotations

import dataclasses
import os
import queue as queues
import statistics
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.gpu_util import Utilisation
from objectives.data.splits import ProxyData, TensorSplit, tensor_splits
from objectives.data.synthetic import NUM_CLASSES, make_synthetic
from objectives.proxy import train_proxy
from objectives.training import ProxyConfig
from search_space import Arch, load_space
from search_space.yaml_file import read_yaml

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "experiments" / "b0-cifar10.yaml"
SPACE = "b0-small"
WAIT = 1.0  # seconds between checks that the worker processes are alive


@dataclasses.dataclass(frozen=True)
class Plan:
    """What sections 2 and 3 train: the set, the recipe's overrides and how many of what."""

    device: str
    set_train: int
    set_val: int
    archs: int
    serial: int
    processes: int
    supernet_epochs: int
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)


def recipe(plan: Plan) -> ProxyConfig:
    """The `b0-cifar10` proxy recipe on the synthetic set, on `plan.device`."""
    proxy = dict(read_yaml(RECIPE)["proxy"])
    proxy.update(dataset="synthetic", device=plan.device, val_size=plan.set_val, **plan.overrides)
    return ProxyConfig(**proxy)


def large_set(plan: Plan, resolution: int) -> ProxyData:
    """`set_train` + `set_val` synthetic images, split as the data seed says."""
    images, labels = make_synthetic(plan.set_train + plan.set_val, resolution, seed=0)
    train, val = tensor_splits(images, labels, plan.set_val, None, seed=0)
    return ProxyData(train, val, NUM_CLASSES, "synthetic-large", resolution)


def candidates(plan: Plan) -> list[Arch]:
    """The seeded `b0-small` samples that every way of training (and the supernet) ranks."""
    rng = np.random.default_rng(0)
    space = load_space(SPACE)
    return [space.sample(rng) for _ in range(plan.archs)]


def images_per_candidate(cfg: ProxyConfig, data: ProxyData) -> int:
    """Training images of one candidate (the ragged last batch of an epoch is dropped)."""
    return cfg.epochs * (len(data.train) // cfg.batch_size) * cfg.batch_size


def warm_up(cfg: ProxyConfig, data: ProxyData, arch: Arch) -> None:
    """One short run, so CUDA's context and kernels are loaded before anything is timed."""
    n = min(len(data.train), 4 * cfg.batch_size)
    few = ProxyData(TensorSplit(data.train.images[:n], data.train.labels[:n]),
                    TensorSplit(data.val.images[:n], data.val.labels[:n]),
                    data.num_classes, data.name, data.resolution)
    train_proxy(arch, dataclasses.replace(cfg, epochs=1, warmup_epochs=0.0), data=few)


def train_one(index: int, arch: Arch, cfg: ProxyConfig, data: ProxyData) -> dict[str, Any]:
    result = train_proxy(arch, cfg, data=data)
    return dict(index=index, accuracy=result.accuracy, status=result.status,
                seconds=result.train_seconds)


def summary(done: list[dict[str, Any]], seconds: float, images: int,
            util: float | None) -> dict[str, Any]:
    """img/s and candidates per hour of `done` candidates trained in `seconds` of wall time."""
    return {"candidates": len(done), "seconds": round(seconds, 2),
            "img_s": round(len(done) * images / seconds, 1),
            "candidates_per_hour": round(3600 * len(done) / seconds, 1), "gpu_util_pct": util}


def serial(plan: Plan, cfg: ProxyConfig, data: ProxyData, archs: list[Arch],
           read) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The first `plan.serial` candidates, one after another in this process."""
    warm_up(cfg, data, archs[0])
    begin = time.perf_counter()
    with Utilisation(read) as util:
        done = [train_one(i, archs[i], cfg, data) for i in range(plan.serial)]
    seconds = time.perf_counter() - begin
    return summary(done, seconds, images_per_candidate(cfg, data), util.mean), done


def worker(rank: int, plan: Plan, cfg: ProxyConfig, threads: int, ready, go,
           results) -> None:
    """One of the processes sharing the GPU: train candidates rank, rank + P, ... after `go`."""
    try:
        torch.set_num_threads(threads)
        data = large_set(plan, cfg.resolution)
        archs = candidates(plan)
        warm_up(cfg, data, archs[rank])
        ready.put(rank)
        go.wait()
        for i in range(rank, plan.archs, plan.processes):
            results.put(train_one(i, archs[i], cfg, data))
    except BaseException:
        results.put(dict(error=f"worker {rank}: {traceback.format_exc()}"))
        raise  # a non-zero exit code: the parent stops waiting for this worker


def _collect(source, count: int, procs: list) -> list[Any]:
    """`count` items from `source`, failing at once when a worker dies instead of waiting."""
    items = []
    while len(items) < count:
        try:
            item = source.get(timeout=WAIT)
        except queues.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                raise RuntimeError("a worker process died (see its output above)") from None
            continue
        if isinstance(item, dict) and "error" in item:
            raise RuntimeError(item["error"])
        items.append(item)
    return items


def concurrent(plan: Plan, cfg: ProxyConfig, data: ProxyData,
               read) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every candidate, spread over `plan.processes` processes that share the device."""
    ctx = torch.multiprocessing.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    threads = max(1, (os.cpu_count() or 1) // plan.processes)
    procs = [ctx.Process(target=worker, args=(rank, plan, cfg, threads, ready, go, results),
                         daemon=True)
             for rank in range(plan.processes)]
    for p in procs:
        p.start()
    try:
        _collect(ready, plan.processes, procs)
        go.set()
        begin = time.perf_counter()
        with Utilisation(read) as util:
            done = _collect(results, plan.archs, procs)
        seconds = time.perf_counter() - begin
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    out = summary(done, seconds, images_per_candidate(cfg, data), util.mean)
    return {**out, "processes": plan.processes}, sorted(done, key=lambda d: d["index"])


def kendall(a: list[float], b: list[float]) -> float | None:
    """Kendall's tau-b of two rankings (None where it is undefined, e.g. all ties)."""
    from scipy.stats import kendalltau

    tau = kendalltau(a, b)[0]  # `.statistic` only from scipy 1.10
    return None if tau != tau else round(float(tau), 3)  # NaN when a ranking is all ties


def supernet(plan: Plan, cfg: ProxyConfig, data: ProxyData, archs: list[Arch],
             standalone: list[float], read, say) -> dict[str, Any]:
    """Supernet epoch time, candidates scored per second, and Kendall tau vs `standalone`."""
    from objectives.supernet_scoring import score_candidates
    from objectives.supernet_training import SupernetConfig, train_supernet

    sn_cfg = SupernetConfig(epochs=plan.supernet_epochs)
    with Utilisation(read) as util:
        net = train_supernet(load_space(SPACE), cfg, sn_cfg, data=data, on_epoch=lambda e: say(
            f"  supernet epoch {e['epoch']}: loss {e['loss']:.3f}, {e['seconds']:.1f} s"))
    begin = time.perf_counter()
    scores = [s["accuracy"] for s in score_candidates(net, archs, cfg, sn_cfg, data=data)]
    scoring = time.perf_counter() - begin
    epoch_s = statistics.fmean(e["seconds"] for e in net.history)
    return {"epochs": plan.supernet_epochs, "epoch_seconds": round(epoch_s, 2),
            "train_gpu_util_pct": util.mean, "scored": len(scores),
            "scored_per_s": round(len(scores) / scoring, 2), "scores": scores,
            "standalone": standalone, "kendall_tau": kendall(scores, standalone)}
