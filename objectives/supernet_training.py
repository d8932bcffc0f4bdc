"""Supernet training (single-path one-shot): the weights every candidate then inherits.

Training follows SPOS: every step trains one path drawn uniformly from the space (``uniform``),
or, with ``sandwich`` (BigNAS), the largest, the smallest and one random path together. The
recipe (optimizer, schedule, batch size, resolution, data) is the proxy's, `ProxyConfig`, with
`SupernetConfig.epochs` epochs. A checkpoint is written after every epoch (atomically), and a
run that finds one continues after its last epoch: the batch order and the sampled paths are
functions of (seed, epoch, step), so a resumed run trains what an uninterrupted one would.

Scoring a candidate with the trained weights is `objectives.supernet_scoring`. The recipe, the
optimizer step and the runtime are the training core's (`objectives.training`), as for proxy
training.

Data-parallel training needs no Ray here: `Parallel` carries the rank, the world size and a
`wrap` (e.g. Ray Train's `prepare_model`, DDP) that the caller provides.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from objectives.analytic import analytic_flops
from objectives.data import ProxyData, Split, load_dataset
from objectives.training import (
    ProxyConfig,
    Runtime,
    batches,
    lr_at,
    make_optimizer,
    make_runtime,
    steps_per_epoch,
    torch_threads,
    train_step,
)
from objectives.training.recipe import MAX_EPOCHS
from search_space import Arch, SearchSpace, Supernet
from search_space.atomic_file import atomic_write
from search_space.errors import SpecError
from search_space.validators import choice, integer

SAMPLINGS = ("uniform", "sandwich")
ALL_HELD_OUT = 0  # `holdout` meaning every held-out image


@dataclass(frozen=True)
class SupernetConfig:
    """How to train the supernet and score candidates with it. Plain data: pickles to Ray.

    Args:
        epochs: supernet training epochs (the proxy recipe's other settings apply).
        sampling: ``uniform`` (one random path per step, SPOS) or ``sandwich`` (largest +
            smallest + one random path per step).
        calibration: training images whose BN statistics each candidate is scored with.
        holdout: held-out images a candidate's top-1 is measured on (the first ones of the
            split); 0: all. Fewer is cheaper per candidate and noisier.
        batch: candidates scored per call of an evaluation actor.
        actors: long-lived evaluation actors (each holds the supernet and the data).
        workers: data-parallel training workers (> 1: Ray Train, DDP).
        distill: with ``sandwich``, the smaller paths learn the largest path's predictions
            (BigNAS's inplace distillation) instead of the labels; the largest learns the labels.
        retrain_top: old name, kept so old run directories load: K > 0 means
            ``confirm: {top: K, seeds: 1}`` (set ``confirm`` instead); 0: none.
    """

    epochs: int = 4
    sampling: str = "uniform"
    calibration: int = 256
    holdout: int = ALL_HELD_OUT
    batch: int = 16
    actors: int = 1
    workers: int = 1
    distill: bool = False
    retrain_top: int = 0

    def __post_init__(self) -> None:
        integer("retrain_top", self.retrain_top, minimum=0)
        integer("holdout", self.holdout, minimum=0)  # ALL_HELD_OUT: every one
        if not isinstance(self.distill, bool):
            raise SpecError("distill", self.distill, "must be true or false")
        integer("epochs", self.epochs, 1, MAX_EPOCHS)  # the proxy's bound
        for name in ("batch", "actors", "workers"):
            integer(name, getattr(self, name), minimum=1)
        integer("calibration", self.calibration, minimum=2)  # train-mode BN needs 2 images
        choice("sampling", self.sampling, SAMPLINGS)
        if self.distill and self.sampling != "sandwich":  # it would be silently ignored
            raise SpecError("distill", self.distill, "needs sampling: sandwich")


@dataclass(frozen=True)
class Parallel:
    """This process's place in data-parallel training, and how to wrap the model (DDP)."""

    rank: int = 0
    world: int = 1
    wrap: Callable[[nn.Module], nn.Module] = lambda model: model


class _Paths(nn.Module):
    """One forward call for every path of a step, so DDP sees one graph per step; `dropout`
    is the recipe's override of the classifier dropout (None: the skeleton's)."""

    def __init__(self, supernet: Supernet, dropout: float | None = None):
        super().__init__()
        self.supernet, self.dropout = supernet, dropout

    def forward(self, x: torch.Tensor, archs: Sequence[Arch]) -> tuple[torch.Tensor, ...]:
        return tuple(self.supernet(x, arch, self.dropout) for arch in archs)


def extremes(space: SearchSpace) -> tuple[Arch, Arch]:
    """(largest, smallest) path: decision by decision, the choice with most / fewest FLOPs.

    Each decision is judged alone, changing only it in the reference, by analytic FLOPs.
    """
    ref = space.encode(space.reference)
    high, low = list(ref), list(ref)
    for k, card in enumerate(space.cardinalities):
        flops = [analytic_flops(space.decode(ref[:k] + [t] + ref[k + 1:])) for t in range(card)]
        high[k], low[k] = int(np.argmax(flops)), int(np.argmin(flops))
    return space.decode(high), space.decode(low)


def sample_paths(space: SearchSpace, sampling: str, seed: int, step: int,
                 extreme: tuple[Arch, Arch] | None = None) -> list[Arch]:
    """The paths of global step `step`: the same on every worker and after a resume."""
    rng = np.random.default_rng([seed, step])
    if sampling == "uniform":
        return [space.sample(rng)]
    return [*(extreme or extremes(space)), space.sample(rng)]


def save_checkpoint(path: Path, supernet: Supernet, optimizer: torch.optim.Optimizer,
                    epoch: int, history: list[dict[str, Any]]) -> None:
    """Write atomically: a kill during the write leaves the previous epoch's checkpoint."""
    state = {"supernet": supernet.state_dict(), "optimizer": optimizer.state_dict(),
             "epoch": epoch, "space": supernet.space.name,
             "num_classes": supernet.num_classes, "history": history}
    atomic_write(path, lambda tmp: torch.save(state, tmp), fsync=True)


CHECKPOINT_KEYS = ("supernet", "optimizer", "epoch", "space", "num_classes", "history")


def load_checkpoint(path: Path, space: SearchSpace | None = None) -> dict[str, Any]:
    """Tensors and plain data only (`weights_only`): nothing in the file runs code. With
    `space`, the checkpoint must have been trained on it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's message advises unsafe loading: not ours
        raise SpecError("supernet checkpoint", str(path), "untrusted or damaged: it holds "
                        "more than plain data, which is never unpickled") from None
    except Exception as err:  # a truncated or foreign file
        raise SpecError("supernet checkpoint", str(path),
                        f"cannot be read ({type(err).__name__})") from None
    if not isinstance(state, dict) or any(key not in state for key in CHECKPOINT_KEYS):
        raise SpecError("supernet checkpoint", str(path), "not a supernet this program saved")
    try:
        _check_fields(state)
    except SpecError as err:
        raise err.with_source(str(path)) from None
    if space is not None and state["space"] != space.name:
        raise SpecError("supernet checkpoint", str(path),
                        f"was trained on space {state['space']}, not {space.name}")
    return state


def _check_fields(state: dict[str, Any]) -> None:
    """The plain data a checkpoint's readers use (a resume counts on `epoch`)."""
    integer("epoch", state["epoch"], minimum=0)
    integer("num_classes", state["num_classes"], minimum=1)
    if not isinstance(state["space"], str):
        raise SpecError("space", state["space"], "must be a space's name")
    if not isinstance(state["history"], list):
        raise SpecError("history", state["history"], "must be a list of epochs")
    for key in ("supernet", "optimizer"):
        if not isinstance(state[key], dict):
            raise SpecError(key, type(state[key]).__name__, "must be a state dict")


def train_supernet(space: SearchSpace, proxy: ProxyConfig, cfg: SupernetConfig,
                   checkpoint: Path | None = None, data: ProxyData | None = None,
                   parallel: Parallel = Parallel(),
                   on_epoch: Callable[[dict[str, Any]], None] | None = None) -> Supernet:
    """Train a `Supernet` over `space` (or continue one from `checkpoint`) and return it.

    Args:
        space: the search space.
        proxy: the training recipe and data (its `epochs` is replaced by ``cfg.epochs``; its
            `dropout` override reaches every path, `drop_path` none: paths run without it).
        cfg: supernet settings.
        checkpoint: file written after every epoch by rank 0; if it exists, training resumes
            after its last epoch.
        data: a loaded dataset (default: ``load_dataset(proxy)``).
        parallel: rank, world size and model wrapper for data-parallel training.
        on_epoch: called after each epoch with dict(epoch, loss, seconds, lr).
    """
    warmup = proxy.warmup_epochs if proxy.warmup_epochs < cfg.epochs else 0.0
    recipe = dataclasses.replace(proxy, epochs=cfg.epochs, warmup_epochs=warmup)
    with torch_threads(recipe.threads):
        return _train(space, recipe, cfg, checkpoint, data, parallel, on_epoch)


@dataclass
class _Fit:
    """What every step of one supernet training uses."""

    space: SearchSpace
    recipe: ProxyConfig
    cfg: SupernetConfig
    rt: Runtime
    supernet: Supernet
    optimizer: torch.optim.Optimizer
    model: nn.Module  # the paths, wrapped for data-parallel training
    parallel: Parallel
    steps: int
    loss_fn: nn.Module
    extreme: tuple[Arch, Arch] | None


def _train(space: SearchSpace, recipe: ProxyConfig, cfg: SupernetConfig,
           checkpoint: Path | None, data: ProxyData | None, parallel: Parallel,
           on_epoch: Callable[[dict[str, Any]], None] | None) -> Supernet:
    data = load_dataset(recipe) if data is None else data
    rt = make_runtime(recipe)
    torch.manual_seed(recipe.seed)
    supernet = Supernet(space, data.num_classes)
    supernet = supernet.to(rt.device, memory_format=rt.memory_format).train()
    optimizer = make_optimizer(supernet, recipe)
    start, history = _resume(checkpoint, space, supernet, optimizer)
    model = parallel.wrap(_Paths(supernet, recipe.dropout))
    train, _ = data.on(rt.device)
    fit = _Fit(space, recipe, cfg, rt, supernet, optimizer, model, parallel,
               steps_per_epoch(train, recipe.batch_size),
               nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing),
               extremes(space) if cfg.sampling == "sandwich" else None)
    for epoch in range(start + 1, cfg.epochs + 1):
        history.append(_epoch(fit, train, epoch))
        if checkpoint is not None and parallel.rank == 0:
            save_checkpoint(checkpoint, supernet, optimizer, epoch, history)
        if on_epoch:
            on_epoch(dict(history[-1]))
    supernet.history = history
    return supernet.eval()


