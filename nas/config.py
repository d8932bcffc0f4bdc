"""The experiment config: typed sections, defaults, YAML loading and `--set key=value` overrides.

A config file is the source of truth; the CLI only overrides it. Every key is checked: an unknown
key, a wrong type or a bad value is one `SpecError` naming the file, the dotted field and the
value, raised before Ray starts.
"""

from __future__ import annotations

import dataclasses
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import experiments
from nas.outputs.tracking import tracking_backends
from nas.schema import from_data, to_data
from nas.studies.grid import GridConfig
from objectives import ProxyConfig, SupernetConfig
from objectives.data import is_cache, open_cache
from objectives.latency import LatencySetup
from objectives.reward import TARGET_FLOPS, W
from search_space.arch import MAX_CLASSES
from search_space.errors import SpecError
from search_space.validators import choice, integer, number, positive
from search_space.yaml_file import YamlSyntaxError, parse_yaml, read_yaml

CONFIG_VERSION = 1


@dataclass(frozen=True)
class ControllerConfig:
    """Which controller proposes candidates, and its options (see `controllers.make`).

    Attributes:
        name: ``random``, ``evolution``, ``ppo``, ``reinforce`` or ``grid``.
        options: keyword options of that controller, e.g. ``{population_size: 100,
            tournament_size: 25}`` for evolution or ``{lr: 0.003}`` for ppo; an unknown
            option is an error.
    """

    name: str = "evolution"
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LatencyConfig(LatencySetup):
    """`objective.latency` (with objective.metric: latency): the measuring setup itself, every
    `objectives.LatencySetup` field under the same name and default, plus two keys only a
    search has.

    Attributes:
        predict: ``lut`` (the only one): a candidate's latency is the sum of its parts in the
            per-block table, built before the trials start by one Ray actor that holds the
            whole device, so no training runs beside the timing.
        cache_dir: folder of the latency tables (default ``~/.cache/nas-search/latency``, or
            ``$NAS_SEARCH_CACHE/latency``).
    """

    predict: str = "lut"
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if self.predict != "lut":
            raise SpecError("predict", self.predict, "must be lut (the per-block table)")
        super().__post_init__()


@dataclass(frozen=True)
class ObjectiveConfig:
    """MnasNet's reward ACC * (cost / target) ** w; `hard` is the alpha=0, beta=-1 form and
    `absolute` TuNAS's ACC + beta * |cost / target - 1|. The cost is FLOPs (multiply-adds) or,
    with metric latency, milliseconds measured as `latency` says.

    Attributes:
        target: the reward's target T: multiply-adds (metric flops) or milliseconds (metric
            latency).
        w: the reward's exponent (MnasNet's -0.07); kinds ``soft`` only.
        kind: ``soft`` (ACC * (cost / T) ** w), ``hard`` (alpha = 0 under T, beta = -1 over
            it) or ``absolute`` (TuNAS: ACC + beta * abs(cost / T - 1)).
        num_classes: deployment classes: FLOPs are counted for the deployed model, whatever
            the proxy trains on.
        metric: the cost: ``flops`` (multiply-adds) or ``latency`` (ms from a per-block table).
        beta: the ``absolute`` kind's weight, below 0 (TuNAS's default -0.10).
        latency: where and how latency is measured (metric latency only).
    """

    target: float = TARGET_FLOPS
    w: float = W
    kind: str = "soft"
    num_classes: int = 1000  # deployment classes: FLOPs are counted for the deployed model
    metric: str = "flops"
    beta: float = -0.10  # absolute kind only (TuNAS's default)
    latency: LatencyConfig = field(default_factory=LatencyConfig)

    def __post_init__(self) -> None:
        positive("target", self.target)
        number("w", self.w)
        choice("kind", self.kind, ("soft", "hard", "absolute"))
        integer("num_classes", self.num_classes, 1, MAX_CLASSES)
        choice("metric", self.metric, ("flops", "latency"))
        if self.metric == "latency" and self.target >= 1e5:
            raise SpecError("target", self.target, "with metric latency it is in milliseconds")
        number("beta", self.beta, high=0.0, high_open=True)

    @property
    def column(self) -> str:
        """The row column holding the cost: flops or latency_ms."""
        return "latency_ms" if self.metric == "latency" else "flops"

    def reward(self, accuracy: float, cost: float) -> float:
        """The reward of one candidate; re-scoring needs only its accuracy and cost."""
        from objectives import absolute_reward, mnas_reward

        if self.kind == "absolute":
            return absolute_reward(accuracy, cost, self.target, self.beta)
        alpha, beta = (0.0, -1.0) if self.kind == "hard" else (self.w, self.w)
        return mnas_reward(accuracy, cost, self.target, alpha=alpha, beta=beta)

    def score(self, row: dict[str, Any]) -> float:
        """The reward of a journaled row (a scored one: its accuracy is a finite number)."""
        return self.reward(row["accuracy"], row[self.column])


@dataclass(frozen=True)
class BudgetConfig:
    """How much a search may spend.

    Attributes:
        num_samples: trials to train, failed ones included.
        max_concurrent: trials running at once.
    """

    num_samples: int = 16  # trials to train, failed ones included
    max_concurrent: int = 2

    def __post_init__(self) -> None:
        for name in ("num_samples", "max_concurrent"):
            integer(name, getattr(self, name), 1)


