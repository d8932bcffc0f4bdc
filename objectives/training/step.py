"""One optimizer step, the same for a standalone net and for a supernet's paths."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from objectives.training.runtime import Runtime


def train_step(optimizer: torch.optim.Optimizer, lr: float, rt: Runtime,
               loss_of: Callable[[], torch.Tensor], clip: float | None,
               parameters: Iterable[nn.Parameter]) -> torch.Tensor:
    """Set the learning rate, compute `loss_of()` under autocast, backpropagate, clip the
    gradients' global L2 norm to `clip` (None: off) and step; returns the detached loss."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    with rt.autocast():
        loss = loss_of()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        nn.utils.clip_grad_norm_(parameters, clip)
    optimizer.step()
    return loss.detach()
