"""The Ray Tune trial: block table -> FLOPs and params -> training or supernet score -> metrics.

It runs in a Ray worker. Every report is self-contained (accuracy, FLOPs, params, reward so far);
the last one carries the final `status`. An exception inside the trial ends it as `failed` with
the reason recorded, so one broken candidate never stops a search.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.config import ObjectiveConfig
from nas.engine.averaged import Evaluate, Report, averaged_evaluate
from objectives import ProxyConfig, analytic_counts
from search_space import Arch
from search_space.errors import SpecError


@dataclass(frozen=True)
class TrialSetup:
    """What every trial of one search shares; Ray ships it once through the object store."""

    proxy: ProxyConfig
    objective: ObjectiveConfig
    evaluate: str | None = None
    reference_resolution: int = 224  # proxy.resolution is meant for archs of this resolution
    weights_dir: str | None = None  # keep_weights: trials save weights under this run dir


def load_evaluator(spec: str) -> Callable[..., dict[str, Any]]:
    """Import `module:function`, the user's replacement for proxy training."""
    module_name, _, func_name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as err:
        raise SpecError("evaluate", spec, f"cannot import it ({err})") from None


def proxy_evaluate(arch: Arch, proxy: ProxyConfig, report: Report,
                   weights_to: str | None = None) -> dict[str, Any]:
    """The default evaluation: proxy-train `arch` and measure held-out top-1 (and save the
    trained weights to `weights_to`, when given)."""
    from objectives import load_dataset, train_proxy
    from search_space.weights import save_weights

    data = load_dataset(proxy.data)  # cached per worker process across reused trials

    def save(model) -> None:
        save_weights(model, arch, weights_to, {"dataset": data.name,
                                               "proxy_resolution": proxy.resolution})

    result = train_proxy(arch, proxy, data=data, on_epoch=report,
                         on_trained=save if weights_to else None)
    return {"status": result.status, "reason": result.reason, "accuracy": result.accuracy,
            "epochs": result.epochs, "train_seconds": result.train_seconds}


def supernet_score(arch: Arch, proxy: ProxyConfig, report: Report,
                   spec: dict[str, Any]) -> dict[str, Any]:
    """Score `arch` with inherited weights of the supernet trained at ``spec["checkpoint"]``
    over ``spec["space"]`` (the other keys: its `SupernetConfig`); a job of a fidelity study
    whose setting has ``evaluator: supernet``."""
    from objectives import SupernetConfig, load_dataset, score_candidates

    settings = {k: v for k, v in spec.items() if k not in ("checkpoint", "space")}
    checkpoint = Path(spec["checkpoint"])  # its mtime: a rewritten file is loaded anew
    supernet = _supernet(spec["space"], str(checkpoint), checkpoint.stat().st_mtime_ns)
    [score] = score_candidates(supernet, [arch], proxy, SupernetConfig(**settings),
                               load_dataset(proxy.data))
    return {"status": "ok", "accuracy": score["accuracy"], "train_seconds": score["seconds"]}


@functools.lru_cache(maxsize=2)
def _supernet(space: str, checkpoint: str, mtime_ns: int):
    """A worker keeps the supernets it last loaded: its next trials score with them too."""
    from objectives import load_supernet
    from search_space import load_space

    return load_supernet(load_space(space), Path(checkpoint))


def evaluate_arch(arch: Arch, setup: TrialSetup, report: Report,
                  weights_to: str | None = None,
                  supernet: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate one candidate and return its final metrics; never raises. With `supernet`
    (see `supernet_score`) it is scored with inherited weights instead of trained."""
    counts = analytic_counts(arch, arch.resolution, setup.objective.num_classes)
    fixed = {"flops": counts.flops, "params": counts.params,
             "proxy_resolution": setup.proxy.resolution,
             "evaluator": "supernet" if supernet else "proxy"}

    start = time.perf_counter()

    def report_epoch(metrics: dict[str, Any]) -> None:
        # latency is looked up by the driver, so only a FLOPs reward is known here
        reward = (setup.objective.reward(metrics["accuracy"], counts.flops)
                  if setup.objective.metric == "flops" else None)
        # if a scheduler stops the trial here, this report is its last: make it a full row
        report({**metrics, **fixed, "reward": reward, "status": "running",
                "epochs": metrics["epoch"], "train_seconds": time.perf_counter() - start})

    evaluate = _evaluator(setup, weights_to, supernet)
    seeds = 1 if supernet else setup.proxy.seeds  # a supernet's score has no seed to vary
    try:
        if seeds == 1:
            final = {"epochs": 0, **evaluate(arch, setup.proxy, report_epoch)}
        else:  # the kept weights are the first seed's, trained with proxy.seed as at k = 1
            final = averaged_evaluate(
                lambda i: evaluate if i == 0 else _evaluator(setup, None, None),
                arch, setup.proxy, report_epoch)
    except Exception as err:  # noqa: BLE001 - a failed candidate is a result, not a crash
        final = {"status": "failed", "reason": f"{type(err).__name__}: {err}", "epochs": 0}
    final.setdefault("status", "ok")
    final.setdefault("reason", "")
    final.setdefault("train_seconds", time.perf_counter() - start)
    return {**fixed, **final}


def _evaluator(setup: TrialSetup, weights_to: str | None,
               supernet: dict[str, Any] | None) -> Evaluate:
    """The trial's evaluation: supernet scoring, the user's `evaluate` or proxy training."""
    if supernet:
        return functools.partial(supernet_score, spec=supernet)
    if setup.evaluate:
        return load_evaluator(setup.evaluate)
    return functools.partial(proxy_evaluate, weights_to=weights_to)


def proxy_resolution(setup: TrialSetup, arch: Arch) -> int:
    """Proxy side for `arch`: scaled like its deployment resolution (grid points differ)."""
    return max(8, round(setup.proxy.resolution * arch.resolution / setup.reference_resolution))


def run_trial(config: dict[str, Any], setup: TrialSetup) -> None:
    """Ray Tune function trainable (wrapped with `tune.with_parameters`)."""
    from ray import tune

    arch = Arch.from_dict(config["arch"])
    if config.get("proxy"):  # a job's own seed or schedule (a study's enumerated space)
        setup = dataclasses.replace(setup, proxy=dataclasses.replace(setup.proxy,
                                                                     **config["proxy"]))
    changes = {"resolution": proxy_resolution(setup, arch)}
    if setup.proxy.threads is None:  # one torch thread per CPU Ray gave this trial
        cpus = tune.get_context().get_trial_resources().required_resources.get("CPU", 1)
        changes["threads"] = max(1, int(cpus))
    setup = dataclasses.replace(setup, proxy=dataclasses.replace(setup.proxy, **changes))
    weights_to = None
    if setup.weights_dir:
        from nas.ledger.kept_weights import trial_weights

        weights_to = str(trial_weights(setup.weights_dir, tune.get_context().get_trial_id()))
    final = evaluate_arch(arch, setup, tune.report, weights_to, config.get("supernet"))
    tune.report({**final, "epoch": final["epochs"]})
