"""The training recipe every trainer here follows: `ProxyConfig`, its schedule and optimizer.

Proxy training, supernet training and supernet scoring all read one `ProxyConfig`: the data it
names (`ProxyConfig.data`), the learning-rate schedule (`lr_at`), the optimizer
(`make_optimizer`) and the regularisation overrides (`trained_arch`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import nn

from objectives.data import DataSpec
from objectives.data.splits import check_val_size
from search_space import Arch
from search_space.arch import MAX_RESOLUTION
from search_space.errors import SpecError
from search_space.validators import choice, fraction, integer, number, positive

OPTIMIZERS = ("sgd", "rmsprop", "adamw")
SCHEDULES = ("cosine", "exponential")
MAX_BATCH = 1 << 14  # beyond any one process's memory at proxy resolutions
MAX_EPOCHS = 10_000  # ImageNet recipes train 350-600; more is a typo that trains for ever
MAX_SEEDS = 16  # averaged trainings per trial: beyond this, confirm the top candidates instead


@dataclass(frozen=True)
class ProxyConfig:
    """How to proxy-train one candidate. Plain data: it pickles to Ray workers.

    Args:
        dataset: ``synthetic`` or a path (CIFAR-10 python batches, ImageFolder tree).
        epochs: training epochs.
        resolution: proxy input side in pixels (images are resized to it).
        batch_size: training batch size.
        lr: peak learning rate.
        optimizer: ``sgd`` (Nesterov momentum), ``rmsprop`` (TF-style: decay 0.9, eps 1e-3) or
            ``adamw`` (decoupled weight decay; `momentum` is its beta1).
        momentum: momentum of the optimizer.
        schedule: after warm-up, ``cosine`` to zero or ``exponential`` (x decay_rate every
            decay_epochs, the EfficientNet recipe).
        warmup_epochs: linear warm-up length (may be fractional).
        decay_rate: exponential schedule factor.
        decay_epochs: exponential schedule period in epochs.
        label_smoothing: cross-entropy label smoothing.
        weight_decay: on conv and linear weights (not BN, not biases): L2 for sgd and
            rmsprop, decoupled (times lr) for adamw.
        clip_grad: clip the gradients' global L2 norm to this before each step (None = off).
        dropout: the classifier's dropout while proxy-training (None = the arch's own).
        drop_path: stochastic depth while proxy-training (None = the arch's own).
        train_size: training images to use (None = all left after the val split).
        val_size: held-out images carved from the training data: a count or a fraction.
        threads: torch CPU threads during the trial (None = leave as is).
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
        seed: model init, batch order, dropout.
        seeds: trainings per search trial, with seeds `seed` .. `seed + seeds - 1`; the trial
            reports their mean accuracy (and its std). 1 = one training, as usual. Used by
            the search's trial function; `train_proxy` itself trains once, with `seed`.
        data_seed: synthetic images and the train/val split; kept apart from `seed` so trials
            with different seeds share one cached dataset and one val split.
        num_workers: data-loading workers (decoding threads / DataLoader workers).
        bn_calibration: training images whose exact BatchNorm statistics replace the running
            averages before each evaluation (0 = keep the running averages); see
            `recalibrate_bn`.
        channels_last: None = on (GPU, and CPU too: oneDNN trains these nets 1.3-2x faster
            in channels_last on this project's CPUs, see benchmarks/proxy_throughput.py).
        bf16: bf16 autocast; None = on for CUDA only.
        resize_cache: let a ``prepare-data`` cache made at another resolution be resized on
            load (antialiased bilinear from the cached pixels: close to, not the same as,
            decoding at this resolution); false = such a cache is refused.
    """

    dataset: str = "synthetic"
    epochs: int = 1
    resolution: int = 32
    batch_size: int = 32
    lr: float = 0.01  # 0.05 kept sampled nets' loss above ln(classes) for epochs (docs: findings)
    optimizer: str = "sgd"
    momentum: float = 0.9
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    decay_rate: float = 0.97
    decay_epochs: float = 2.4
    label_smoothing: float = 0.0
    weight_decay: float = 1e-5
    clip_grad: float | None = None
    dropout: float | None = None
    drop_path: float | None = None
    train_size: int | None = None
    val_size: int | float = 0.2
    threads: int | None = None
    device: str = "auto"
    seed: int = 0
    data_seed: int = 0
    num_workers: int = 0
    bn_calibration: int = 512
    channels_last: bool | None = None
    bf16: bool | None = None
    resize_cache: bool = False
    seeds: int = 1  # trainings averaged per trial (proxy.seeds)

    def __post_init__(self) -> None:
        integer("epochs", self.epochs, 1, MAX_EPOCHS)
        integer("resolution", self.resolution, 8, MAX_RESOLUTION)
        integer("batch_size", self.batch_size, 1, MAX_BATCH)
        integer("seeds", self.seeds, 1, MAX_SEEDS)
        for name in ("seed", "data_seed", "num_workers", "bn_calibration"):
            integer(name, getattr(self, name), 0)
        for name in ("train_size", "threads"):
            if getattr(self, name) is not None:
                integer(name, getattr(self, name), 1)
        check_val_size("val_size", self.val_size)
        positive("lr", self.lr)
        fraction("momentum", self.momentum)
        number("warmup_epochs", self.warmup_epochs, 0.0, self.epochs, high_open=True)
        number("decay_rate", self.decay_rate, 0.0, 1.0, low_open=True)
        positive("decay_epochs", self.decay_epochs)
        fraction("label_smoothing", self.label_smoothing)
        number("weight_decay", self.weight_decay, 0.0)
        if self.clip_grad is not None:
            positive("clip_grad", self.clip_grad)
        for name in ("dropout", "drop_path"):
            if getattr(self, name) is not None:
                fraction(name, getattr(self, name))
        choice("optimizer", self.optimizer, OPTIMIZERS)
        choice("schedule", self.schedule, SCHEDULES)
        if not isinstance(self.dataset, str) or not self.dataset:
            raise SpecError("dataset", self.dataset, "must be 'synthetic' or a path")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise SpecError("device", self.device, "must be auto, cpu, cuda or cuda:N")
        if self.resize_cache not in (True, False):
            raise SpecError("resize_cache", self.resize_cache, "must be true or false")
        for name in ("channels_last", "bf16"):
            if getattr(self, name) not in (None, True, False):
                raise SpecError(name, getattr(self, name), "must be true, false or null")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def data(self) -> DataSpec:
        """The images this recipe trains on (what `load_dataset` reads)."""
        return DataSpec(self.dataset, self.resolution, self.train_size, self.val_size,
                        self.data_seed, self.num_workers, self.resize_cache)


def lr_at(cfg: ProxyConfig, step: int, steps_per_epoch: int) -> float:
    """Learning rate of global step `step`: linear warm-up, then cosine or exponential decay."""
    epoch = step / steps_per_epoch
    if epoch < cfg.warmup_epochs:
        return cfg.lr * (step + 1) / (cfg.warmup_epochs * steps_per_epoch)
    if cfg.schedule == "exponential":
        return cfg.lr * cfg.decay_rate ** (epoch / cfg.decay_epochs)
    progress = (epoch - cfg.warmup_epochs) / (cfg.epochs - cfg.warmup_epochs)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, cfg: ProxyConfig) -> torch.optim.Optimizer:
    """SGD (Nesterov), TF-style RMSProp or AdamW; weight decay only on conv/linear weights."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=cfg.lr, alpha=0.9, eps=1e-3, momentum=cfg.momentum)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.momentum, 0.999))
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum,
                           nesterov=cfg.momentum > 0)


def trained_arch(arch: Arch, cfg: ProxyConfig) -> Arch:
    """`arch` with the recipe's regularisation overrides (`dropout`, `drop_path`) applied."""
    changes = {k: getattr(cfg, k) for k in ("dropout", "drop_path") if getattr(cfg, k) is not None}
    return replace(arch, **changes) if changes else arch
