"""Checks against the machine and the data, in the driver, before any trial starts.

What these catch would otherwise fail inside every trial (the search burns its budget and exits
0), never start at all (Ray waits forever for a trial or an actor asking more CPUs or GPUs than
exist), or fail after minutes of work (a latency table that cannot be saved).
"""

from __future__ import annotations

import os

from nas.config import SearchConfig, check_reachable
from objectives import LatencyTable
from search_space.errors import SpecError


def preflight(config: SearchConfig) -> LatencyTable | None:
    """Everything checkable before Ray starts: paths, the cluster address, the tracking store,
    this machine's CPUs and GPUs (no --address), the dataset with its split sizes, and the
    latency table's device, folder and values. Returns the search's latency table (None: the
    cost is FLOPs), read from its cache."""
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
    return latency_table(config)


def latency_table(config: SearchConfig) -> LatencyTable | None:
    """The search's latency table (metric latency), read from its cache; `build_table` fills
    what is missing. A bad setting is named by its full key; a bad table file by its path."""
    if config.objective.metric != "latency":
        return None
    latency = config.objective.latency  # the measuring setup itself
    try:
        return LatencyTable(latency, latency.cache_dir, num_classes=config.objective.num_classes)
    except SpecError as err:
        raise (err if err.source else err.within("objective.latency.")) from None


def check_cluster(config: SearchConfig) -> None:
    """With --address, once connected: the cluster's CPUs and GPUs against one trial's ask."""
    import ray

    totals = ray.cluster_resources()
    check_resources(config, totals.get("CPU", 0), totals.get("GPU", 0),
                    f"the cluster at {config.address}")


def check_resources(config: SearchConfig, cpus: float, gpus: float, where: str) -> None:
    """One trial must fit on `where`, and so must the supernet's actors and training workers
    (each asks one trial's resources), or Ray would keep them pending forever."""
    ask = config.resources
    if ask.cpu > cpus:
        raise SpecError("resources.cpu", ask.cpu, f"more than the {cpus:g} CPUs {where} has: "
                        "no trial could start")
    if ask.gpu > gpus:
        raise SpecError("resources.gpu", ask.gpu, f"more than the {gpus:g} GPUs {where} has: "
                        "no trial could start")
    if config.evaluator != "supernet":
        return
    for name, role in (("actors", "scoring actors"), ("workers", "training workers")):
        count = getattr(config.supernet, name)
        for kind, each, total in (("CPU", ask.cpu, cpus), ("GPU", ask.gpu, gpus)):
            if count * each > total:
                raise SpecError(f"supernet.{name}", count, f"{count} {role} of resources."
                                f"{kind.lower()} {each:g} need {count * each:g} {kind}s; {where} "
                                f"has {total:g}: at most {int(total // each)} could start")
