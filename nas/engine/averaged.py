"""Averaged evaluation (`proxy.seeds: k`): one trial trains its candidate k times, with proxy
seeds ``seed .. seed + k - 1``, and reports the mean accuracy.

On small datasets two seeds of one recipe rank architectures only loosely (Kendall tau
0.55-0.62 on the bundled data, benchmarks/results/fidelity_recipe.md); the mean of three agrees
at 0.74. The trial's row keeps the mean as `accuracy` (so the reward is the reward of the mean)
and adds `accuracy_std` (ddof 1) and `seeds` (trainings run).

The seeds train one after another. Only the last one reports its epochs, each with the epoch's
accuracy averaged over all k, so an ASHA scheduler compares averaged accuracies too. A seed
that diverges (or fails) ends the trial there: an architecture that trains under some seeds
only is not a reliable candidate, and the trial takes that seed's status and reason.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable
from numbers import Real
from typing import Any

from objectives import ProxyConfig
from search_space import Arch

Report = Callable[[dict[str, Any]], None]
Evaluate = Callable[[Arch, ProxyConfig, Report], dict[str, Any]]


def seed_proxies(proxy: ProxyConfig) -> list[ProxyConfig]:
    """One recipe per training: seeds `seed` .. `seed + seeds - 1`, each training once."""
    return [dataclasses.replace(proxy, seed=proxy.seed + i, seeds=1)
            for i in range(proxy.seeds)]


def spread(accuracies: list[float]) -> dict[str, Any]:
    """Mean, std (ddof 1; None below two values or when not finite) and count."""
    mean = statistics.fmean(accuracies)
    std = statistics.stdev(accuracies) if len(accuracies) > 1 else None
    return {"accuracy": mean, "accuracy_std": std if std is not None and math.isfinite(std)
            else None, "seeds": len(accuracies)}


class _SeedReports:
    """The epoch reports of k seeds trained in turn: the earlier seeds' accuracies are kept,
    the last seed's reports go out with each epoch's accuracy averaged over all seeds."""

    def __init__(self, report: Report, seeds: int):
        self.report, self.seeds = report, seeds
        self.earlier: list[dict[Any, float]] = []

    def for_seed(self, i: int) -> Report:
        if i == self.seeds - 1:
            return self._last
        kept: dict[Any, float] = {}
        self.earlier.append(kept)
        return lambda metrics: kept.__setitem__(metrics.get("epoch"), metrics["accuracy"])

    def _last(self, metrics: dict[str, Any]) -> None:
        epoch = metrics.get("epoch")
        accuracies = [kept[epoch] for kept in self.earlier if epoch in kept]
        self.report({**metrics, **spread([*accuracies, metrics["accuracy"]])})


def averaged_evaluate(evaluator: Callable[[int], Evaluate], arch: Arch, proxy: ProxyConfig,
                      report: Report) -> dict[str, Any]:
    """Evaluate `arch` once per seed of `proxy` (``evaluator(i)`` evaluates the i-th) and
    return the trial's final metrics: mean accuracy, `accuracy_std`, `seeds`, the total
    `train_seconds`; a diverged or failed seed stops there and gives the trial its status."""
    reports = _SeedReports(report, proxy.seeds)
    results: list[dict[str, Any]] = []
    for i, cfg in enumerate(seed_proxies(proxy)):
        results.append({"status": "ok", "reason": "", "epochs": 0,
                        **evaluator(i)(arch, cfg, reports.for_seed(i))})
        if results[-1]["status"] != "ok":
            break
    return _combined(results, proxy.seed)


def _combined(results: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """One trial's metrics from its trainings' (all ok but perhaps the last)."""
    last = results[-1]
    final = {**last, "epochs": min(r["epochs"] for r in results)}
    accuracies = [r.get("accuracy") for r in results]
    if all(isinstance(a, Real) for a in accuracies):
        final |= spread([float(a) for a in accuracies])
    else:  # an evaluator gave no accuracy: no mean to report
        final |= {"accuracy": None, "accuracy_std": None, "seeds": len(results)}
    if all("train_seconds" in r for r in results):
        final["train_seconds"] = sum(r["train_seconds"] for r in results)
    if last["status"] != "ok":
        final["reason"] = f"seed {seed + len(results) - 1}: {last['reason']}"
    return final
