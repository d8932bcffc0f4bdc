"""Build a block table with timm (optional extra ``[timm]``), from its `arch_def` strings."""

from __future__ import annotations

from torch import nn

from search_space import Arch
from search_space.errors import SpecError
from search_space.timm_format import timm_arch_def

TIMM_ACTS = {"silu": nn.SiLU, "relu": nn.ReLU}


def build_timm_model(arch: Arch, num_classes: int = 1000) -> nn.Module:
    """timm's ``EfficientNet`` for `arch`: channels as written (no rounding), stem fixed."""
    try:
        from timm.models._efficientnet_builder import decode_arch_def
        from timm.models.efficientnet import EfficientNet
    except ImportError as err:
        raise SpecError("timm", "not importable", f"pip install 'nas-search[timm]' ({err})") \
            from None
    return EfficientNet(
        decode_arch_def(timm_arch_def(arch)), num_classes=num_classes, num_features=arch.head,
        stem_size=arch.stem, fix_stem=True, round_chs_fn=lambda chs: chs,
        act_layer=TIMM_ACTS[arch.act], drop_rate=arch.dropout, drop_path_rate=arch.drop_path)
