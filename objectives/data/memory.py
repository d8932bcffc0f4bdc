"""Where loaded images are held: decoded once in memory, or read per access when too large."""

from __future__ import annotations

import os

IN_MEMORY_BYTES = 2 << 30  # an ImageFolder selection up to 2 GiB of uint8 is decoded once
DEVICE_SHARE = 0.25  # in-memory data moves to the GPU when under this share of its free memory


def image_bytes(count: int, resolution: int) -> int:
    """Bytes of `count` uint8 RGB images of side `resolution`."""
    return count * 3 * resolution * resolution


def fits_in_memory(count: int, resolution: int) -> bool:
    """Whether `count` images are small enough to decode once and hold (`IN_MEMORY_BYTES`,
    read at call time so a test or benchmark may lower it)."""
    return image_bytes(count, resolution) <= IN_MEMORY_BYTES


def machine_bytes() -> int:
    """Physical memory of this machine."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
