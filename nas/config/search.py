"""`SearchConfig`: a whole experiment, every key of a config file, checked as a whole."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import yaml

from nas.config.confirm import ConfirmConfig
from nas.config.grid import GridConfig
from nas.config.sections import (
    BudgetConfig,
    ControllerConfig,
    EarlyStoppingConfig,
    ObjectiveConfig,
    ResourcesConfig,
)
from nas.config.tracking import tracking_backends
from nas.schema import to_data
from objectives import ProxyConfig, SupernetConfig
from search_space.errors import SpecError
from search_space.validators import choice, integer

CONFIG_VERSION = 1


@dataclass(frozen=True)
class SearchConfig:
    """A whole experiment: every key of a config file (docs/config.md lists them all).

    Attributes:
        version: the config format's version; this nas-search reads 1.
        name: the run's name: runs go in runs/NAME-TIMESTAMP (a plain folder name).
        seed: seeds the controller and the architectures sampled from the space (the proxy
            has its own `proxy.seed`).
        space: a bundled space name (``b0``, ``mnasnet``, ``b0-small``, ``mnasnet-small``,
            ``b0-elastic``) or a space YAML path.
        flops_band: ``[min, max]`` multiply-adds; candidates outside are rejected before
            training; null = no band.
        controller: which controller proposes candidates.
        objective: the reward that ranks candidates.
        proxy: how each candidate is proxy-trained (and the supernet's recipe).
        budget: how many trials, how many at once.
        resources: what one trial reserves.
        early_stopping: ASHA early stopping of proxy trials.
        grid: set, ``nas-search grid`` grid-searches compound-scaling coefficients for a base
            instead of searching; null for a search.
        address: an existing Ray cluster's head, host:port (or ``auto``); null = a private
            Ray on 127.0.0.1.
        evaluate: ``module:function`` replacing proxy training, called as
            ``fn(arch, proxy_config, report)`` and returning at least ``{"accuracy": ...}``;
            it runs code: trust the config like a script.
        keep_weights: keep the trained weights of the K best trials under RUN_DIR/weights/.
        tracking: ``[mlflow, tensorboard, wandb]`` (any of them), or a mapping of backend to
            its options; null = none.
        evaluator: ``proxy`` (train each candidate) or ``supernet`` (score it with weights
            inherited from one trained supernet).
        supernet: the supernet's training and scoring (evaluator supernet).
        confirm: after the budget, retrain the top candidates with several seeds (either
            evaluator); replaces ``supernet.retrain_top``.
    """

    version: int = CONFIG_VERSION
    name: str = "search"
    seed: int = 0
    space: str = "b0"
    flops_band: tuple[float, ...] | None = None  # [min, max] multiply-adds; null = no band
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    proxy: ProxyConfig = field(default_factory=ProxyConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    grid: GridConfig | None = None  # set: `nas-search grid` scales a base instead of searching
    address: str | None = None  # an existing Ray cluster, host:port; null = local Ray on 127.0.0.1
    evaluate: str | None = None  # "module:function" replacing proxy training
    keep_weights: int = 0  # trained weights of the K best trials, under RUN_DIR/weights/
    tracking: tuple[str, ...] | dict | None = None  # [mlflow, tensorboard, wandb]
    evaluator: str = "proxy"  # proxy: train each candidate; supernet: inherited weights
    supernet: SupernetConfig = field(default_factory=SupernetConfig)  # evaluator: supernet
    confirm: ConfirmConfig = field(default_factory=ConfirmConfig)  # after the budget

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.version != CONFIG_VERSION:
            raise SpecError("version", self.version, f"this nas-search reads version "
                            f"{CONFIG_VERSION}")
        band = self.flops_band
        if band is not None and (len(band) != 2 or not 0 <= band[0] < band[1]):
            raise SpecError("flops_band", list(band), "must be [min, max] with 0 <= min < max")
        integer("keep_weights", self.keep_weights, 0)
        if self.keep_weights and self.evaluate is not None:
            raise SpecError("keep_weights", self.keep_weights, "must be 0 with `evaluate` (a "
                            "custom evaluator trains no weights here)")
        if self.evaluate is not None and ":" not in self.evaluate:
            raise SpecError("evaluate", self.evaluate, "must be 'module:function'")
        tracking_backends(self.tracking)
        if self.proxy.device.startswith("cuda") and self.resources.gpu == 0:
            raise SpecError("proxy.device", self.proxy.device, "needs resources.gpu > 0 (Ray "
                            "hides GPUs from trials that did not ask for one)")
        choice("evaluator", self.evaluator, ("proxy", "supernet"))
        if self.evaluator == "supernet" and (self.evaluate or self.early_stopping.asha
                                             or self.keep_weights or self.grid is not None):
            raise SpecError("evaluator", self.evaluator, "scores a space's candidates with its "
                            "supernet: drop `evaluate`, `early_stopping.asha`, `keep_weights` "
                            "and `grid`, which apply to proxy trials")
        if self.early_stopping.asha and self.early_stopping.grace_period > self.proxy.epochs:
            raise SpecError("early_stopping.grace_period", self.early_stopping.grace_period,
                            f"must be <= proxy.epochs ({self.proxy.epochs})")
        self._check_confirm()

    def _check_confirm(self) -> None:
        self._map_retrain_top()
        top, trials = self.confirm.top, self.budget.num_samples
        if top > trials:  # (a top beyond the candidates that scored confirms them all)
            raise SpecError("confirm.top", top, f"must be <= budget.num_samples ({trials}): "
                            "the search has no more candidates to confirm")

    def _map_retrain_top(self) -> None:
        """Old configs' `supernet.retrain_top: K` meant one standalone training of the K best:
        `confirm: {top: K, seeds: 1}` now, for either evaluator."""
        k = self.supernet.retrain_top
        if not k:
            return
        if self.confirm.top:
            raise SpecError("supernet.retrain_top", k, "is replaced by confirm.top: set only "
                            "confirm (e.g. confirm: {top: K, seeds: 1})")
        object.__setattr__(self, "confirm", dataclasses.replace(self.confirm, top=k, seeds=1))
        object.__setattr__(self, "supernet", dataclasses.replace(self.supernet, retrain_top=0))

    def to_yaml(self) -> str:
        return yaml.safe_dump(to_data(self), sort_keys=False)


def _check_name(name: str) -> None:
    """`name` becomes a folder under the output root: one plain folder name, nothing more."""
    if (not name or name in (".", "..") or any(c in name for c in "/\\\0")
            or not name.isprintable()):
        raise SpecError("name", name, "must be a plain folder name (no '/', '..' or control "
                        "characters): runs go in runs/NAME-TIMESTAMP")


