"""Named block tables: EfficientNet-B0..B7 and MnasNet-A1 (TF `efficientnet_builder.py`,
`mnasnet_models.py`; see shared/reference/efficientnet_facts.md)."""

from __future__ import annotations

import dataclasses

from search_space.arch import Arch, Stage
from search_space.errors import SpecError
from search_space.scaling import scale_by

# The two papers' networks share one skeleton, the stage strides (so each stage's feature-map
# side); per stage, each has its own (expand, kernel, out, repeats, SE ratio) of MBConv blocks.
#        stride  EfficientNet-B0           MnasNet-A1
SKELETON = (
    (1, (1, 3, 16, 1, 0.25), (1, 3, 16, 1, 0.0)),     # 112 px (A1: SepConv, no residual)
    (2, (6, 3, 24, 2, 0.25), (6, 3, 24, 2, 0.0)),     # 112 -> 56
    (2, (6, 5, 40, 2, 0.25), (3, 5, 40, 3, 0.25)),    # 56 -> 28
    (2, (6, 3, 80, 3, 0.25), (6, 3, 80, 4, 0.0)),     # 28 -> 14
    (1, (6, 5, 112, 3, 0.25), (6, 3, 112, 2, 0.25)),  # 14
    (2, (6, 5, 192, 4, 0.25), (6, 5, 160, 3, 0.25)),  # 14 -> 7
    (1, (6, 3, 320, 1, 0.25), (6, 3, 320, 1, 0.0)),   # 7
)


def _stages(column: int) -> tuple[Stage, ...]:
    """One network's MBConv stages from `SKELETON` (column 0: B0, 1: MnasNet-A1)."""
    return tuple(Stage("mbconv", e, k, stride, out, n, se)
                 for stride, *nets in SKELETON for e, k, out, n, se in [nets[column]])


EFFICIENTNET_B0 = Arch(
    name="efficientnet-b0", resolution=224, stem=32, head=1280, act="silu",
    dropout=0.2, drop_path=0.2, stages=_stages(0),
)

MNASNET_A1 = Arch(
    name="mnasnet-a1", resolution=224, stem=32, head=1280, act="relu",
    dropout=0.2, drop_path=0.0,
    stages=(dataclasses.replace(_stages(1)[0], skip="none"), *_stages(1)[1:]),
)

# B0's stages in a small-image skeleton (32-64 px, e.g. CIFAR-10): a stride-1 stem and stage
# strides [1, 1, 2, 2, 1, 2, 1] (B0: stem 2, [1, 2, 2, 2, 1, 2, 1]) give output stride 8, so the
# last stages see 4x4 maps at 32 px instead of B0's 1x1, where their kernel choice cannot matter.
# Same params as B0; the same "stride-1 stem" change that lifts B0 on CIFAR-10 from ~86 to ~93%.
EFFICIENTNET_B0_SMALL = EFFICIENTNET_B0.replace(
    name="efficientnet-b0-small", resolution=32, stem_stride=1,
    stages=tuple(dataclasses.replace(s, stride=stride)
                 for s, stride in zip(EFFICIENTNET_B0.stages, (1, 1, 2, 2, 1, 2, 1), strict=True)),
)

# Official (width, depth, resolution, dropout), TF `efficientnet_params`. Hand-tuned: these are
# not (beta^phi, alpha^phi, gamma^phi) for any single phi.
EFFICIENTNET_PARAMS: dict[str, tuple[float, float, int, float]] = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}


def _efficientnet(variant: str) -> Arch:
    width, depth, res, dropout = EFFICIENTNET_PARAMS[variant]
    return scale_by(EFFICIENTNET_B0, width, depth, res, dropout, name=f"efficientnet-{variant}")


PRESETS: dict[str, Arch] = {f"efficientnet-{v}": _efficientnet(v) for v in EFFICIENTNET_PARAMS}
PRESETS["mnasnet-a1"] = MNASNET_A1
PRESETS["efficientnet-b0-small"] = EFFICIENTNET_B0_SMALL


def preset(name: str) -> Arch:
    """The named block table (`efficientnet-b0` ... `efficientnet-b7`, `mnasnet-a1`,
    `efficientnet-b0-small`)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise SpecError("preset", name, f"unknown (known: {', '.join(PRESETS)})") from None


def load_arch(name_or_path: str) -> Arch:
    """A preset by name, else a YAML block table from a path."""
    if name_or_path in PRESETS:
        return PRESETS[name_or_path]
    if not name_or_path.endswith((".yaml", ".yml")):
        raise SpecError("arch", name_or_path,
                        f"neither a preset ({', '.join(PRESETS)}) nor a .yaml block table")
    return Arch.from_yaml(name_or_path)