def _resume(checkpoint: Path | None, space: SearchSpace, supernet: Supernet,
            optimizer: torch.optim.Optimizer) -> tuple[int, list[dict[str, Any]]]:
    """(epochs done, their history): restored from `checkpoint` when it exists."""
    if checkpoint is None or not checkpoint.is_file():
        return 0, []
    state = load_checkpoint(checkpoint, space)
    supernet.load_state_dict(state["supernet"])
    optimizer.load_state_dict(state["optimizer"])
    return state["epoch"], list(state["history"])


def _epoch(fit: _Fit, train: Split, epoch: int) -> dict[str, Any]:
    """Train one epoch; its history entry: epoch, loss (mean per path), seconds, lr."""
    begin = time.perf_counter()
    seed = fit.recipe.seed * 100_003 + epoch  # batch order and dropout: resumable exactly
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    for i, (images, labels) in enumerate(batches(train, fit.recipe.batch_size, shuffle=True,
                                                 generator=gen)):
        total += _step(fit, (epoch - 1) * fit.steps + i, images, labels)
    mean = total / fit.steps
    if not math.isfinite(mean):
        raise FloatingPointError(f"supernet training loss {mean} in epoch {epoch}")
    return dict(epoch=epoch, loss=mean, seconds=time.perf_counter() - begin,
                lr=lr_at(fit.recipe, epoch * fit.steps - 1, fit.steps))


