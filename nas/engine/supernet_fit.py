"""Train a run's supernet: in this process, or data-parallel on Ray Train (DDP) for workers > 1.

The loop itself is `objectives.train_supernet`; this module only supplies the Ray Train glue:
each worker trains on its slice of every batch, DDP averages the gradients (gloo on CPU, NCCL on
GPUs), and rank 0 writes the per-epoch checkpoint that a resumed run continues from. A path
leaves most of the supernet unused, hence ``find_unused_parameters``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from objectives import ProxyConfig, SupernetConfig, load_supernet, train_supernet
from objectives.supernet_training import Parallel
from search_space import SearchSpace, Supernet


def fit_supernet(space: SearchSpace, proxy: ProxyConfig, cfg: SupernetConfig,
                 checkpoint: Path, resources: tuple[float, float] = (1.0, 0.0),
                 storage: Path | None = None, on_epoch=None) -> Supernet:
    """Train (or finish training) the supernet saved at `checkpoint` and return it.

    Args:
        space: the search space.
        proxy: training recipe and data.
        cfg: supernet settings; ``cfg.workers > 1`` trains on Ray Train.
        checkpoint: the per-epoch checkpoint file (resumed from when it exists).
        resources: (CPUs, GPUs) per training worker.
        storage: Ray Train's own storage folder (default: beside the checkpoint).
        on_epoch: progress callback (in-process training only).
    """
    if cfg.workers == 1:
        return train_supernet(space, proxy, cfg, checkpoint, on_epoch=on_epoch)
    _fit_ray_train(space, proxy, cfg, checkpoint, resources,
                   storage or checkpoint.parent / "ray-train")
    return load_supernet(space, checkpoint)


def _worker_loop(config: dict[str, Any]) -> None:
    import ray.train
    from ray.train.torch import prepare_model

    context = ray.train.get_context()

    def wrap(model):
        return prepare_model(model, parallel_strategy_kwargs={"find_unused_parameters": True})

    parallel = Parallel(context.get_world_rank(), context.get_world_size(), wrap)
    train_supernet(config["space"], config["proxy"], config["cfg"], Path(config["checkpoint"]),
                   parallel=parallel)


def _fit_ray_train(space: SearchSpace, proxy: ProxyConfig, cfg: SupernetConfig,
                   checkpoint: Path, resources: tuple[float, float], storage: Path) -> None:
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    cpu, gpu = resources
    per_worker = {"CPU": cpu, **({"GPU": gpu} if gpu else {})}
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config={"space": space, "proxy": proxy, "cfg": cfg,
                           "checkpoint": str(checkpoint.resolve())},
        torch_config=TorchConfig(backend="nccl" if gpu else "gloo"),
        scaling_config=ScalingConfig(num_workers=cfg.workers, use_gpu=bool(gpu),
                                     resources_per_worker=per_worker),
        run_config=RunConfig(name="supernet", storage_path=str(storage.resolve())),
    )
    trainer.fit()
