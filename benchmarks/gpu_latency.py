"""Section 4 of `benchmarks/gpu_proof.py`: latency on CUDA, checked two ways.

`nas-search latency efficientnet-b0` (the project's `measure_arch`, with the verb's defaults)
against an independent timing of the same network with CUDA events (no `torch.utils.benchmark`),
and the per-block table of the `b0` space validated on seeded archs in a fresh cache.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from typing import Any

import torch

from objectives.training import torch_threads
from search_space import build_model, load_arch, load_space


def event_ms(call: Callable[[], object], device: torch.device, blocks: int,
             calls: int) -> list[float]:
    """Milliseconds per call of `call`, one figure per block of `calls` calls: CUDA events on
    a GPU (independent of `torch.utils.benchmark`), `time.perf_counter` on the CPU."""
    def block() -> None:
        for _ in range(calls):
            call()

    times = []
    for _ in range(blocks):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            block()
            end.record()
            end.synchronize()
            ms = start.elapsed_time(end)
        else:
            begin = time.perf_counter()
            block()
            ms = (time.perf_counter() - begin) * 1e3
        times.append(ms / calls)
    return times


def independent_ms(arch, device: torch.device, blocks: int = 10, calls: int = 20) -> float:
    """The fastest block of `calls` calls, timed with CUDA events (or perf_counter on CPU)."""
    model = build_model(arch).eval().to(device)
    x = torch.randn(1, 3, arch.resolution, arch.resolution, device=device)
    with torch_threads(1), torch.inference_mode():
        event_ms(lambda: model(x), device, 1, calls)  # warm-up
        return min(event_ms(lambda: model(x), device, blocks, calls))


def latency_section(sizes, device: torch.device, say) -> dict[str, Any]:
    """`nas-search latency` vs CUDA events, and the per-block table's within_10pct
    (`sizes`: gpu_proof's `Sizes`)."""
    from objectives.latency import LatencySetup, measure_arch
    from objectives.latency_table import LatencyTable, validate

    arch = load_arch("efficientnet-b0")
    setup = LatencySetup(device=str(device), min_run_time=sizes.latency_min_run_time,
                         sweeps=sizes.latency_sweeps)  # batch 1, 1 thread, float32: the verb's
    project = measure_arch(arch, setup).ms
    other = independent_ms(arch, device, *sizes.independent)
    say(f"efficientnet-b0, batch 1: nas-search latency {project:.3f} ms, independent "
        f"{other:.3f} ms, ratio {project / other:.3f}")
    table_setup = dataclasses.replace(setup, min_run_time=sizes.table_min_run_time)
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        table = LatencyTable(table_setup, cache, sizes.table_resolution)
        check = validate(load_space("b0"), sizes.table_archs, table,
                         calibrate=sizes.table_calibration)
    seconds = time.perf_counter() - begin
    say(f"per-block table: {len(table.entries)} parts, {check.within_10pct:.2f} of "
        f"{check.n} archs within 10% ({seconds:.0f} s)")
    return {"arch": "efficientnet-b0", "resolution": arch.resolution, "batch": 1,
            "project_ms": round(project, 4), "independent_ms": round(other, 4),
            "ratio": round(project / other, 3),
            "independent_timer": "cuda-events" if device.type == "cuda" else "perf_counter",
            "table_space": "b0", "table_archs": check.n,
            "table_calibration_archs": sizes.table_calibration,
            "table_min_run_time": sizes.table_min_run_time, "table_parts": len(table.entries),
            "table_seconds": round(seconds, 1), "within_10pct": check.within_10pct,
            "mean_abs_error_pct": round(check.mean_abs_error_pct, 2)}
