"""Torch building blocks in TF/timm EfficientNet conventions.

Blocks take explicit kwargs, never a table row or config. Optional parts are `nn.Identity`, and
whether a block has a residual is decided once in `__init__`, so each `forward` reads straight.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

ActLayer = Callable[[], nn.Module]

ACT_LAYERS: dict[str, ActLayer] = {
    "silu": lambda: nn.SiLU(inplace=True),
    "relu": lambda: nn.ReLU(inplace=True),
}


def se_channels(in_chs: int, se_ratio: float) -> int:
    """SE width from the block's *input* channels, as TF and torchvision size it."""
    return max(1, int(in_chs * se_ratio))


class ConvBnAct(nn.Sequential):
    """kxk conv (no bias, 'same'-style symmetric padding) + BN + optional activation."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int = 1, stride: int = 1,
                 groups: int = 1, act_layer: ActLayer | None = None):
        super().__init__(
            nn.Conv2d(in_chs, out_chs, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_chs),
            act_layer() if act_layer else nn.Identity(),
        )


class SqueezeExcite(nn.Module):
    """Global mean -> 1x1 reduce -> act -> 1x1 expand -> sigmoid gate (both 1x1 with bias)."""

    def __init__(self, chs: int, rd_chs: int, act_layer: ActLayer):
        super().__init__()
        self.conv_reduce = nn.Conv2d(chs, rd_chs, 1)
        self.act = act_layer()
        self.conv_expand = nn.Conv2d(rd_chs, chs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # mean rather than adaptive_avg_pool2d: same result, and no pooling op for FLOP counters
        s = x.mean((2, 3), keepdim=True)
        return x * self.conv_expand(self.act(self.conv_reduce(s))).sigmoid()


class DropPath(nn.Module):
    """Stochastic depth per sample; scales survivors so inference needs no rescaling."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0], 1, 1, 1)).bernoulli_(keep)
        return x * mask / keep


class _Residual(nn.Module):
    """Shared tail: drop path on the residual branch, only where a skip exists."""

    has_skip: bool
    drop_path: nn.Module

    def _init_skip(self, in_chs: int, out_chs: int, stride: int, skip: bool,
                   drop_path: float) -> None:
        self.has_skip = skip and stride == 1 and in_chs == out_chs
        self.drop_path = DropPath(drop_path) if self.has_skip and drop_path else nn.Identity()

    def _finish(self, x: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
        return self.drop_path(x) + shortcut if self.has_skip else x


class MBConv(_Residual):
    """Mobile inverted bottleneck: [1x1 expand] -> kxk depthwise -> SE -> 1x1 project.

    With exp_ratio == 1 there is no expansion conv (MnasNet's SepConv, EfficientNet's MBConv1).
    """

    def __init__(self, in_chs: int, out_chs: int, kernel: int = 3, stride: int = 1,
                 exp_ratio: int = 6, se_ratio: float = 0.0, skip: bool = True,
                 drop_path: float = 0.0, act_layer: ActLayer = ACT_LAYERS["silu"]):
        super().__init__()
        mid_chs = in_chs * exp_ratio
        self.conv_pw = (ConvBnAct(in_chs, mid_chs, 1, act_layer=act_layer)
                        if exp_ratio != 1 else nn.Identity())
        self.conv_dw = ConvBnAct(mid_chs, mid_chs, kernel, stride, groups=mid_chs,
                                 act_layer=act_layer)
        self.se = (SqueezeExcite(mid_chs, se_channels(in_chs, se_ratio), act_layer)
                   if se_ratio else nn.Identity())
        self.conv_pwl = ConvBnAct(mid_chs, out_chs, 1)
        self._init_skip(in_chs, out_chs, stride, skip, drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv_pwl(self.se(self.conv_dw(self.conv_pw(x))))
        return self._finish(x, shortcut)


class ConvBlock(_Residual):
    """MnasNet's regular conv op: kxk conv + BN + act, optional SE, optional residual."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int = 3, stride: int = 1,
                 se_ratio: float = 0.0, skip: bool = True, drop_path: float = 0.0,
                 act_layer: ActLayer = ACT_LAYERS["silu"]):
        super().__init__()
        self.conv = ConvBnAct(in_chs, out_chs, kernel, stride, act_layer=act_layer)
        self.se = (SqueezeExcite(out_chs, se_channels(in_chs, se_ratio), act_layer)
                   if se_ratio else nn.Identity())
        self._init_skip(in_chs, out_chs, stride, skip, drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._finish(self.se(self.conv(x)), x)
