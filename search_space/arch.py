"""The block table: an architecture as plain, frozen, validated data.

An `Arch` is the fixed skeleton (stem, head, resolution, regularisation, activation) plus one
`Stage` row per stage. Everything else in nas-search (builder, FLOPs counters, search space,
controllers, export) reads this table; nothing mutates it.

YAML form, one line per stage::

    name: efficientnet-b0
    resolution: 224
    stem: 32
    head: 1280
    act: silu
    dropout: 0.2
    drop_path: 0.2
    stages:
    - {block: mbconv, expand: 1, kernel: 3, stride: 1, out: 16, repeats: 1, se: 0.25, skip: id}
    - ...
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from search_space.errors import SpecError
from search_space.validators import check_keys, choice, fraction, integer
from search_space.yaml_file import parse_yaml, read_yaml

BLOCKS = ("mbconv", "conv")
KERNELS = (1, 3, 5, 7)
STRIDES = (1, 2)
SKIPS = ("id", "none")
ACTS = ("silu", "relu")


# Sane bounds: far beyond EfficientNet-B7 / L2, yet small enough that counting FLOPs returns and
# a one-image forward pass fits in memory (a typo like `repeats: 1000000000` is caught here).
MAX_RESOLUTION = 4096
MAX_CHANNELS = 1 << 16
MAX_REPEATS = 100
MAX_EXPAND = 64
MAX_STAGES = 64
MAX_CLASSES = 1 << 20


@dataclass(frozen=True)
class Stage:
    """One stage: `repeats` identical layers; only the first strides and changes width.

    Args:
        block: ``mbconv`` (inverted bottleneck; expand=1 is MnasNet's SepConv / MBConv1, no
            expansion conv) or ``conv`` (a plain kxk conv + BN + act; expand must be 1).
        expand: expansion ratio of the 1x1 conv of an MBConv.
        kernel: depthwise (mbconv) or full (conv) kernel size.
        stride: stride of the stage's first layer.
        out: output channels of every layer of the stage.
        repeats: number of layers.
        se: squeeze-and-excitation ratio of the block's *input* channels (0 = no SE).
        skip: ``id`` (identity residual where stride 1 and in == out) or ``none``.
    """

    block: str = "mbconv"
    expand: int = 6
    kernel: int = 3
    stride: int = 1
    out: int = 16
    repeats: int = 1
    se: float = 0.0
    skip: str = "id"

    def __post_init__(self) -> None:
        choice("block", self.block, BLOCKS)
        integer("expand", self.expand, 1, MAX_EXPAND)
        if self.block == "conv" and self.expand != 1:
            raise SpecError("expand", self.expand, "a conv block has no expansion: use 1")
        integer("kernel", self.kernel, choices=KERNELS)
        integer("stride", self.stride, choices=STRIDES)
        integer("out", self.out, 1, MAX_CHANNELS)
        integer("repeats", self.repeats, 1, MAX_REPEATS)
        object.__setattr__(self, "se", fraction("se", self.se))
        choice("skip", self.skip, SKIPS)

    @property
    def op(self) -> str:
        """MnasNet's ConvOp name: ``conv``, ``mbconv1`` (SepConv), ``mbconv3``, ``mbconv6``..."""
        return "conv" if self.block == "conv" else f"mbconv{self.expand}"

    def block_string(self) -> str:
        """timm's block string, e.g. ``ir_r2_k3_s2_e6_c24_se0.25`` (see
        `search_space.timm_format`; timm's ``cn`` skips only when told ``skip``)."""
        kind = {"conv": "cn", "mbconv": "ds" if self.expand == 1 else "ir"}[self.block]
        parts = [kind, f"r{self.repeats}", f"k{self.kernel}", f"s{self.stride}"]
        if kind == "ir":
            parts.append(f"e{self.expand}")
        parts.append(f"c{self.out}")
        if self.se:
            parts.append(f"se{self.se:g}")
        if kind == "cn":
            parts += ["skip"] if self.skip == "id" else []
        elif self.skip == "none":
            parts.append("noskip")
        return "_".join(parts)


STAGE_FIELDS = tuple(f.name for f in dataclasses.fields(Stage))


