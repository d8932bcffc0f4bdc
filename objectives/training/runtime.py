"""Where and how a trainer's tensors run: device, memory format, autocast, normalisation, threads.

The loops use channels_last by default, on a GPU also bf16 autocast, and keep in-memory data on
the device.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from objectives.training.recipe import ProxyConfig
from search_space.errors import SpecError

# ImageNet channel statistics on the 0..255 scale; fine for any natural-image-like data
MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)


@dataclass(frozen=True)
class Runtime:
    """Where and how tensors run: device, memory format, autocast, input normalisation."""

    device: torch.device
    channels_last: bool
    bf16: bool
    mean: torch.Tensor
    std: torch.Tensor

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [B, 3, R, R] -> normalised float on the device, in the chosen memory format."""
        x = images.to(self.device, non_blocking=True).float().sub_(self.mean).div_(self.std)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    @property
    def memory_format(self) -> torch.memory_format:
        """What a model is moved to the device in."""
        return torch.channels_last if self.channels_last else torch.preserve_format


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; a CUDA request without CUDA is a SpecError."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError("device", name, "CUDA is not available on this machine")
    return torch.device(name)


def make_runtime(cfg: ProxyConfig) -> Runtime:
    """The `Runtime` of `cfg`: channels_last defaults to on, bf16 autocast to on for CUDA."""
    device = resolve_device(cfg.device)
    on_gpu = device.type == "cuda"
    stats = [torch.tensor(s, device=device).view(1, 3, 1, 1) for s in (MEAN, STD)]
    return Runtime(device, True if cfg.channels_last is None else cfg.channels_last,
                   on_gpu if cfg.bf16 is None else cfg.bf16, *stats)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """torch's CPU threads set to `n` (None: left as is) for the block, then restored."""
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def rng_devices(device: torch.device) -> list[int]:
    """The CUDA devices whose RNG `torch.random.fork_rng` must save for a run on `device`."""
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]