@dataclass(frozen=True)
class ResourcesConfig:
    """Per trial; fractional GPUs pack several small proxy trainings on one card.

    Attributes:
        cpu: CPUs one trial reserves.
        gpu: GPUs one trial reserves; fractions such as 0.25 share a card between trials.
    """

    cpu: float = 1.0
    gpu: float = 0.0

    def __post_init__(self) -> None:
        positive("cpu", self.cpu)  # NaN or inf would leave every trial waiting forever
        number("gpu", self.gpu, 0.0)


@dataclass(frozen=True)
class EarlyStoppingConfig:
    """ASHA on proxy accuracy per epoch; stopped trials keep their last accuracy.

    Attributes:
        asha: stop trials early with Ray Tune's ASHA scheduler (proxy trials only).
        grace_period: epochs every trial trains before it can be stopped (<= proxy.epochs).
        reduction_factor: ASHA's halving rate: about 1 in this many trials go on at each rung.
    """

    asha: bool = False
    grace_period: int = 1
    reduction_factor: int = 2

    def __post_init__(self) -> None:
        integer("grace_period", self.grace_period, 1)
        integer("reduction_factor", self.reduction_factor, 2)


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
    evaluate: str | None = None  # "module:function" replacing proxy training (see README)
    keep_weights: int = 0  # trained weights of the K best trials, under RUN_DIR/weights/
    tracking: tuple[str, ...] | dict | None = None  # [mlflow, tensorboard, wandb]
    evaluator: str = "proxy"  # proxy: train each candidate; supernet: inherited weights
    supernet: SupernetConfig = field(default_factory=SupernetConfig)  # evaluator: supernet

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

    def to_yaml(self) -> str:
        return yaml.safe_dump(to_data(self), sort_keys=False)


def _check_name(name: str) -> None:
    """`name` becomes a folder under the output root: one plain folder name, nothing more."""
    if (not name or name in (".", "..") or any(c in name for c in "/\\\0")
            or not name.isprintable()):
        raise SpecError("name", name, "must be a plain folder name (no '/', '..' or control "
                        "characters): runs go in runs/NAME-TIMESTAMP")


def config_path(name_or_path: str) -> Path:
    """A bundled experiment name (`demo`, `b0-cifar10`, ...) or a YAML path."""
    bundled = experiments.bundled("", name_or_path)
    if bundled is not None:
        return bundled
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(experiments.names())
        raise SpecError("config", name_or_path, f"no such file or bundled experiment ({known})")
    return path


def load_config(name_or_path: str = "demo", overrides: list[str] = ()) -> SearchConfig:
    """Read, override and validate an experiment config."""
    path = config_path(name_or_path)
    data = read_yaml(path, "config")
    data = {} if data is None else data
    for item in overrides:
        data = apply_override(data, item)
    try:
        config = from_data(SearchConfig, data)
    except SpecError as err:
        raise err.with_source(str(path)) from None
    return _absolute_paths(config)


def without_address(config: SearchConfig) -> SearchConfig:
    """`config` as it would run locally: where a study runs is not what it computes."""
    return dataclasses.replace(config, address=None)


def _absolute_paths(config: SearchConfig) -> SearchConfig:
    """Ray runs trials in their own folders: relative paths must not depend on where."""
    proxy = config.proxy
    if proxy.dataset != "synthetic":
        proxy = dataclasses.replace(proxy, dataset=str(Path(proxy.dataset).resolve()))
    space = config.space
    if space.endswith((".yaml", ".yml")):
        space = str(Path(space).resolve())
    return dataclasses.replace(config, proxy=proxy, space=space)


def apply_override(data: Any, item: str, flag: str = "--set") -> dict:
    """`a.b=c` sets data["a"]["b"] to YAML-parsed c; unknown keys fail later, in `from_data`.
    Errors name `flag`, the option the item came from."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise SpecError(flag, item, "must be key=value, e.g. proxy.epochs=3")
    if not isinstance(data, dict):
        raise SpecError("(top level)", data, "a config must be a YAML mapping")
    try:
        value = parse_yaml(raw, f"{flag} {key}")
    except YamlSyntaxError:
        value = raw  # e.g. an IPv6 address [::1]:6379: meant as text
    node, *parts = key.split(".")
    data = dict(data)
    cursor = data
    for part in [node, *parts][:-1]:
        child = cursor.get(part)
        cursor[part] = dict(child) if isinstance(child, dict) else {} if child is None else child
        if not isinstance(cursor[part], dict):
            raise SpecError(f"{flag} {key}", raw, f"'{part}' holds a plain value, not a section")
        cursor = cursor[part]
    cursor[key.split(".")[-1]] = value
    return data


def check_reachable(config: SearchConfig, timeout: float = 3.0) -> None:
    """Fail fast, before Ray starts, when the data path or the cluster address is wrong."""
    dataset = config.proxy.dataset
    if dataset != "synthetic" and not Path(dataset).is_dir():
        raise SpecError("proxy.dataset", dataset, "no such folder (use 'synthetic', a CIFAR-10 "
                        "python-batches folder or an ImageFolder tree)")
    if dataset != "synthetic" and is_cache(dataset):  # verified once here, not in every trial
        open_cache(dataset).check_resolution(config.proxy.resolution,
                                             config.proxy.resize_cache or bool(config.grid))
    if config.address and config.address != "auto":
        host, _, port = config.address.rpartition(":")
        if not host or not port.isdigit():
            raise SpecError("address", config.address, "must be host:port of a Ray head")
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
        except OSError as err:
            raise SpecError("address", config.address,
                            f"cannot reach a Ray head there ({err.strerror or err})") from None
