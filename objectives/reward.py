"""The MnasNet reward (Tan et al. 2019, eq. 2): accuracy traded against cost.

    reward = ACC(m) * (FLOPs(m) / T) ** w,   w = alpha if FLOPs(m) <= T else beta

- soft constraint (`mnas_reward(acc, flops, w=-0.07)`): alpha = beta = w, the EfficientNet-B0
  search with T = 400M multiply-adds; doubling FLOPs costs a factor 2 ** 0.07 (about 5%).
- general form: `mnas_reward(acc, flops, alpha=..., beta=...)`.
- hard constraint (`mnas_reward_hard`): alpha = 0, beta = -1: plain accuracy under the target,
  a steep penalty above it.

FLOPs here are the candidate's *deployment* FLOPs (multiply-adds at the architecture's own
resolution and deployment class count, `deployment_flops`), never those of the smaller proxy
network: T = 400M is an ImageNet-at-224 budget. The reward is pure arithmetic on stored
(accuracy, FLOPs) pairs, so a finished run is re-scored for another target or w without
retraining; arrays (numpy, pandas columns) are scored element-wise.

Latency (objective.metric: latency) uses the same forms with measured milliseconds as the cost
and T in milliseconds, plus TuNAS's absolute reward (Bender et al. 2020, `rl_reward_function:
abs`): ``ACC + beta * |cost / T - 1|`` with beta < 0 (TuNAS default -0.10), which pulls the
search onto the target from both sides instead of merely discouraging cost above it.
"""

from __future__ import annotations

import numpy as np

from objectives.analytic import analytic_flops
from search_space import Arch
from search_space.errors import SpecError
from search_space.validators import number, positive

TARGET_FLOPS = 400e6  # T of the EfficientNet-B0 search, multiply-adds
W = -0.07             # MnasNet / EfficientNet soft-constraint exponent
ArrayLike = float | np.ndarray


def mnas_reward(accuracy: ArrayLike, flops: ArrayLike, target: float = TARGET_FLOPS,
                w: float = W, *, alpha: float | None = None,
                beta: float | None = None) -> ArrayLike:
    """MnasNet eq. 2: ``ACC * (FLOPs / T) ** (alpha if FLOPs <= T else beta)``.

    With only `w` it is the soft constraint (alpha = beta = w); `alpha` and `beta` give the
    general form (each defaults to `w`).

    Args:
        accuracy: top-1 in [0, 1] (scalar or array).
        flops: deployment multiply-adds (scalar or array), > 0.
        target: the budget T in multiply-adds, > 0.
        w: exponent on both sides of the target.
        alpha: exponent at or under the target (default `w`).
        beta: exponent above the target (default `w`).

    Returns:
        A float for scalar inputs, else an array.

    Example:
        >>> round(mnas_reward(0.8, 386e6), 4)   # B0-sized: a hair above its accuracy
        0.802
    """
    alpha, beta = (w if alpha is None else alpha), (w if beta is None else beta)
    positive("target", target)  # multiply-adds
    number("alpha", alpha)
    number("beta", beta)
    ratio = np.asarray(flops, dtype=float) / target
    if not np.all(ratio > 0):
        raise SpecError("flops", flops, "must be > 0")
    reward = np.asarray(accuracy, dtype=float) * ratio ** np.where(ratio <= 1.0, alpha, beta)
    return float(reward) if reward.ndim == 0 else reward


def mnas_reward_hard(accuracy: ArrayLike, flops: ArrayLike,
                     target: float = TARGET_FLOPS) -> ArrayLike:
    """Hard-constraint reward (alpha = 0, beta = -1): ACC at or under T, ACC * T / FLOPs above."""
    return mnas_reward(accuracy, flops, target, alpha=0.0, beta=-1.0)


TUNAS_BETA = -0.10  # TuNAS's default absolute-reward coefficient


def absolute_reward(accuracy: ArrayLike, cost: ArrayLike, target: float,
                    beta: float = TUNAS_BETA) -> ArrayLike:
    """TuNAS's absolute reward: ``ACC + beta * |cost / T - 1|``, beta < 0.

    Args:
        accuracy: top-1 in [0, 1] (scalar or array).
        cost: latency in ms or multiply-adds (scalar or array), > 0.
        target: T, in the unit of `cost`, > 0.
        beta: penalty per unit of relative distance from the target, < 0.

    Example:
        >>> round(absolute_reward(0.8, 6.0, 5.0), 4)   # 20% over a 5 ms target
        0.78
    """
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not target > 0:
        raise SpecError("target", target, "must be a number > 0")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta < 0:
        raise SpecError("beta", beta, "must be a number < 0")
    ratio = np.asarray(cost, dtype=float) / target
    if not np.all(ratio > 0):
        raise SpecError("cost", cost, "must be > 0")
    reward = np.asarray(accuracy, dtype=float) + beta * np.abs(ratio - 1.0)
    return float(reward) if reward.ndim == 0 else reward


def deployment_flops(arch: Arch, num_classes: int = 1000) -> int:
    """Multiply-adds of the deployed network: at `arch.resolution`, with `num_classes` outputs."""
    return analytic_flops(arch, arch.resolution, num_classes)
