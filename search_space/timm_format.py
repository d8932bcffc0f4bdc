"""timm interop without importing timm: `arch_def` block strings and state-dict name mapping.

timm (``timm.models._efficientnet_builder``) describes an EfficientNet by one list of block
strings per stage, ``decode_arch_def(arch_def)`` turns them into block kwargs, and
``timm.models.efficientnet.EfficientNet(block_args, stem_size=..., num_features=...,
fix_stem=True, round_chs_fn=<identity>, act_layer=...)`` builds the model (see
`nas.outputs.timm_model`). The strings, per stage:

- ``ds_r{n}_k{k}_s{s}_c{out}[_se{r}][_noskip]``: expand 1 (DepthwiseSeparableConv);
- ``ir_r{n}_k{k}_s{s}_e{e}_c{out}[_se{r}][_noskip]``: MBConv (InvertedResidual);
- ``cn_r{n}_k{k}_s{s}_c{out}[_skip]``: a plain conv (ConvBnAct: timm's has no SE, and a skip
  only when asked for).

SE semantics agree: timm divides ``se`` by the expansion ratio and applies it to the expanded
channels (``round(mid * se / e)``); this project sizes SE from the block input
(``int(in * se)``). The two are checked to give the same width, as are timm's expanded widths
(``make_divisible(in * e)``, multiples of 8); a table they cannot represent is a SpecError.

State dicts differ only in names (timm: ``conv_stem``/``bn1``, ``blocks.STAGE.I.conv_pw``/
``bn1``..., ``conv_head``/``bn2``; here: ``stem.0``/``stem.1``, ``blocks.FLAT.conv_pw.0``/``.1``,
``head.0``/``head.1``): `to_timm_state_dict` and `from_timm_state_dict` rename, nothing else.
Only timm's ``efficientnet_b*`` / ``mnasnet_*`` layouts (symmetric padding, BN eps 1e-5) compute
what `build_model` computes; ``tf_efficientnet_*`` weights load but expect TF 'same' padding
and BN eps 1e-3, so their outputs differ here.
"""

from __future__ import annotations

import torch

from search_space.arch import Arch, Stage
from search_space.blocks import se_channels
from search_space.errors import SpecError

# our module prefix inside a block -> timm's, per timm block type
BLOCK_NAMES = {
    "ir": {"conv_pw.0": "conv_pw", "conv_pw.1": "bn1", "conv_dw.0": "conv_dw",
           "conv_dw.1": "bn2", "se": "se", "conv_pwl.0": "conv_pwl", "conv_pwl.1": "bn3"},
    "ds": {"conv_dw.0": "conv_dw", "conv_dw.1": "bn1", "se": "se", "conv_pwl.0": "conv_pw",
           "conv_pwl.1": "bn2"},
    "cn": {"conv.0": "conv", "conv.1": "bn1"},
}
OUTER_NAMES = {"stem.0": "conv_stem", "stem.1": "bn1", "head.0": "conv_head", "head.1": "bn2",
               "classifier": "classifier"}


def block_type(stage: Stage) -> str:
    if stage.block == "conv":
        return "cn"
    return "ds" if stage.expand == 1 else "ir"


def make_divisible(v: float, divisor: int = 8, round_limit: float = 0.9) -> int:
    """timm's channel rounding (``timm.layers.make_divisible``)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < round_limit * v else new_v


def _check_layer(i: int, stage: Stage, in_chs: int) -> None:
    kind = block_type(stage)
    if kind == "cn" and stage.se:
        raise SpecError(f"stages[{i}].se", stage.se, "timm's conv block (cn) has no SE")
    if kind == "ir" and make_divisible(in_chs * stage.expand) != in_chs * stage.expand:
        raise SpecError(f"stages[{i}].expand", stage.expand,
                        f"timm rounds the expanded width {in_chs} x {stage.expand} to "
                        f"{make_divisible(in_chs * stage.expand)} (a multiple of 8)")
    if stage.se and kind != "cn":
        mid = in_chs * stage.expand
        timm_se = round(mid * (float(f"{stage.se:g}") / float(stage.expand)))
        if timm_se != se_channels(in_chs, stage.se):
            raise SpecError(f"stages[{i}].se", stage.se,
                            f"timm sizes this SE {timm_se} wide, this project "
                            f"{se_channels(in_chs, stage.se)} (input {in_chs} channels)")


def timm_arch_def(arch: Arch) -> list[list[str]]:
    """timm's ``arch_def`` (one list per stage); SpecError if timm cannot build it exactly."""
    in_chs = arch.stem
    for i, stage in enumerate(arch.stages):
        for r in range(stage.repeats):
            _check_layer(i, stage, in_chs if r == 0 else stage.out)
        in_chs = stage.out
    return [[stage.block_string()] for stage in arch.stages]


def name_map(arch: Arch) -> dict[str, str]:
    """Our module prefixes -> timm's (our blocks are one flat list, timm's nest per stage)."""
    names, index = dict(OUTER_NAMES), 0
    for s, stage in enumerate(arch.stages):
        for r in range(stage.repeats):
            for ours, theirs in BLOCK_NAMES[block_type(stage)].items():
                names[f"blocks.{index}.{ours}"] = f"blocks.{s}.{r}.{theirs}"
            index += 1
    return names


def _rename(state: dict[str, torch.Tensor], prefixes: dict[str, str],
            what: str) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        module, _, leaf = key.rpartition(".")
        head = module
        while head and head not in prefixes:  # the longest known prefix (se.conv_reduce -> se)
            head = head.rpartition(".")[0]
        if not head:
            raise SpecError("weights", key, f"no counterpart in {what}")
        out[f"{prefixes[head]}{module[len(head):]}.{leaf}"] = value
    return out


def to_timm_state_dict(state: dict[str, torch.Tensor], arch: Arch) -> dict[str, torch.Tensor]:
    """Our `build_model(arch)` state dict under timm's EfficientNet names."""
    return _rename(state, name_map(arch), "timm's EfficientNet")


def from_timm_state_dict(state: dict[str, torch.Tensor],
                         arch: Arch) -> dict[str, torch.Tensor]:
    """A timm EfficientNet state dict under `build_model(arch)`'s names."""
    inverse = {theirs: ours for ours, theirs in name_map(arch).items()}
    return _rename(state, inverse, f"the block table {arch.name or ''}".rstrip())


def is_timm_state_dict(state: dict[str, torch.Tensor]) -> bool:
    return "conv_stem.weight" in state
