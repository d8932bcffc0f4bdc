"""Resizing uint8 images: the one resampling every source and the cache use."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_uint8(images: torch.Tensor, resolution: int, chunk: int = 1024) -> torch.Tensor:
    """Antialiased bilinear resize of uint8 [N, 3, H, W] to [N, 3, R, R], in chunks."""
    if images.shape[-1] == resolution and images.shape[-2] == resolution:
        return images
    out = [F.interpolate(images[i:i + chunk].float(), size=(resolution, resolution),
                         mode="bilinear", antialias=True, align_corners=False)
           .round_().clamp_(0, 255).to(torch.uint8) for i in range(0, len(images), chunk)]
    return torch.cat(out)


def resize_one(image: torch.Tensor, resolution: int) -> torch.Tensor:
    """One uint8 [3, H, W] image resized (a module-level function: it pickles to workers)."""
    return resize_uint8(image[None], resolution)[0]
