"""The block table, its torch model, presets, compound scaling and the factorized search space."""

from search_space.arch import Arch, Stage
from search_space.builder import build_model, layers
from search_space.errors import SpecError
from search_space.presets import PRESETS, load_arch, preset
from search_space.scaling import round_filters, round_repeats, scale, scale_by
from search_space.space import Decision, SearchSpace, load_space
from search_space.supernet import Supernet

__all__ = [
    "PRESETS",
    "Arch",
    "Decision",
    "SearchSpace",
    "SpecError",
    "Stage",
    "Supernet",
    "build_model",
    "layers",
    "load_arch",
    "load_space",
    "preset",
    "round_filters",
    "round_repeats",
    "scale",
    "scale_by",
]
