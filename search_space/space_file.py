"""The YAML form of a factorized search space: parsing and validation into a `SpaceSpec`.

A space file names a reference block table (the fixed skeleton: resolution, stem, head, act,
dropout, drop_path, number of stages and each stage's stride) and the decision lists of MnasNet
§4.1 shared by every stage, with optional per-stage overrides::

    name: mnasnet
    reference: {resolution: 224, stem: 32, head: 1280, ..., stages: [...]}  # or a preset name
    choices:
      op: [conv, mbconv1, mbconv3, mbconv6]   # conv = plain kxk conv; mbconvN = expansion N
      kernel: [3, 5]
      se: [0.0, 0.25]
      skip: [id, none]
      width_multipliers: [0.75, 1.0, 1.25]    # x the reference stage's `out`, rounded to 8
      layer_deltas: [-1, 0, 1]                # + the reference stage's `repeats`, at least 1
    stages:                                   # optional, stage1 .. stageN
      stage5: {widths: [72, 96, 112, 120]}    # explicit: op, kernel, se, skip, widths, layers
    flops_band: [null, 4.0e+8]                # optional; needs a FLOPs counter from the caller

Widths from multipliers that round to the same channels, and layer counts below 1, are dropped
(a stage cannot vanish: its stride is part of the skeleton). The reference must lie in the space.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search_space.arch import KERNELS, MAX_CHANNELS, MAX_REPEATS, SKIPS, Arch, Stage
from search_space.errors import SpecError
from search_space.presets import PRESETS
from search_space.scaling import round_filters
from search_space.validators import check_keys, fraction, integer, number, positive
from search_space.yaml_file import read_yaml

# Order of a stage's decisions, hence of its tokens.
DECISION_FIELDS = ("op", "kernel", "se", "skip", "width", "layers")
CHOICE_KEYS = ("op", "kernel", "se", "skip", "width_multipliers", "layer_deltas")
STAGE_KEYS = ("op", "kernel", "se", "skip", "widths", "layers")
TOP_KEYS = ("name", "reference", "choices", "stages", "flops_band")

Band = tuple[float | None, float | None]


@dataclass(frozen=True)
class StageChoices:
    """The choice lists of one stage, one per decision (fields in `DECISION_FIELDS` order)."""

    op: tuple[str, ...]
    kernel: tuple[int, ...]
    se: tuple[float, ...]
    skip: tuple[str, ...]
    width: tuple[int, ...]
    layers: tuple[int, ...]


@dataclass(frozen=True)
class SpaceSpec:
    """A parsed space file: the reference (skeleton) and per-stage choices."""

    name: str
    reference: Arch
    stages: tuple[StageChoices, ...]
    flops_band: Band = (None, None)


def op_fields(op: str) -> tuple[str, int]:
    """(block, expand) of a ConvOp name: ``conv`` -> (conv, 1), ``mbconv6`` -> (mbconv, 6)."""
    if op == "conv":
        return "conv", 1
    digits = op.removeprefix("mbconv") if isinstance(op, str) else ""
    if op == digits or not (digits.isascii() and digits.isdigit()) or int(digits) < 1:
        raise SpecError("op", op, "must be conv or mbconvN with an expansion N >= 1")
    return "mbconv", int(digits)


def stage_values(stage: Stage) -> tuple[Any, ...]:
    """A stage row's value for each decision, in `DECISION_FIELDS` order."""
    return stage.op, stage.kernel, stage.se, stage.skip, stage.out, stage.repeats


# --- item checks: each returns the normalised value or raises SpecError ----------------------

def _op(value: Any) -> str:
    block, expand = op_fields(value)
    return block if block == "conv" else f"mbconv{expand}"  # canonical, as `Stage.op` names it


def _kernel(value: Any) -> int:
    if _integer(value) not in KERNELS:
        raise SpecError("value", value, f"must be one of {', '.join(map(str, KERNELS))}")
    return value


def _se(value: Any) -> float:
    return fraction("value", value)


def _skip(value: Any) -> str:
    if value not in SKIPS:
        raise SpecError("skip", value, f"must be one of {', '.join(SKIPS)} (pooling: see docs)")
    return value


def _multiplier(value: Any) -> float:
    return positive("value", value)


def _integer(value: Any) -> int:
    return integer("value", value)


def _positive(value: Any) -> int:
    return integer("value", value, 1)


CHOICE_CHECKS: dict[str, Callable[[Any], Any]] = {
    "op": _op, "kernel": _kernel, "se": _se, "skip": _skip,
    "width_multipliers": _multiplier, "layer_deltas": _integer,
    "widths": _positive, "layers": _positive,
}


def _list(field: str, value: Any) -> tuple[Any, ...]:
    """A non-empty, duplicate-free YAML list, each item checked by `CHOICE_CHECKS[key]`."""
    if not isinstance(value, list) or not value:
        raise SpecError(field, value, "must be a non-empty list")
    check = CHOICE_CHECKS[field.rsplit(".", 1)[-1]]
    items = []
    for i, item in enumerate(value):
        try:
            items.append(check(item))
        except SpecError as err:
            raise SpecError(f"{field}[{i}]", item, err.reason) from None
    if len(set(items)) != len(items):
        raise SpecError(field, value, "has a duplicate choice")
    return tuple(items)