def _step(fit: _Fit, step: int, images: torch.Tensor, labels: torch.Tensor) -> float:
    """One optimizer step over the paths of global step `step`; their mean loss."""
    archs = sample_paths(fit.space, fit.cfg.sampling, fit.recipe.seed, step, fit.extreme)
    rank, world = fit.parallel.rank, fit.parallel.world
    x = fit.rt.prepare(images[rank::world])
    y = labels[rank::world].to(fit.rt.device)
    clip = fit.recipe.clip_grad
    if clip is not None:  # the recipe's bound, per path: the loss sums them
        clip *= len(archs)

    def loss() -> torch.Tensor:
        return _step_loss(fit.model(x, archs), y, fit.loss_fn, fit.cfg)

    lr = lr_at(fit.recipe, step, fit.steps)
    detached = train_step(fit.optimizer, lr, fit.rt, loss, clip, fit.supernet.parameters())
    return detached.item() / len(archs)


def _step_loss(outputs: Sequence[torch.Tensor], labels: torch.Tensor, loss_fn: nn.Module,
               cfg: SupernetConfig) -> torch.Tensor:
    """Summed over the step's paths (one optimizer step for all). With sandwich + distill the
    largest path (first) teaches the others its soft predictions: BigNAS's inplace distillation,
    which keeps the many rarely trained paths from fitting labels against each other."""
    if cfg.sampling != "sandwich" or not cfg.distill:
        return sum(loss_fn(logits, labels) for logits in outputs)
    teacher = outputs[0].detach().float().softmax(1)
    return loss_fn(outputs[0], labels) + sum(nn.functional.cross_entropy(logits.float(), teacher)
                                             for logits in outputs[1:])


def load_supernet(space: SearchSpace, checkpoint: Path) -> Supernet:
    """The supernet saved in `checkpoint` (the space must be the one it was trained on)."""
    state = load_checkpoint(checkpoint, space)
    supernet = Supernet(space, state["num_classes"])
    supernet.load_state_dict(state["supernet"])
    supernet.history = list(state["history"])
    return supernet.eval()