@dataclass(frozen=True)
class Arch:
    """A whole network as a block table. Hashable, comparable (ignoring `name`), plain data.

    Args:
        stages: one `Stage` per stage, input to output.
        stem: output channels of the 3x3 stem conv.
        head: channels of the final 1x1 conv before pooling.
        resolution: the input resolution the architecture is meant for (deployment size).
        act: activation everywhere, SE included (``silu`` = swish, ``relu``).
        dropout: dropout before the classifier.
        drop_path: stochastic-depth rate of the last block; block i gets drop_path * i / n.
        stem_stride: stride of the stem conv: 2 (ImageNet skeletons) or 1 (small-image
            skeletons such as `efficientnet-b0-small`, for 32-64 px inputs). Written to YAML
            only when it is not 2, so existing block tables read and write unchanged.
        name: a label for people; not part of equality.
    """

    stages: tuple[Stage, ...]
    stem: int = 32
    head: int = 1280
    resolution: int = 224
    act: str = "silu"
    dropout: float = 0.2
    drop_path: float = 0.2
    stem_stride: int = 2
    name: str = dataclasses.field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.stages, tuple) or not 1 <= len(self.stages) <= MAX_STAGES:
            raise SpecError("stages", f"{len(self.stages)} rows" if isinstance(
                self.stages, tuple) else self.stages, f"must be 1 to {MAX_STAGES} stage rows")
        for i, stage in enumerate(self.stages):
            if not isinstance(stage, Stage):
                raise SpecError(f"stages[{i}]", stage, "must be a Stage")
        integer("stem", self.stem, 1, MAX_CHANNELS)
        integer("head", self.head, 1, MAX_CHANNELS)
        integer("resolution", self.resolution, 8, MAX_RESOLUTION)
        integer("stem_stride", self.stem_stride, choices=STRIDES)
        choice("act", self.act, ACTS)
        if not isinstance(self.name, str):
            raise SpecError("name", self.name, "must be a string")
        object.__setattr__(self, "dropout", fraction("dropout", self.dropout))
        object.__setattr__(self, "drop_path", fraction("drop_path", self.drop_path))

    @property
    def num_blocks(self) -> int:
        return sum(s.repeats for s in self.stages)

    def replace(self, **changes: Any) -> Arch:
        return dataclasses.replace(self, **changes)

    # --- YAML -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        head = {k: getattr(self, k) for k in ("name", "resolution", "stem", "head", "act")}
        if self.stem_stride != 2:
            head["stem_stride"] = self.stem_stride
        head.update(dropout=self.dropout, drop_path=self.drop_path)
        head["stages"] = [dataclasses.asdict(s) for s in self.stages]
        return head

    def to_yaml(self) -> str:
        """The block table as YAML, one flow-style line per stage."""
        lines = [f"{k}: {_scalar(v)}" for k, v in self.to_dict().items() if k != "stages"]
        lines.append("stages:")
        for stage in self.stages:
            row = ", ".join(f"{k}: {_scalar(getattr(stage, k))}" for k in STAGE_FIELDS)
            lines.append(f"- {{{row}}}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> Arch:
        try:
            return _arch_from_dict(data)
        except SpecError as err:
            raise (err.with_source(source) if source else err) from None

    @classmethod
    def from_yaml(cls, text_or_path: str | Path) -> Arch:
        """Parse a block table from YAML text or a path to a YAML file (safe loader only)."""
        if _is_path(text_or_path):
            source = str(text_or_path)
            return cls.from_dict(read_yaml(text_or_path), source)
        return cls.from_dict(parse_yaml(text_or_path))


def _scalar(value: Any) -> str:
    if type(value) is int:  # most fields: yaml's emitter costs ~0.1 ms a value, a row per trial
        return str(value)
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("\n...").strip()


def _is_path(text_or_path: str | Path) -> bool:
    return isinstance(text_or_path, Path) or ("\n" not in text_or_path and
                                              text_or_path.endswith((".yaml", ".yml")))


def _stage_from_dict(i: int, row: Any) -> Stage:
    if not isinstance(row, dict):
        raise SpecError(f"stages[{i}]", row, "must be a mapping of stage fields")
    check_keys(row, STAGE_FIELDS, f"stages[{i}].")
    missing = [k for k in STAGE_FIELDS if k not in row]
    if missing:
        raise SpecError(f"stages[{i}].{missing[0]}", None, "missing")
    try:
        return Stage(**row)
    except SpecError as err:
        raise err.within(f"stages[{i}].") from None


def _arch_from_dict(data: Any) -> Arch:
    if not isinstance(data, dict):
        raise SpecError("(top level)", data, "a block table must be a YAML mapping")
    check_keys(data, sorted(f.name for f in dataclasses.fields(Arch)))
    missing = [k for k in ("stages", "resolution", "stem", "head") if k not in data]
    if missing:
        raise SpecError(missing[0], None, "missing")
    rows = data["stages"]
    if not isinstance(rows, list) or not rows:
        raise SpecError("stages", rows, "must be a non-empty list of stage rows")
    stages = tuple(_stage_from_dict(i, row) for i, row in enumerate(rows))
    rest = {k: v for k, v in data.items() if k != "stages"}
    if rest.get("name") is None:
        rest["name"] = ""
    return Arch(stages=stages, **rest)
