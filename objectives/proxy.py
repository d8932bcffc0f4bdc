"""Proxy training: a few epochs of one candidate, scored by top-1 on the held-out split.

MnasNet trained each sampled model for 5 epochs on ImageNet with 50K training images held out,
and used that accuracy in its reward. `train_proxy` does the same at any scale: the model is
`search_space.build_model(arch, data.num_classes)` fed images at ``cfg.resolution`` (the proxy
size, usually smaller than the architecture's own). Reward FLOPs are *not* measured here: they
belong to the deployed network at the architecture's own resolution (see `objectives.reward`).

Failure is a result, not an exception: a NaN/inf loss, or a loss that explodes past
``DIVERGED_LOSS_FACTOR * ln(num_classes)``, ends the trial with ``status="diverged"``, the reason,
and the accuracy of the last completed epoch (0.0 if none).

The recipe, runtime, optimizer step, BN recalibration and evaluation are the training core's
(`objectives.training`); this module holds the epoch loop with its divergence checks. The loss
is read back only every `CHECK_EVERY` steps so the GPU never waits on it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from objectives.data import ProxyData, Split, load_dataset
from objectives.training import (
    ProxyConfig,
    Runtime,
    batches,
    evaluate,
    lr_at,
    make_optimizer,
    make_runtime,
    recalibrate_bn,
    rng_devices,
    steps_per_epoch,
    torch_threads,
    train_step,
    trained_arch,
)
from search_space import Arch, build_model

CHECK_EVERY = 20           # steps between loss read-backs (divergence check, progress)
DIVERGED_LOSS_FACTOR = 25  # a window's mean loss above 25 x ln(classes) counts as diverged

EpochCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class ProxyResult:
    """What a proxy-training run measured.

    Attributes:
        accuracy: top-1 in [0, 1] on the held-out split (last completed epoch; 0.0 if none).
        status: ``ok`` or ``diverged``.
        reason: why it diverged; empty when ok.
        epochs: epochs completed.
        train_seconds: wall time of training and evaluation (data loading excluded).
        history: one dict per completed epoch (epoch, accuracy, loss, seconds, lr,
            images_per_second).
        resolution: the proxy resolution trained at.
        device: where it ran.
    """

    accuracy: float
    status: str
    reason: str
    epochs: int
    train_seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)
    resolution: int = 0
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Diverged(Exception):
    """Raised inside the loop only; `train_proxy` turns it into a result."""


@dataclass
class _Loop:
    """The mutable state of one run: model, optimizer, loss and step counter."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: nn.Module
    rt: Runtime
    cfg: ProxyConfig
    steps_per_epoch: int
    loss_limit: float
    step: int = 0

    def train_step(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        def loss() -> torch.Tensor:
            return self.loss_fn(self.model(self.rt.prepare(images)),
                                labels.to(self.rt.device, non_blocking=True))

        lr = lr_at(self.cfg, self.step, self.steps_per_epoch)
        detached = train_step(self.optimizer, lr, self.rt, loss, self.cfg.clip_grad,
                              self.model.parameters())
        self.step += 1
        return detached

    def check(self, window: torch.Tensor, count: int, epoch: int) -> float:
        """Mean loss of the last `count` steps; raises Diverged on NaN/inf or a blow-up."""
        mean = window.item() / count
        if not math.isfinite(mean) or mean > self.loss_limit:
            what = ("non-finite" if not math.isfinite(mean)
                    else f"exploding (> {self.loss_limit:.3g})")
            raise Diverged(f"{what} training loss {mean:.4g} in epoch {epoch}, "
                           f"step {self.step}")
        return mean


def _train_epoch(loop: _Loop, train: Split, epoch: int, gen: torch.Generator,
                 on_step: EpochCallback | None) -> tuple[float, int]:
    """One epoch; returns (mean training loss, images trained on)."""
    window = torch.zeros((), device=loop.rt.device)
    total, checked, steps, images_seen = 0.0, 0, 0, 0
    for images, labels in batches(train, loop.cfg.batch_size, shuffle=True, generator=gen,
                                  num_workers=loop.cfg.num_workers):
        window += loop.train_step(images, labels)
        steps, images_seen = steps + 1, images_seen + len(labels)
        if steps % CHECK_EVERY == 0 or steps == loop.steps_per_epoch:
            total += loop.check(window, steps - checked, epoch) * (steps - checked)
            checked = steps
            window.zero_()
            if on_step:
                on_step(dict(epoch=epoch, step=steps, steps=loop.steps_per_epoch,
                             loss=total / steps))
    return total / steps, images_seen


def _build(arch: Arch, num_classes: int, cfg: ProxyConfig, rt: Runtime,
           train: Split) -> _Loop:
    model = build_model(trained_arch(arch, cfg), num_classes)
    model = model.to(rt.device, memory_format=rt.memory_format).train()
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    return _Loop(model, make_optimizer(model, cfg), loss_fn, rt, cfg,
                 steps_per_epoch(train, cfg.batch_size),
                 DIVERGED_LOSS_FACTOR * math.log(max(2, num_classes)))


def _run_epochs(loop: _Loop, data: ProxyData, history: list[dict[str, Any]],
                on_epoch: EpochCallback | None, on_step: EpochCallback | None) -> None:
    """Train and evaluate epoch by epoch, appending to `history` (kept if a later one diverges)."""
    train, val = data.on(loop.rt.device)
    gen = torch.Generator().manual_seed(loop.cfg.seed)
    for epoch in range(1, loop.cfg.epochs + 1):
        start = time.perf_counter()
        loss, images = _train_epoch(loop, train, epoch, gen, on_step)
        trained = time.perf_counter() - start
        workers = loop.cfg.num_workers
        recalibrate_bn(loop.model, train, loop.rt, loop.cfg.bn_calibration, num_workers=workers)
        accuracy = evaluate(loop.model, val, loop.rt, num_workers=workers)
        history.append(dict(epoch=epoch, accuracy=accuracy, loss=loss,
                            seconds=time.perf_counter() - start,
                            lr=lr_at(loop.cfg, loop.step - 1, loop.steps_per_epoch),
                            images_per_second=images / trained))
        if on_epoch:
            on_epoch(dict(history[-1]))


@dataclass(frozen=True)
class _Hooks:
    """What `train_proxy` reports to its caller."""

    on_epoch: EpochCallback | None = None
    on_step: EpochCallback | None = None
    on_trained: Callable[[nn.Module], None] | None = None


def train_proxy(arch: Arch, cfg: ProxyConfig, data: ProxyData | None = None,
                on_epoch: EpochCallback | None = None,
                on_step: EpochCallback | None = None,
                on_trained: Callable[[nn.Module], None] | None = None) -> ProxyResult:
    """Proxy-train `arch` and measure top-1 on the held-out split.

    Args:
        arch: the candidate block table (its own resolution is ignored: ``cfg.resolution``
            is used).
        cfg: the training recipe.
        data: a loaded dataset (default: ``load_dataset(cfg)``, cached per process).
        on_epoch: called after each epoch with dict(epoch, accuracy, loss, seconds, lr,
            images_per_second).
        on_step: progress, called every `CHECK_EVERY` steps with dict(epoch, step, steps, loss).
        on_trained: called once with the trained model (BN statistics as evaluated), e.g. to
            save its weights; not called when training diverged.

    Returns:
        A `ProxyResult`; a diverged run returns ``status="diverged"`` instead of raising.

    Example:
        >>> from objectives import ProxyConfig, train_proxy
        >>> from search_space import preset
        >>> result = train_proxy(preset("efficientnet-b0"), ProxyConfig(epochs=1))
    """
    data = load_dataset(cfg.data) if data is None else data
    rt = make_runtime(cfg)
    history: list[dict[str, Any]] = []
    hooks = _Hooks(on_epoch, on_step, on_trained)
    status, reason, seconds = _train(arch, cfg, data, rt, history, hooks)
    return ProxyResult(history[-1]["accuracy"] if history else 0.0, status, reason,
                       len(history), seconds, history, cfg.resolution, str(rt.device))


def _train(arch: Arch, cfg: ProxyConfig, data: ProxyData, rt: Runtime,
           history: list[dict[str, Any]], hooks: _Hooks) -> tuple[str, str, float]:
    """Seeded, in its own RNG state and thread count: (status, reason, seconds trained)."""
    start = time.perf_counter()
    status, reason = "ok", ""
    with torch_threads(cfg.threads), torch.random.fork_rng(devices=rng_devices(rt.device)):
        torch.manual_seed(cfg.seed)
        loop = _build(arch, data.num_classes, cfg, rt, data.train)
        try:
            _run_epochs(loop, data, history, hooks.on_epoch, hooks.on_step)
        except Diverged as err:
            status, reason = "diverged", str(err)
        seconds = time.perf_counter() - start  # saving the weights is not training
        if hooks.on_trained and status == "ok":
            hooks.on_trained(loop.model)
    return status, reason, seconds
