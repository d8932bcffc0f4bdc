"""Supernet training (single-path one-shot) and scoring candidates with inherited weights.

Training follows SPOS: every step trains one path drawn uniformly from the space (``uniform``),
or, with ``sandwich`` (BigNAS), the largest, the smallest and one random path together. The
recipe (optimizer, schedule, batch size, resolution, data) is the proxy's, `ProxyConfig`, with
`SupernetConfig.epochs` epochs. A checkpoint is written after every epoch (atomically), and a
run that finds one continues after its last epoch: the batch order and the sampled paths are
functions of (seed, epoch, step), so a resumed run trains what an uninterrupted one would.

Scoring a candidate: `Supernet.subnet(arch)` inherits the weights, its BatchNorm statistics are
recomputed on `SupernetConfig.calibration` training images (paths share BN layers, so the shared
running averages fit no single path), and its top-1 on the held-out split is the score.

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
from objectives.datasets import ProxyData, load_dataset
from objectives.proxy import (
    ProxyConfig,
    _threads,
    batches,
    lr_at,
    make_optimizer,
    make_runtime,
    steps_per_epoch,
)
from search_space import Arch, SearchSpace, Supernet
from search_space.atomic_file import atomic_write
from search_space.errors import SpecError
from search_space.validators import choice, integer

SAMPLINGS = ("uniform", "sandwich")


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
        retrain_top: after scoring, proxy-train the K best scored candidates standalone (rows
            with ``evaluator: proxy``, beyond the budget); 0: none.
    """

    epochs: int = 4
    sampling: str = "uniform"
    calibration: int = 256
    holdout: int = 0
    batch: int = 16
    actors: int = 1
    workers: int = 1
    distill: bool = False
    retrain_top: int = 0

    def __post_init__(self) -> None:
        integer("retrain_top", self.retrain_top, minimum=0)
        integer("holdout", self.holdout, minimum=0)  # 0: every held-out image
        if not isinstance(self.distill, bool):
            raise SpecError("distill", self.distill, "must be true or false")
        for name in ("epochs", "batch", "actors", "workers"):
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
    if space is not None and state["space"] != space.name:
        raise SpecError("supernet checkpoint", str(path),
                        f"was trained on space {state['space']}, not {space.name}")
    return state


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
    with _threads(recipe.threads):
        return _train(space, recipe, cfg, checkpoint, data, parallel, on_epoch)


