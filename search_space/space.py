"""The factorized hierarchical search space of MnasNet §4.1: one set of decisions per stage.

A `SearchSpace` keeps a fixed skeleton (resolution, stem, head, act, dropout, drop_path, the
number of stages and each stage's first-layer stride) and searches, per stage, six decisions.

Token order (what `encode` returns and `decode` takes): stage by stage, ``stage1`` first, and
within a stage always::

    op, kernel, se, skip, width, layers

so token ``6 * (i - 1) + j`` is decision ``j`` of stage ``i``. Each token is the index of the
chosen value in that decision's `choices`. Every stage always has all six decisions, even where
a list has a single choice (cardinality 1), so the layout depends only on the number of stages.

- op: ``conv`` (plain kxk conv), ``mbconv1`` (MnasNet's SepConv), ``mbconvN`` (expansion N).
- kernel: kxk of the depthwise (mbconv) or full (conv) convolution.
- se: squeeze-and-excitation ratio (0 = none).
- skip: ``id`` (identity residual where stride 1 and in == out) or ``none``. MnasNet also lists
  a pooling skip; it is not offered because the block table (`Stage.skip`) and the builder
  have no pooling skip, the paper does not define one (which pooling, how channels match), and
  neither TF's MnasNet code nor any released MnasNet model (A1, B1, small) uses one.
- width: output channels (reference width x multipliers, rounded to 8, or an explicit list).
- layers: layer count (reference count + deltas, at least 1, or an explicit list).

FLOPs band: `search_space` may not import `objectives`, so a band needs a counter callable
``Arch -> multiply-adds`` (at the arch's own resolution, 1000 classes) from the caller, e.g.
``load_space("b0", counter=objectives.analytic_flops)`` or ``space.with_band(2e8, 4e8,
objectives.analytic_flops)``. A band declared in the YAML without a counter raises `SpecError`
as soon as a sample or mutation needs it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from operator import index
from pathlib import Path
from typing import Any

import numpy as np

from search_space.arch import Arch, Stage
from search_space.bundled import bundled_space, space_names
from search_space.errors import SpecError
from search_space.space_file import (
    DECISION_FIELDS,
    SpaceSpec,
    op_fields,
    parse_band,
    read_space,
    stage_values,
)

FlopsCounter = Callable[[Arch], float]

BAND_TRIES = 1000  # samples (or mutations) drawn before a FLOPs band is declared too tight
SKELETON_FIELDS = ("resolution", "stem", "stem_stride", "head", "act", "dropout", "drop_path")


@dataclass(frozen=True)
class Decision:
    """One searched choice, e.g. ``stage3.kernel`` with choices ``(3, 5)``."""

    name: str
    choices: tuple[Any, ...]


class SearchSpace:
    """A factorized space of block tables around a fixed skeleton (see the module docstring).

    Args:
        spec: the parsed space (`load_space` reads it from YAML).
        counter: ``Arch -> multiply-adds``; required only when a FLOPs band is set.

    Example:
        >>> import numpy as np
        >>> space = load_space("b0")
        >>> arch = space.sample(np.random.default_rng(0))
        >>> space.decode(space.encode(arch)) == arch
        True
    """

    def __init__(self, spec: SpaceSpec, counter: FlopsCounter | None = None):
        self.spec, self.counter = spec, counter
        self.name, self.reference, self.flops_band = spec.name, spec.reference, spec.flops_band
        self.decisions = tuple(Decision(f"stage{i}.{field}", getattr(stage, field))
                               for i, stage in enumerate(spec.stages, 1)
                               for field in DECISION_FIELDS)
        self.cardinalities = tuple(len(d.choices) for d in self.decisions)
        self.size = math.prod(self.cardinalities)
        self.log10_size = sum(math.log10(c) for c in self.cardinalities)
        self._positions = tuple({v: i for i, v in enumerate(d.choices)} for d in self.decisions)
        self._highs = np.array(self.cardinalities)
        self._mutable = tuple(k for k, c in enumerate(self.cardinalities) if c > 1)
        self._strides = tuple(s.stride for s in self.reference.stages)
        self._stages: dict[tuple[int, ...], Stage] = {}  # decoded rows, keyed by stage + tokens
        self._hex_digits = len(f"{self.size - 1:x}")  # names of equal length

    def __repr__(self) -> str:
        return (f"SearchSpace({self.name!r}, {len(self.decisions)} decisions, "
                f"size 10^{self.log10_size:.1f}, flops_band={self.flops_band})")

    # --- tokens ------------------------------------------------------------------------------

    def encode(self, arch: Arch) -> list[int]:
        """The token list of `arch` (order: see module docstring).

        Raises:
            SpecError: `arch` is not in the space; names the first decision or skeleton field
                that does not fit.
        """
        self._check_skeleton(arch)
        tokens = []
        for i, stage in enumerate(arch.stages):
            for j, value in enumerate(stage_values(stage)):
                k = len(DECISION_FIELDS) * i + j
                token = self._positions[k].get(value)
                if token is None:
                    decision = self.decisions[k]
                    raise SpecError(decision.name, value, f"not a choice of space {self.name} "
                                    f"(choices: {', '.join(map(str, decision.choices))})")
                tokens.append(token)
        return tokens

    def decode(self, tokens: Sequence[int]) -> Arch:
        """The block table of a token list; named ``<space>-<hex rank in the space>``.

        Raises:
            SpecError: wrong number of tokens, or a token outside its decision's range.
        """
        tokens = self._check_tokens(tokens)
        width = len(DECISION_FIELDS)
        stages = tuple(self._stage(i, tokens[width * i:width * (i + 1)])
                       for i in range(len(self._strides)))
        rank = f"{self._rank(tokens):0{self._hex_digits}x}"
        return self.reference.replace(stages=stages, name=f"{self.name}-{rank}")

    def contains(self, arch: Arch) -> bool:
        """Whether `arch` is one of the space's block tables (the name is ignored)."""
        try:
            self.encode(arch)
        except SpecError:
            return False
        return True

    # --- search moves ------------------------------------------------------------------------

    def sample(self, rng: np.random.Generator) -> Arch:
        """A uniform draw per decision, redrawn until it lies in the FLOPs band.

        Raises:
            SpecError: no draw in `BAND_TRIES` lies in the band, or a band has no counter.
        """
        for _ in range(BAND_TRIES):
            arch = self.decode(rng.integers(0, self._highs).tolist())
            if self.in_band(arch):
                return arch
        raise self._band_too_tight("samples")

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """`arch` with exactly one decision changed to another of its choices, in the band.

        The decision is uniform over those with more than one choice, the new value uniform
        over its other choices; redrawn until the result lies in the FLOPs band.

        Raises:
            SpecError: `arch` is not in the space, no decision has two choices, or no
                mutation in `BAND_TRIES` lies in the band.
        """
        tokens = self.encode(arch)
        if not self._mutable:
            raise SpecError("space", self.name, "has a single architecture: nothing to mutate")
        for _ in range(BAND_TRIES):
            k = self._mutable[rng.integers(len(self._mutable))]
            card, child = self.cardinalities[k], list(tokens)
            child[k] = (tokens[k] + 1 + int(rng.integers(card - 1))) % card  # never the same
            mutant = self.decode(child)
            if self.in_band(mutant):
                return mutant
        raise self._band_too_tight("mutations")

    # --- FLOPs band --------------------------------------------------------------------------

    def in_band(self, arch: Arch) -> bool:
        """Whether the counter's multiply-adds of `arch` lie in [min, max] (True if no band).

        Raises:
            SpecError: a band is set but no counter was given.
        """
        low, high = self.flops_band
        if low is None and high is None:
            return True
        if self.counter is None:
            raise SpecError("flops_band", list(self.flops_band), f"space {self.name} needs a "
                            "FLOPs counter: load_space(..., counter=objectives.analytic_flops) "
                            "or with_band(..., counter=...)")
        flops = self.counter(arch)
        return (low is None or flops >= low) and (high is None or flops <= high)

    def with_band(self, min_flops: float | None = None, max_flops: float | None = None,
                  counter: FlopsCounter | None = None) -> SearchSpace:
        """A copy limited to [min_flops, max_flops] multiply-adds (None = open side).

        Args:
            min_flops: lower bound, or None.
            max_flops: upper bound, or None.
            counter: ``Arch -> multiply-adds``; defaults to this space's counter.
        """
        band = parse_band(min_flops, max_flops)
        return SearchSpace(replace(self.spec, flops_band=band), counter or self.counter)

    # --- helpers -----------------------------------------------------------------------------

    def _check_skeleton(self, arch: Arch) -> None:
        for field in SKELETON_FIELDS:
            if getattr(arch, field) != getattr(self.reference, field):
                raise SpecError(field, getattr(arch, field), f"space {self.name} fixes it at "
                                f"{getattr(self.reference, field)!r}")
        strides = tuple(s.stride for s in arch.stages)
        if strides != self._strides:
            raise SpecError("strides", list(strides), f"space {self.name} fixes the stages' "
                            f"strides at {list(self._strides)}")

    def _check_tokens(self, tokens: Sequence[int]) -> tuple[int, ...]:
        if len(tokens) != len(self.cardinalities):
            raise SpecError("tokens", list(tokens), f"space {self.name} takes "
                            f"{len(self.cardinalities)} tokens, got {len(tokens)}")
        try:
            checked = tuple(map(index, tokens))  # ints and numpy ints, not floats
        except TypeError:
            raise SpecError("tokens", list(tokens), "must be integers") from None
        for k, (token, high) in enumerate(zip(checked, self.cardinalities, strict=True)):
            if not 0 <= token < high:
                raise SpecError(f"tokens[{k}]", token,
                                f"{self.decisions[k].name} takes 0..{high - 1}")
        return checked

    def _stage(self, i: int, tokens: tuple[int, ...]) -> Stage:
        key = (i, *tokens)
        stage = self._stages.get(key)
        if stage is None:
            first = len(DECISION_FIELDS) * i
            op, kernel, se, skip, width, layers = (
                self.decisions[first + j].choices[t] for j, t in enumerate(tokens))
            block, expand = op_fields(op)
            stage = Stage(block, expand, kernel, self._strides[i], width, layers, se, skip)
            self._stages[key] = stage
        return stage

    def _rank(self, tokens: tuple[int, ...]) -> int:
        """The tokens as one mixed-radix number: a short, unique id within the space."""
        rank = 0
        for token, high in zip(tokens, self.cardinalities, strict=True):
            rank = rank * high + token
        return rank

    def _band_too_tight(self, what: str) -> SpecError:
        return SpecError("flops_band", list(self.flops_band), f"no {what} of space {self.name} "
                         f"in {BAND_TRIES} tries lie inside it: widen the band")


def space_path(name_or_path: str | Path) -> Path:
    """The file of a bundled space name, or `name_or_path` itself if it is a .yaml path."""
    if isinstance(name_or_path, Path):
        return name_or_path
    found = bundled_space(name_or_path)
    if found is not None:
        return found
    if not name_or_path.endswith((".yaml", ".yml")):
        raise SpecError("space", name_or_path, "neither a bundled space "
                        f"({', '.join(space_names())}) nor a .yaml file")
    return Path(name_or_path)


def load_space(name_or_path: str | Path, counter: FlopsCounter | None = None) -> SearchSpace:
    """Load a bundled search space by name (``b0``, ``mnasnet``) or from a YAML file.

    Args:
        name_or_path: a bundled name or a path to a space file.
        counter: ``Arch -> multiply-adds``, needed only if the file declares `flops_band`.

    Raises:
        SpecError: unknown name, missing file, or an invalid space file (names the field).

    Example:
        >>> space = load_space("b0")
        >>> space.contains(space.reference)
        True
    """
    return SearchSpace(read_space(space_path(name_or_path)), counter)
