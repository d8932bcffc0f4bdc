"""The one training core: the recipe, its runtime, batches, the optimizer step, exact BatchNorm
statistics and held-out top-1. Proxy training (`objectives.proxy`), supernet training
(`objectives.supernet_training`) and supernet scoring (`objectives.supernet_scoring`) are built
on it, so a candidate is trained and measured the same way wherever it is.
"""

from objectives.training.batches import batches, first_batches, steps_per_epoch
from objectives.training.evaluation import bn_layers, calibrate_bn, evaluate, recalibrate_bn, top1
from objectives.training.recipe import (
    MAX_BATCH,
    OPTIMIZERS,
    SCHEDULES,
    ProxyConfig,
    lr_at,
    make_optimizer,
    trained_arch,
)
from objectives.training.runtime import (
    Runtime,
    make_runtime,
    resolve_device,
    rng_devices,
    torch_threads,
)
from objectives.training.step import train_step

__all__ = [
    "MAX_BATCH",
    "OPTIMIZERS",
    "SCHEDULES",
    "ProxyConfig",
    "Runtime",
    "batches",
    "bn_layers",
    "calibrate_bn",
    "evaluate",
    "first_batches",
    "lr_at",
    "make_optimizer",
    "make_runtime",
    "recalibrate_bn",
    "resolve_device",
    "rng_devices",
    "steps_per_epoch",
    "top1",
    "torch_threads",
    "train_step",
    "trained_arch",
]