def _train(space: SearchSpace, recipe: ProxyConfig, cfg: SupernetConfig,
           checkpoint: Path | None, data: ProxyData | None, parallel: Parallel,
           on_epoch: Callable[[dict[str, Any]], None] | None) -> Supernet:
    data = load_dataset(recipe) if data is None else data
    rt = make_runtime(recipe)
    torch.manual_seed(recipe.seed)
    supernet = Supernet(space, data.num_classes)
    fmt = torch.channels_last if rt.channels_last else torch.preserve_format
    supernet = supernet.to(rt.device, memory_format=fmt).train()
    optimizer = make_optimizer(supernet, recipe)
    start, history = 0, []
    if checkpoint is not None and checkpoint.is_file():
        state = load_checkpoint(checkpoint, space)
        supernet.load_state_dict(state["supernet"])
        optimizer.load_state_dict(state["optimizer"])
        start, history = state["epoch"], list(state["history"])
    model = parallel.wrap(_Paths(supernet, recipe.dropout))
    train, _ = data.on(rt.device)
    steps = steps_per_epoch(train, recipe.batch_size)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    extreme = extremes(space) if cfg.sampling == "sandwich" else None
    for epoch in range(start + 1, cfg.epochs + 1):
        begin = time.perf_counter()
        seed = recipe.seed * 100_003 + epoch  # batch order and dropout: resumable exactly
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        total = 0.0
        for i, (images, labels) in enumerate(batches(train, recipe.batch_size, shuffle=True,
                                                     generator=gen)):
            step = (epoch - 1) * steps + i
            for group in optimizer.param_groups:
                group["lr"] = lr_at(recipe, step, steps)
            archs = sample_paths(space, cfg.sampling, recipe.seed, step, extreme)
            x = rt.prepare(images[parallel.rank::parallel.world])
            y = labels[parallel.rank::parallel.world].to(rt.device)
            with rt.autocast():
                loss = _step_loss(model(x, archs), y, loss_fn, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if recipe.clip_grad is not None:  # the recipe's bound, per path: the loss sums them
                nn.utils.clip_grad_norm_(supernet.parameters(), recipe.clip_grad * len(archs))
            optimizer.step()
            total += loss.item() / len(archs)
        mean = total / steps
        if not math.isfinite(mean):
            raise FloatingPointError(f"supernet training loss {mean} in epoch {epoch}")
        history.append(dict(epoch=epoch, loss=mean, seconds=time.perf_counter() - begin,
                            lr=lr_at(recipe, epoch * steps - 1, steps)))
        if checkpoint is not None and parallel.rank == 0:
            save_checkpoint(checkpoint, supernet, optimizer, epoch, history)
        if on_epoch:
            on_epoch(dict(history[-1]))
    supernet.history = history
    return supernet.eval()


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


def score_candidates(supernet: Supernet, archs: Sequence[Arch], proxy: ProxyConfig,
                     cfg: SupernetConfig, data: ProxyData | None = None) -> list[dict[str, Any]]:
    """Score each candidate with inherited weights: BN recalibration, then held-out top-1.

    The path runs inside the supernet (no standalone copy is built; `Supernet.subnet` would give
    the same outputs). The calibration images and the held-out split are prepared once as
    tensors. The supernet's own BN statistics are restored afterwards.

    Returns one dict per candidate: accuracy, seconds (this candidate's own wall time).
    """
    data = load_dataset(proxy) if data is None else data
    rt = make_runtime(proxy)
    train, val = data.on(rt.device)
    supernet = supernet.to(rt.device)
    calibration = _prepared(train, rt, cfg.calibration)
    held_out, seen = [], 0
    for images, labels in batches(val, 256, shuffle=False, generator=None):
        keep = len(labels) if not cfg.holdout else min(len(labels), cfg.holdout - seen)
        held_out.append((rt.prepare(images[:keep]), labels[:keep].to(rt.device)))
        seen += keep
        if cfg.holdout and seen >= cfg.holdout:
            break
    norms = [m for m in supernet.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, {k: v.clone() for k, v in m.state_dict().items()}) for m in norms]
    scores = []
    try:
        for arch in archs:
            begin = time.perf_counter()
            accuracy = _score_path(supernet, arch, calibration, held_out, norms, rt)
            scores.append(dict(accuracy=accuracy, seconds=time.perf_counter() - begin))
    finally:
        for m, (momentum, state) in zip(norms, saved, strict=True):
            m.load_state_dict(state)
            m.momentum = momentum
        supernet.eval()
    return scores


def _prepared(split, rt, images: int) -> torch.Tensor:
    """The first `images` training images, normalised on the device, as one batch."""
    chunks, seen = [], 0
    for batch, _ in batches(split, min(256, images), shuffle=False, generator=None):
        chunks.append(batch[:images - seen])
        seen += len(chunks[-1])
        if seen >= images:
            break
    return rt.prepare(torch.cat(chunks))


@torch.inference_mode()
def _score_path(supernet: Supernet, arch: Arch, calibration: torch.Tensor,
                held_out: list[tuple[torch.Tensor, torch.Tensor]], norms: list[nn.Module],
                rt) -> float:
    """Held-out top-1 of `arch`'s path after recomputing its BN statistics exactly.

    One train-mode pass over the whole calibration batch with cumulative averaging (momentum
    None) sets every BN the path uses to that batch's statistics; dropout stays off.
    """
    supernet.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    with rt.autocast():
        supernet(calibration, arch)
    supernet.eval()
    correct, total = 0, 0
    for images, labels in held_out:
        with rt.autocast():
            correct += int((supernet(images, arch).argmax(1) == labels).sum())
        total += len(labels)
    return correct / total
