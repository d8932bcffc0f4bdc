"""GPU utilisation sampled while a block of work runs.

`Utilisation` polls the device's utilisation (NVML's "percent of time a kernel was running" over
its last sample period) in a background thread: through pynvml (nvidia-ml-py) when it imports,
else through `nvidia-smi`, else not at all (the mean is then None and `source()` says why).
Used by `benchmarks/gpu_proof.py`; it needs nothing beyond the standard library and torch.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import threading
from collections.abc import Callable

import torch

INTERVAL = 0.2  # seconds between samples; NVML's own sample period is 1/6 to 1 s


def _pynvml_reader(index: int) -> Callable[[], float] | None:
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    except pynvml.NVMLError:
        return None
    return lambda: float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)


def _smi_reader(index: int) -> Callable[[], float] | None:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    command = [smi, f"--id={index}", "--query-gpu=utilization.gpu",
               "--format=csv,noheader,nounits"]

    def read() -> float:
        out = subprocess.run(command, capture_output=True, text=True, timeout=5, check=True)
        return float(out.stdout.split()[0])

    try:
        read()
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    return read


def reader(device: torch.device) -> tuple[Callable[[], float] | None, str]:
    """(a function that reads the utilisation in %, or None; the source or why there is none)."""
    if device.type != "cuda":
        return None, f"not sampled: device is {device.type}"
    index = device.index if device.index is not None else torch.cuda.current_device()
    for name, make in (("pynvml", _pynvml_reader), ("nvidia-smi", _smi_reader)):
        read = make(index)
        if read is not None:
            return read, name
    return None, "not sampled: neither pynvml nor nvidia-smi works here"


class Utilisation:
    """Mean GPU utilisation (%) over a `with` block, sampled every `INTERVAL` seconds."""

    def __init__(self, read: Callable[[], float] | None):
        self.read, self.samples = read, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(INTERVAL):
            try:
                self.samples.append(self.read())
            except Exception:  # a hiccup of the driver or nvidia-smi: skip the sample
                continue

    def __enter__(self) -> Utilisation:
        if self.read is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.read is not None:
            self._stop.set()
            self._thread.join()

    @property
    def mean(self) -> float | None:
        return round(statistics.fmean(self.samples), 1) if self.samples else None
