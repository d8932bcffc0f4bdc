"""Proxy training: a few epochs of one candidate, scored by top-1 on the held-out split.

MnasNet trained each sampled model for 5 epochs on ImageNet with 50K training images held out,
and used that accuracy in its reward. `train_proxy` does the same at any scale: the model is
`search_space.build_model(arch, data.num_classes)` fed images at ``cfg.resolution`` (the proxy
size, usually smaller than the architecture's own). Reward FLOPs are *not* measured here: they
belong to the deployed network at the architecture's own resolution (see `objectives.reward`).

Failure is a result, not an exception: a NaN/inf loss, or a loss that explodes past
``DIVERGED_LOSS_FACTOR * ln(num_classes)``, ends the trial with ``status="diverged"``, the reason,
and the accuracy of the last completed epoch (0.0 if none).

The loop uses channels_last by default, on a GPU also bf16 autocast, and keeps in-memory data on
the device; the loss is read back only every `CHECK_EVERY` steps so the GPU never waits on it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch
from torch import nn

from objectives.datasets import DataSpec, ProxyData, Split, TensorSplit, load_dataset
from search_space import Arch, build_model
from search_space.arch import MAX_RESOLUTION
from search_space.errors import SpecError
from search_space.validators import choice, fraction, integer, number, positive

OPTIMIZERS = ("sgd", "rmsprop", "adamw")
SCHEDULES = ("cosine", "exponential")
MAX_BATCH = 1 << 14  # beyond any one process's memory at proxy resolutions
CHECK_EVERY = 20           # steps between loss read-backs (divergence check, progress)
DIVERGED_LOSS_FACTOR = 25  # a window's mean loss above 25 x ln(classes) counts as diverged
# ImageNet channel statistics on the 0..255 scale; fine for any natural-image-like data
MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)

EpochCallback = Callable[[dict[str, Any]], None]


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
    lr: float = 0.01  # 0.05 kept sampled nets' loss above ln(classes) for epochs (README)
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

    def __post_init__(self) -> None:
        integer("epochs", self.epochs, 1)
        integer("resolution", self.resolution, 8, MAX_RESOLUTION)
        integer("batch_size", self.batch_size, 1, MAX_BATCH)
        for name in ("seed", "data_seed", "num_workers", "bn_calibration"):
            integer(name, getattr(self, name), 0)
        for name in ("train_size", "threads"):
            if getattr(self, name) is not None:
                integer(name, getattr(self, name), 1)
        _check_val_size(self.val_size)
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


def _check_val_size(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError("val_size", value, "must be a count (int >= 1) or a fraction in (0, 1)")
    if isinstance(value, int):
        integer("val_size", value, 1)
    else:
        number("val_size", value, 0.0, 1.0, low_open=True, high_open=True)


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


def batches(split: Split, batch_size: int, *, shuffle: bool, generator: torch.Generator | None,
            num_workers: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(images, labels) batches; training drops a ragged last batch (BN needs > 1 sample)."""
    drop_last = shuffle and len(split) >= batch_size
    if not isinstance(split, TensorSplit):
        loader = torch.utils.data.DataLoader(
            split, batch_size, shuffle=shuffle, generator=generator, drop_last=drop_last,
            num_workers=num_workers, pin_memory=torch.cuda.is_available())
        yield from loader
        return
    n = len(split)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    order = order.to(split.labels.device)
    stop = n - n % batch_size if drop_last else n
    for i in range(0, stop, batch_size):
        idx = order[i:i + batch_size]
        yield split.images[idx], split.labels[idx]


def steps_per_epoch(split: Split, batch_size: int) -> int:
    return max(1, len(split) // batch_size)


@torch.no_grad()
def recalibrate_bn(model: nn.Module, split: Split, rt: Runtime, images: int,
                   batch_size: int = 256, num_workers: int = 0) -> None:
    """Recompute BatchNorm statistics with the final weights from `images` training images.

    After a few dozen steps the running averages still mix in statistics of much earlier
    weights, and eval-mode accuracy of a deep net sits at chance even when it has learned;
    NAS proxies commonly recompute them (exact averages, drop-path off) before evaluating.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not images or not norms:
        return
    momenta = [norm.momentum for norm in norms]
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the calibration batches
        norm.train()
    seen = 0
    for batch, _ in batches(split, min(batch_size, images), shuffle=False, generator=None,
                            num_workers=num_workers):
        if len(batch) < 2 or seen >= images:  # train-mode BN needs two samples
            break
        with rt.autocast():
            model(rt.prepare(batch))
        seen += len(batch)
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    model.train()


@torch.inference_mode()
def evaluate(model: nn.Module, split: Split, rt: Runtime, batch_size: int = 256,
             num_workers: int = 0) -> float:
    """Top-1 accuracy in [0, 1] of `model` on `split`."""
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=rt.device)
    for images, labels in batches(split, batch_size, shuffle=False, generator=None,
                                  num_workers=num_workers):
        with rt.autocast():
            logits = model(rt.prepare(images))
        correct += (logits.argmax(1) == labels.to(rt.device)).sum()
    model.train()
    return correct.item() / len(split)


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
        lr = lr_at(self.cfg, self.step, self.steps_per_epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with self.rt.autocast():
            loss = self.loss_fn(self.model(self.rt.prepare(images)),
                                labels.to(self.rt.device, non_blocking=True))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.clip_grad is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip_grad)
        self.optimizer.step()
        self.step += 1
        return loss.detach()

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


@contextmanager
def _threads(n: int | None) -> Iterator[None]:
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def trained_arch(arch: Arch, cfg: ProxyConfig) -> Arch:
    """`arch` with the recipe's regularisation overrides (`dropout`, `drop_path`) applied."""
    changes = {k: getattr(cfg, k) for k in ("dropout", "drop_path") if getattr(cfg, k) is not None}
    return replace(arch, **changes) if changes else arch


def _build(arch: Arch, num_classes: int, cfg: ProxyConfig, rt: Runtime,
           train: Split) -> _Loop:
    model = build_model(trained_arch(arch, cfg), num_classes)
    fmt = torch.channels_last if rt.channels_last else torch.preserve_format
    model = model.to(rt.device, memory_format=fmt).train()
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
    status, reason = "ok", ""
    start = time.perf_counter()
    with _threads(cfg.threads), torch.random.fork_rng(devices=_rng_devices(rt.device)):
        torch.manual_seed(cfg.seed)
        loop = _build(arch, data.num_classes, cfg, rt, data.train)
        try:
            _run_epochs(loop, data, history, on_epoch, on_step)
        except Diverged as err:
            status, reason = "diverged", str(err)
        seconds = time.perf_counter() - start
        if on_trained and status == "ok":
            on_trained(loop.model)
    return ProxyResult(history[-1]["accuracy"] if history else 0.0, status, reason,
                       len(history), seconds, history, cfg.resolution, str(rt.device))


def _rng_devices(device: torch.device) -> list[int]:
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]
