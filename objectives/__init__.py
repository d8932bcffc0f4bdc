"""What a candidate costs and how good it is.

FLOPs and params (`objectives.flops`, and the analytic counter `objectives.analytic` that must
agree with fvcore), measured latency and its per-block table (`objectives.latency`,
`objectives.latency_table`), the reward (`objectives.reward`), data (`objectives.data`: sources,
the decode-once cache, the synthetic set, prepare-data) and one training core
(`objectives.training`: recipe, runtime, optimizer step, BN recalibration, evaluation) that
proxy training (`objectives.proxy`), supernet training (`objectives.supernet_training`) and
supernet scoring (`objectives.supernet_scoring`) share.
"""

from objectives.analytic import Counts, analytic_counts, analytic_flops, analytic_params
from objectives.data import DataSpec, ProxyData, check_dataset, load_dataset
from objectives.flops import FLOPS_CONVENTION, fvcore_flops, torch_params
from objectives.latency import Latency, LatencySetup, measure_arch, measure_module
from objectives.latency_table import LatencyTable
from objectives.proxy import ProxyResult, train_proxy
from objectives.reward import absolute_reward, deployment_flops, mnas_reward, mnas_reward_hard
from objectives.supernet_scoring import score_candidates
from objectives.supernet_training import SupernetConfig, load_supernet, train_supernet
from objectives.training import ProxyConfig
from search_space import Arch


def count_flops(arch_or_model, resolution: int | None = None, num_classes: int = 1000) -> int:
    """FLOPs (multiply-adds) of one image: analytic for a block table, fvcore for a model."""
    if isinstance(arch_or_model, Arch):
        return analytic_flops(arch_or_model, resolution, num_classes)
    return fvcore_flops(arch_or_model, resolution, num_classes)


def count_params(arch_or_model, num_classes: int = 1000) -> int:
    """Trainable params: analytic for a block table, summed tensors for a model."""
    if isinstance(arch_or_model, Arch):
        return analytic_params(arch_or_model, num_classes)
    return torch_params(arch_or_model, num_classes)


__all__ = [
    "FLOPS_CONVENTION",
    "Counts",
    "DataSpec",
    "Latency",
    "LatencySetup",
    "LatencyTable",
    "ProxyConfig",
    "ProxyData",
    "ProxyResult",
    "SupernetConfig",
    "absolute_reward",
    "analytic_counts",
    "analytic_flops",
    "analytic_params",
    "check_dataset",
    "count_flops",
    "count_params",
    "deployment_flops",
    "fvcore_flops",
    "load_dataset",
    "load_supernet",
    "measure_arch",
    "measure_module",
    "mnas_reward",
    "mnas_reward_hard",
    "score_candidates",
    "torch_params",
    "train_proxy",
    "train_supernet",
]
