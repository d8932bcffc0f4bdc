"""Scoring a trained net: exact BatchNorm statistics, then top-1 on the held-out split.

After a few dozen steps the running averages still mix in statistics of much earlier weights,
and eval-mode accuracy of a deep net sits at chance even when it has learned; NAS proxies
commonly recompute them (exact averages, drop-path off) before evaluating. A supernet path needs
it all the more: paths share BN layers, so the shared running averages fit no single path.
Both `calibrate_bn` and `top1` take a `forward` so that one supernet path is scored as a net is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
from torch import nn

from objectives.data import Split
from objectives.training.batches import batches
from objectives.training.runtime import Runtime

Forward = Callable[[torch.Tensor], torch.Tensor]


def bn_layers(model: nn.Module) -> list[nn.Module]:
    """Every BatchNorm layer of `model`."""
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def calibrate_bn(model: nn.Module, inputs: Iterable[torch.Tensor], rt: Runtime,
                 forward: Forward | None = None) -> None:
    """Recompute every BN layer's statistics as the exact average over `inputs` (prepared
    batches run through `forward`, default `model`); leaves `model` in eval mode."""
    norms = bn_layers(model)
    momenta = [norm.momentum for norm in norms]
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the calibration batches
        norm.train()
    for x in inputs:
        with rt.autocast():
            (forward or model)(x)
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    model.eval()


def recalibrate_bn(model: nn.Module, split: Split, rt: Runtime, images: int,
                   batch_size: int = 256, num_workers: int = 0) -> None:
    """Recompute BatchNorm statistics with the final weights from `images` training images
    (0: keep the running averages), in batches; `model` is left in train mode."""
    if not images or not bn_layers(model):
        return
    calibrate_bn(model, _calibration_batches(split, rt, images, batch_size, num_workers), rt)
    model.train()


def _calibration_batches(split: Split, rt: Runtime, images: int, batch_size: int,
                         num_workers: int) -> Iterator[torch.Tensor]:
    seen = 0
    for batch, _ in batches(split, min(batch_size, images), shuffle=False, generator=None,
                            num_workers=num_workers):
        if len(batch) < 2 or seen >= images:  # train-mode BN needs two samples
            return
        yield rt.prepare(batch)
        seen += len(batch)


@torch.inference_mode()
def top1(forward: Forward, pairs: Iterable[tuple[torch.Tensor, torch.Tensor]],
         rt: Runtime) -> float:
    """Top-1 accuracy in [0, 1] of `forward` over (prepared images, labels) batches."""
    correct = torch.zeros((), dtype=torch.int64, device=rt.device)
    total = 0
    for x, labels in pairs:
        with rt.autocast():
            logits = forward(x)
        correct += (logits.argmax(1) == labels.to(rt.device)).sum()
        total += len(labels)
    return correct.item() / total


def evaluate(model: nn.Module, split: Split, rt: Runtime, batch_size: int = 256,
             num_workers: int = 0) -> float:
    """Top-1 accuracy in [0, 1] of `model` on `split`."""
    model.eval()
    pairs = ((rt.prepare(images), labels) for images, labels in
             batches(split, batch_size, shuffle=False, generator=None, num_workers=num_workers))
    accuracy = top1(model, pairs, rt)
    model.train()
    return accuracy