def _mapping(field: str, value: Any, keys: tuple[str, ...], required: tuple[str, ...]) -> dict:
    """A YAML mapping with only `keys` and all of `required`; field "" is the top level."""
    if not isinstance(value, dict):
        raise SpecError(field or "(top level)", value, "must be a mapping")
    prefix = f"{field}." if field else ""
    check_keys(value, keys, prefix)
    for key in required:
        if key not in value:
            raise SpecError(f"{prefix}{key}", None, "missing")
    return value


# --- the file's parts ------------------------------------------------------------------------

def _reference(value: Any) -> Arch:
    if isinstance(value, str):
        if value not in PRESETS:
            raise SpecError("reference", value, f"unknown preset (known: {', '.join(PRESETS)})")
        return PRESETS[value]
    if not isinstance(value, dict):
        raise SpecError("reference", value, "must be a preset name or a block table mapping")
    try:
        return Arch.from_dict(value)
    except SpecError as err:
        raise err.within("reference.") from None


def _stage_choices(ref: Stage, shared: dict[str, tuple], own: dict[str, tuple]) -> StageChoices:
    """Merge shared lists and a stage's overrides; derive widths and layers from the reference."""
    widths = own.get("widths") or tuple(dict.fromkeys(
        round_filters(ref.out, m) for m in shared["width_multipliers"]))
    layers = own.get("layers") or tuple(dict.fromkeys(
        ref.repeats + d for d in shared["layer_deltas"] if ref.repeats + d >= 1))
    if not layers:
        raise SpecError("choices.layer_deltas", list(shared["layer_deltas"]),
                        f"leaves no layer count >= 1 for a reference of {ref.repeats}")
    lists = {k: own.get(k, shared[k]) for k in ("op", "kernel", "se", "skip")}
    return StageChoices(**lists, width=widths, layers=layers)


def _list_source(field: str, own: dict[str, tuple], stage_key: str) -> str:
    """The YAML field a stage's list came from, for error messages."""
    override = {"width": "widths"}.get(field, field)
    if override in own:
        return f"stages.{stage_key}.{override}"
    return "choices." + {"width": "width_multipliers", "layers": "layer_deltas"}.get(field, field)


def _check_bounds(choices: StageChoices, own: dict, stage_key: str) -> None:
    """Widths and layer counts a block table can hold (a delta of 10^9 is a typo)."""
    for name, most in (("width", MAX_CHANNELS), ("layers", MAX_REPEATS)):
        for value in getattr(choices, name):
            if value > most:
                raise SpecError(_list_source(name, own, stage_key), value,
                                f"gives {stage_key} {value} {name}; at most {most:,}")


def _check_reference(ref: Stage, choices: StageChoices, own: dict, stage_key: str) -> None:
    for field, value in zip(DECISION_FIELDS, stage_values(ref), strict=True):
        options = getattr(choices, field)
        if value not in options:
            raise SpecError(_list_source(field, own, stage_key), list(options),
                            f"lacks the reference {stage_key} {field} {value!r}")


def _overrides(value: Any, count: int) -> dict[str, dict[str, tuple]]:
    known = tuple(f"stage{i}" for i in range(1, count + 1))
    table = _mapping("stages", {} if value is None else value, known, ())
    return {key: {k: _list(f"stages.{key}.{k}", v)
                  for k, v in _mapping(f"stages.{key}", row, STAGE_KEYS, ()).items()}
            for key, row in table.items()}


def parse_band(low: Any, high: Any) -> Band:
    """A (min, max) band of multiply-adds; None leaves that side open."""
    try:
        band = tuple(None if v is None else number("value", v, 0.0)
                     for v in (low, high))
    except SpecError as err:
        raise SpecError("flops_band", [low, high], err.reason) from None
    if band[0] is not None and band[1] is not None and band[0] > band[1]:
        raise SpecError("flops_band", [low, high], "min must not exceed max")
    return band  # type: ignore[return-value]


def _band(value: Any) -> Band:
    if value is None:
        return None, None
    if not isinstance(value, list) or len(value) != 2:
        raise SpecError("flops_band", value, "must be [min, max] (null for an open side)")
    return parse_band(*value)


def parse_space(data: Any) -> SpaceSpec:
    """Validate a loaded space file (a mapping) into a `SpaceSpec`."""
    data = _mapping("", data, TOP_KEYS, ("name", "reference", "choices"))
    if not isinstance(data["name"], str) or not data["name"]:
        raise SpecError("name", data["name"], "must be a non-empty string")
    reference = _reference(data["reference"])
    raw = _mapping("choices", data["choices"], CHOICE_KEYS, CHOICE_KEYS)
    shared = {k: _list(f"choices.{k}", v) for k, v in raw.items()}
    overrides = _overrides(data.get("stages"), len(reference.stages))
    stages = []
    for i, ref in enumerate(reference.stages, 1):
        own = overrides.get(f"stage{i}", {})
        choices = _stage_choices(ref, shared, own)
        _check_reference(ref, choices, own, f"stage{i}")
        _check_bounds(choices, own, f"stage{i}")
        stages.append(choices)
    return SpaceSpec(data["name"], reference, tuple(stages), _band(data.get("flops_band")))


def read_space(path: Path) -> SpaceSpec:
    """Read and validate a space file (safe YAML loader); errors name the file."""
    data = read_yaml(path, "space")
    try:
        return parse_space(data)
    except SpecError as err:
        raise err.with_source(str(path)) from None
