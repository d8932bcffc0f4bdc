"""Checks against the machine and the data, in the driver, before any trial starts.

What these catch would otherwise fail inside every trial (the search burns its budget and exits
0) or never start at all (Ray waits forever for a trial asking more CPUs or GPUs than exist).
"""

from __future__ import annotations

import os

from nas.config import SearchConfig, check_reachable
from search_space.errors import SpecError


def preflight(config: SearchConfig) -> None:
    """Everything checkable before Ray starts: paths, the cluster address, this machine's
    CPUs and GPUs (no --address), and the dataset with its split sizes."""
    check_reachable(config)
    if not config.address:
        import torch

        check_resources(config, os.cpu_count() or 1, torch.cuda.device_count(), "this machine")
    if not config.evaluate:  # an evaluator brings its own data
        from objectives import check_dataset

        try:
            check_dataset(config.proxy)
        except SpecError as err:
            raise err.within("proxy.") from None


def check_cluster(config: SearchConfig) -> None:
    """With --address, once connected: the cluster's CPUs and GPUs against one trial's ask."""
    import ray

    totals = ray.cluster_resources()
    check_resources(config, totals.get("CPU", 0), totals.get("GPU", 0),
                    f"the cluster at {config.address}")


def check_resources(config: SearchConfig, cpus: float, gpus: float, where: str) -> None:
    """One trial must fit on `where`, or Ray would keep it pending forever."""
    ask = config.resources
    if ask.cpu > cpus:
        raise SpecError("resources.cpu", ask.cpu, f"more than the {cpus:g} CPUs {where} has: "
                        "no trial could start")
    if ask.gpu > gpus:
        raise SpecError("resources.gpu", ask.gpu, f"more than the {gpus:g} GPUs {where} has: "
                        "no trial could start")
