"""Measured inference latency of a model on this machine's CPU or GPU.

Protocol (one place it is decided): eval mode, no grad, a fixed number of torch threads, input
of shape (batch, 3, R, R); `warmup` untimed calls, then `torch.utils.benchmark.Timer` runs
blocks of calls for at least `min_run_time` seconds (CUDA synchronised by the timer). The
minimum, median and 90th percentile are over those blocks, in milliseconds per call. The
onnxruntime backend exports the same model with `torch.onnx` and times `session.run` the same way.

Which of them is *the* latency (`LatencySetup.estimate`: what the per-block table stores and a
search optimises) is the minimum by default: other work on a shared machine only ever adds
time, so the fastest block is the least disturbed, and two minima of one model agree more often
than two medians (`benchmarks/latency_table.py` judges both side by side; on this project's
2-core VM: 0.80-1.00 vs 0.67-1.00 of archs timed twice within 10%). Parts alone reach their minimum
more easily than whole networks; the table's calibration takes that out.

One standard for a whole network: `measure_archs` times it in `LatencySetup.sweeps` sweeps and
keeps its fastest, whether it is `nas-search latency ARCH`, a table's calibration or
validation, or a benchmark, so their numbers compare.

Steady memory: glibc hands large buffers (above 128 KiB, rising with use) to the OS and back
with mmap, so a call whose activations are megabytes can spend more time in page faults than in
arithmetic, by an amount that depends on what ran before it: one 112-px block of a `b0` sample
measured 3.5 ms or 6-13 ms in the same process. Before timing on the CPU, `steady_allocator`
keeps freed memory in the heap (as the jemalloc/tcmalloc that PyTorch's CPU tuning guide
recommends for inference do), so a block, a table of blocks and a whole network measure the
same thing: the compute.

A number means little without the environment it was measured in, so every measurement carries
a `fingerprint` (device name, torch/onnxruntime versions, threads, batch, dtype, channels_last,
backend); the per-block table (`objectives.latency_table`) keys its cache on it.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import platform
import re
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from objectives.training.recipe import MAX_BATCH
from search_space import Arch, build_model
from search_space.arch import MAX_RESOLUTION
from search_space.errors import SpecError, require
from search_space.validators import choice, integer, number

BACKENDS = ("torch", "onnxruntime")
CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}
ESTIMATES = ("min", "median")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)
PROTOCOL = 3  # bump when the timing protocol changes: old caches stop matching
# (2: the estimate and the table's sweeps joined the fingerprint; 3: calibration sweeps too,
# and a steady allocator)
MMAP_THRESHOLD = 32 << 20  # glibc's largest: batch-1 activations of 224-px nets stay in the heap
TRIM_THRESHOLD = 1 << 30
MAX_RUN_TIME = 60.0  # seconds per measurement: a table times hundreds, a minute each is days


@dataclass(frozen=True)
class LatencySetup:
    """Where and how to time: plain data, so it pickles to a Ray actor.

    Args:
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        batch: images per call.
        threads: torch (or onnxruntime intra-op) CPU threads while timing.
        backend: ``torch`` or ``onnxruntime`` (CPU only; the ``[onnx]`` extra).
        dtype: ``float32``, ``bfloat16`` or ``float16`` (torch backend only).
        channels_last: NHWC memory format for model and input (torch backend only).
        warmup: untimed calls before timing.
        min_run_time: seconds of timed calls per measurement.
        clock: ``wall`` or ``cpu`` (the thread's CPU time; CPU device, one thread only).
        estimate: ``min`` (default) or ``median`` of the timed blocks: the number the table
            stores and a search uses (see the module docstring).
        sweeps: whole networks (`measure_archs`) and a latency table's parts are timed this
            many times over, each keeping its fastest (a burst of other work rarely hits one
            twice); `measure_module` alone times once.
    """

    device: str = "cpu"
    batch: int = 1
    threads: int = 1
    backend: str = "torch"
    dtype: str = "float32"
    channels_last: bool = False
    warmup: int = 5
    min_run_time: float = 0.5
    clock: str = "wall"
    estimate: str = "min"
    sweeps: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.device, str) or not re.fullmatch(r"cpu|cuda(:[0-9]+)?",
                                                                self.device):
            raise SpecError("device", self.device, "must be cpu, cuda or cuda:N")
        integer("batch", self.batch, 1, MAX_BATCH)  # the proxy's bound: memory, not time
        for name in ("threads", "sweeps"):
            integer(name, getattr(self, name), 1)
        integer("warmup", self.warmup, 0)
        number("min_run_time", self.min_run_time, 0.0, MAX_RUN_TIME, low_open=True)
        choice("backend", self.backend, BACKENDS)
        choice("dtype", self.dtype, tuple(DTYPES))
        choice("estimate", self.estimate, ESTIMATES)
        if self.backend == "onnxruntime" and (self.device != "cpu" or self.dtype != "float32"
                                              or self.channels_last):
            raise SpecError("backend", self.backend, "times float32 NCHW on the CPU only")
        if self.clock not in CLOCKS or (self.clock == "cpu" and (self.device != "cpu"
                                                                  or self.threads != 1)):
            raise SpecError("clock", self.clock, "must be wall, or cpu with device cpu and "
                            "one thread")


@dataclass(frozen=True)
class Latency:
    """One measurement: milliseconds per call (of `batch` images)."""

    median_ms: float
    p90_ms: float
    runs: int  # timed calls in all
    fingerprint: dict[str, Any]
    min_ms: float

    @property
    def ms(self) -> float:
        """The latency under the setup's `estimate`: min or median."""
        return self.min_ms if self.fingerprint["estimate"] == "min" else self.median_ms

    def to_dict(self) -> dict[str, Any]:
        fp = self.fingerprint
        return {"ms": self.ms, "estimate": fp["estimate"], "min_ms": self.min_ms,
                "median_ms": self.median_ms, "p90_ms": self.p90_ms, "runs": self.runs,
                "device": fp["device"], "batch": fp["batch"], "threads": fp["threads"],
                "backend": fp["backend"], "fingerprint": fp}


@functools.cache
def device_name(device: str) -> str:
    """The CPU model or the GPU name: what makes a latency number comparable."""
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SpecError("device", device, "no CUDA device is visible here")
        index, count = torch.device(device).index, torch.cuda.device_count()
        if index is not None and index >= count:
            raise SpecError("device", device, f"this machine shows {count} CUDA device(s)")
        return torch.cuda.get_device_name(torch.device(device))
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fingerprint(setup: LatencySetup) -> dict[str, Any]:
    """The environment a latency belongs to; tables measured under another one do not apply."""
    ort = None
    if setup.backend == "onnxruntime":
        ort = _onnxruntime().__version__
    return {"device": setup.device, "device_name": device_name(setup.device),
            "torch": torch.__version__, "onnxruntime": ort, "backend": setup.backend,
            "threads": setup.threads, "batch": setup.batch, "dtype": setup.dtype,
            "channels_last": setup.channels_last, "clock": setup.clock, "estimate": setup.estimate,
            "sweeps": setup.sweeps, "protocol": PROTOCOL}


@functools.cache
def steady_allocator() -> bool:
    """Keep freed memory in this process's heap (see the module docstring); once per process,
    for the rest of it. False where the C library is not glibc or refused a setting."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mmap = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    trim = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return bool(mmap and trim)


def _onnxruntime():
    return require("onnxruntime", "backend", "onnxruntime",
                   "is not installed: pip install 'nas-search[onnx]'")


def _prepare(module: nn.Module, shape: tuple[int, ...], setup: LatencySetup
             ) -> tuple[nn.Module, torch.Tensor]:
    if setup.device.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError("device", setup.device, "no CUDA device is visible here")
    fmt = torch.channels_last if setup.channels_last else torch.contiguous_format
    module = module.eval().to(setup.device, DTYPES[setup.dtype], memory_format=fmt)
    x = torch.randn(shape).to(setup.device, DTYPES[setup.dtype], memory_format=fmt)
    return module, x


def _torch_call(module: nn.Module, x: torch.Tensor):
    def call() -> None:
        module(x)
    return call


def _onnx_call(module: nn.Module, x: torch.Tensor, threads: int):
    ort = _onnxruntime()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        # TorchScript exporter: needs no onnxscript, and these plain conv nets export cleanly
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(module, (x,), str(path), input_names=["x"], dynamo=False)
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {"x": x.numpy()}

    def call() -> None:
        session.run(None, feed)
    return call


def measure_module(module: nn.Module, shape: tuple[int, ...], setup: LatencySetup) -> Latency:
    """Time `module` on a random input of `shape` under `setup` (see the module docstring)."""
    from torch.utils import benchmark

    if setup.device == "cpu":
        steady_allocator()
    module, x = _prepare(module, shape, setup)
    with torch.inference_mode():
        call = (_onnx_call(module, x, setup.threads) if setup.backend == "onnxruntime"
                else _torch_call(module, x))
        timer = benchmark.Timer("call()", globals={"call": call}, num_threads=setup.threads,
                                timer=_clock(setup))
        for _ in range(setup.warmup):
            timer.timeit(1)  # through the timer, so warm-up runs with the timed thread count
        m = timer.blocked_autorange(min_run_time=setup.min_run_time)
    times = np.asarray(m.times) * 1e3
    return Latency(float(np.median(times)), float(np.percentile(times, 90)),
                   len(times) * m.number_per_run, fingerprint(setup), float(times.min()))


Timer = Callable[[nn.Module, tuple[int, ...], LatencySetup], Latency]


def _clock(setup: LatencySetup):
    if setup.device.startswith("cuda"):
        from torch.utils.benchmark.utils.timer import timer  # synchronises CUDA first
        return timer
    return CLOCKS[setup.clock]


def measure_archs(archs: list[Arch], setup: LatencySetup, resolution: int | None = None,
                  num_classes: int = 1000, timer: Timer = measure_module,
                  progress: Callable[[int, int], None] | None = None) -> list[Latency]:
    """The one way a whole network is timed (`nas-search latency ARCH`, a table's calibration
    and validation, the benchmarks): `setup.sweeps` sweeps over all of `archs`, each arch
    keeping its fastest measurement (by `setup.estimate`), as a table times its parts.

    Args:
        archs: the networks, built by `build_model(arch, num_classes)`.
        setup: where and how to time.
        resolution: input side for every arch (default: each arch's own).
        num_classes: classifier outputs.
        timer: times one module (default `measure_module`); tests count its calls.
        progress: called with (timings done, timings in all) after each one.
    """
    best: list[Latency | None] = [None] * len(archs)
    total = len(archs) * setup.sweeps
    for done, (_, (i, arch)) in enumerate(
            itertools.product(range(setup.sweeps), enumerate(archs)), 1):
        size = _side(arch, resolution)
        result = timer(build_model(arch, num_classes), (setup.batch, 3, size, size), setup)
        if best[i] is None or result.ms < best[i].ms:
            best[i] = result
        if progress:
            progress(done, total)
    return best


def measure_arch(arch: Arch, setup: LatencySetup, resolution: int | None = None,
                 num_classes: int = 1000) -> Latency:
    """End-to-end latency of `build_model(arch)` at `resolution` (default: the arch's own),
    to the standard of `measure_archs`."""
    return measure_archs([arch], setup, resolution, num_classes)[0]


def _side(arch: Arch, resolution: int | None) -> int:
    res = arch.resolution if resolution is None else resolution
    return integer("resolution", res, 8, MAX_RESOLUTION)
