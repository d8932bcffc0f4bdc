"""Scoring candidates with a trained supernet's weights: BN recalibration, then held-out top-1.

A candidate's path runs inside the supernet (no standalone copy is built; `Supernet.subnet`
would give the same outputs). Its BatchNorm statistics are recomputed on
`SupernetConfig.calibration` training images in one pass (paths share BN layers, so the shared
running averages fit no single path), and its top-1 on the held-out split (the first
`SupernetConfig.holdout` images, or all) is the score: the training core's `calibrate_bn` and
`top1`, as a proxy-trained net is measured.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from objectives.data import ProxyData, Split, load_dataset
from objectives.supernet_training import ALL_HELD_OUT, SupernetConfig
from objectives.training import (
    ProxyConfig,
    Runtime,
    bn_layers,
    calibrate_bn,
    first_batches,
    make_runtime,
    top1,
)
from search_space import Arch, Supernet

Batch = tuple[torch.Tensor, torch.Tensor]


def score_candidates(supernet: Supernet, archs: Sequence[Arch], proxy: ProxyConfig,
                     cfg: SupernetConfig, data: ProxyData | None = None) -> list[dict[str, Any]]:
    """Score each candidate with inherited weights: BN recalibration, then held-out top-1.

    The calibration images and the held-out split are prepared once as tensors. The supernet's
    own BN statistics are restored afterwards.

    Returns one dict per candidate: accuracy, seconds (this candidate's own wall time).
    """
    data = load_dataset(proxy) if data is None else data
    rt = make_runtime(proxy)
    train, val = data.on(rt.device)
    supernet = supernet.to(rt.device)
    calibration = rt.prepare(torch.cat([x for x, _ in first_batches(train, cfg.calibration)]))
    held_out = _held_out(val, rt, cfg.holdout)
    norms = bn_layers(supernet)
    saved = [(m.momentum, {k: v.clone() for k, v in m.state_dict().items()}) for m in norms]
    scores = []
    try:
        for arch in archs:
            begin = time.perf_counter()
            accuracy = score_path(supernet, arch, calibration, held_out, rt)
            scores.append(dict(accuracy=accuracy, seconds=time.perf_counter() - begin))
    finally:
        for m, (momentum, state) in zip(norms, saved, strict=True):
            m.load_state_dict(state)
            m.momentum = momentum
        supernet.eval()
    return scores


def _held_out(val: Split, rt: Runtime, holdout: int) -> list[Batch]:
    """The first `holdout` held-out images (or all), prepared on the device once."""
    count = len(val) if holdout == ALL_HELD_OUT else holdout
    return [(rt.prepare(images), labels.to(rt.device))
            for images, labels in first_batches(val, count)]


def score_path(supernet: Supernet, arch: Arch, calibration: torch.Tensor,
               held_out: list[Batch], rt: Runtime) -> float:
    """Held-out top-1 of `arch`'s path after recomputing its BN statistics exactly: one
    train-mode pass over the whole calibration batch (dropout stays off)."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        return supernet(x, arch)

    calibrate_bn(supernet, [calibration], rt, forward)
    return top1(forward, held_out, rt)
