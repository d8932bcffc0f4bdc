"""The sections of an experiment config that a search reads: controller, objective (and its
latency setup), budget, resources, early stopping. Each checks its own values on creation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from objectives.latency import LatencySetup
from objectives.reward import TARGET_FLOPS, W
from search_space.arch import MAX_CLASSES
from search_space.errors import SpecError
from search_space.validators import choice, integer, number, positive


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


