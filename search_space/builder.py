"""`build_model`: a pure function from block table to `nn.Module`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from search_space.arch import Arch, Stage
from search_space.blocks import ACT_LAYERS, ConvBlock, ConvBnAct, MBConv


@dataclass(frozen=True)
class Layer:
    """One concrete layer of a table: a stage row unrolled with its own in/out and stride."""

    stage: Stage
    index: int  # global block index, 0-based
    in_chs: int
    stride: int


def layers(arch: Arch) -> Iterator[Layer]:
    """Unroll the table: only a stage's first layer strides and changes channels."""
    in_chs, index = arch.stem, 0
    for stage in arch.stages:
        for r in range(stage.repeats):
            yield Layer(stage, index, in_chs, stage.stride if r == 0 else 1)
            in_chs, index = stage.out, index + 1


class EfficientNet(nn.Module):
    """stem -> stages of blocks -> 1x1 head conv -> global pool -> dropout -> classifier."""

    def __init__(self, stem: nn.Module, blocks: nn.Sequential, head: nn.Module,
                 head_chs: int, num_classes: int, dropout: float):
        super().__init__()
        self.stem, self.blocks, self.head = stem, blocks, head
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(head_chs, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(x.mean((2, 3))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _block(layer: Layer, arch: Arch) -> nn.Module:
    s, act = layer.stage, ACT_LAYERS[arch.act]
    drop_path = arch.drop_path * layer.index / arch.num_blocks
    common = dict(kernel=s.kernel, stride=layer.stride, se_ratio=s.se, skip=s.skip == "id",
                  drop_path=drop_path, act_layer=act)
    if s.block == "conv":
        return ConvBlock(layer.in_chs, s.out, **common)
    return MBConv(layer.in_chs, s.out, exp_ratio=s.expand, **common)


def build_model(arch: Arch, num_classes: int = 1000) -> EfficientNet:
    """Build the network a block table describes (TF/timm EfficientNet conventions).

    Args:
        arch: the block table.
        num_classes: classifier outputs.

    Example:
        >>> from search_space import build_model, preset
        >>> model = build_model(preset("efficientnet-b0"))
    """
    act = ACT_LAYERS[arch.act]
    stem = ConvBnAct(3, arch.stem, 3, arch.stem_stride, act_layer=act)
    blocks = nn.Sequential(*(_block(layer, arch) for layer in layers(arch)))
    head = ConvBnAct(arch.stages[-1].out, arch.head, 1, act_layer=act)
    return EfficientNet(stem, blocks, head, arch.head, num_classes, arch.dropout)
