"""`Supernet`: one weight-sharing network that holds every candidate of a `SearchSpace`.

Each layer slot (stage i, position r) keeps the *largest* weights of every op kind the stage
offers, and a candidate is a path through them (single-path one-shot, as SPOS and OFA):

- elastic kernel: a kxk conv is the centre of the largest kernel's weights (OFA, no transform);
- elastic width and expansion: a path takes the first channels of each conv and of its BN (the
  running statistics are sliced alike, so a subnet inherits them too); ``mbconv3`` is the first
  half of ``mbconv6``'s expanded channels;
- op kinds with different shapes keep their own weights: ``conv`` (plain kxk conv), ``mbconv1``
  (no expansion conv), and one shared set for every ``mbconvN`` with N > 1;
- SE on/off: the SE width follows the block's input channels, as `build_model` sizes it;
- skip: an identity residual where stride 1 and in == out, as the builder decides;
- elastic depth: a stage with n layers runs the first n slots.

`supernet(x, arch)` runs one path; `supernet.subnet(arch)` is `build_model(arch, num_classes)`
with the path's weights and BN statistics copied in, so in eval mode both give the same outputs.
Stochastic depth is not applied on a path (the standalone model still has it for retraining).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from search_space.arch import Arch, Stage
from search_space.blocks import se_channels
from search_space.builder import build_model
from search_space.space import SearchSpace
from search_space.space_file import op_fields

ACTS = {"silu": F.silu, "relu": F.relu}
State = dict[str, Tensor]


class ElasticBatchNorm(nn.BatchNorm2d):
    """The widest BatchNorm; a path normalises (and updates) its first C channels only."""

    def forward(self, x: Tensor) -> Tensor:
        c = x.shape[1]
        momentum = self.momentum
        if self.training:
            self.num_batches_tracked.add_(1)
            if momentum is None:  # cumulative average, as BN recalibration asks for
                momentum = 1.0 / float(self.num_batches_tracked)
        return F.batch_norm(x, self.running_mean[:c], self.running_var[:c], self.weight[:c],
                            self.bias[:c], self.training, momentum or 0.0, self.eps)

    def state(self, c: int) -> State:
        """The state dict of a standalone `nn.BatchNorm2d(c)`."""
        return {"weight": self.weight[:c], "bias": self.bias[:c],
                "running_mean": self.running_mean[:c], "running_var": self.running_var[:c],
                "num_batches_tracked": self.num_batches_tracked}


class ElasticConvBn(nn.Module):
    """The largest kxk conv (no bias) + BN; a path slices channels and takes the centre kernel.

    Args:
        in_chs: largest input channels (ignored when `depthwise`).
        out_chs: largest output channels.
        kernel: largest kernel side.
        depthwise: one filter per channel (groups = channels), as MBConv's kxk conv.
    """

    def __init__(self, in_chs: int, out_chs: int, kernel: int, depthwise: bool = False):
        super().__init__()
        self.depthwise, self.kernel = depthwise, kernel
        shape = (out_chs, 1 if depthwise else in_chs, kernel, kernel)
        self.weight = nn.Parameter(torch.empty(shape))
        nn.init.kaiming_normal_(self.weight, mode="fan_out")
        self.bn = ElasticBatchNorm(out_chs)

    def _weight(self, cin: int, cout: int, k: int) -> Tensor:
        lo = (self.kernel - k) // 2
        w = self.weight[:cout] if self.depthwise else self.weight[:cout, :cin]
        return w[:, :, lo:lo + k, lo:lo + k]

    def forward(self, x: Tensor, cout: int, k: int, stride: int = 1) -> Tensor:
        cin = x.shape[1]
        w = self._weight(cin, cout, k)
        x = F.conv2d(x, w, None, stride, k // 2, groups=cin if self.depthwise else 1)
        return self.bn(x)

    def state(self, cin: int, cout: int, k: int) -> State:
        """The state dict of the builder's `ConvBnAct(cin, cout, k)` (conv 0, BN 1)."""
        bn = {f"1.{name}": t for name, t in self.bn.state(cout).items()}
        return {"0.weight": self._weight(cin, cout, k), **bn}


class ElasticSE(nn.Module):
    """The widest squeeze-and-excitation; a path uses its first `chs` and `rd` channels."""

    def __init__(self, chs: int, rd_chs: int):
        super().__init__()
        self.conv_reduce = nn.Conv2d(chs, rd_chs, 1)
        self.conv_expand = nn.Conv2d(rd_chs, chs, 1)

    def forward(self, x: Tensor, rd: int, act) -> Tensor:
        s = self.state(x.shape[1], rd)
        s_in = x.mean((2, 3), keepdim=True)
        z = act(F.conv2d(s_in, s["conv_reduce.weight"], s["conv_reduce.bias"]))
        return x * F.conv2d(z, s["conv_expand.weight"], s["conv_expand.bias"]).sigmoid()

    def state(self, chs: int, rd: int) -> State:
        """The state dict of the builder's `SqueezeExcite(chs, rd)`."""
        return {"conv_reduce.weight": self.conv_reduce.weight[:rd, :chs],
                "conv_reduce.bias": self.conv_reduce.bias[:rd],
                "conv_expand.weight": self.conv_expand.weight[:chs, :rd],
                "conv_expand.bias": self.conv_expand.bias[:chs]}


class ConvOp(nn.Module):
    """MnasNet's regular conv op at its largest: kxk conv + BN + act, optional SE."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int, rd_chs: int):
        super().__init__()
        self.conv = ElasticConvBn(in_chs, out_chs, kernel)
        self.se = ElasticSE(out_chs, rd_chs) if rd_chs else None

    def forward(self, x: Tensor, stage: Stage, stride: int, act) -> Tensor:
        rd = se_channels(x.shape[1], stage.se) if stage.se else 0
        x = act(self.conv(x, stage.out, stage.kernel, stride))
        return self.se(x, rd, act) if rd else x

    def state(self, cin: int, stage: Stage) -> State:
        state = _prefixed("conv", self.conv.state(cin, stage.out, stage.kernel))
        if stage.se:
            state |= _prefixed("se", self.se.state(stage.out, se_channels(cin, stage.se)))
        return state


class MBConvOp(nn.Module):
    """An MBConv at its largest expansion; smaller expansions take the first mid channels.

    `expand` 1 has no expansion conv (MnasNet's SepConv), so it never shares with N > 1.
    """

    def __init__(self, in_chs: int, out_chs: int, kernel: int, expand: int, rd_chs: int):
        super().__init__()
        mid = in_chs * expand
        self.conv_pw = ElasticConvBn(in_chs, mid, 1) if expand != 1 else None
        self.conv_dw = ElasticConvBn(mid, mid, kernel, depthwise=True)
        self.se = ElasticSE(mid, rd_chs) if rd_chs else None
        self.conv_pwl = ElasticConvBn(mid, out_chs, 1)

    def forward(self, x: Tensor, stage: Stage, stride: int, act) -> Tensor:
        cin = x.shape[1]
        mid = cin * stage.expand
        if self.conv_pw is not None:
            x = act(self.conv_pw(x, mid, 1))
        x = act(self.conv_dw(x, mid, stage.kernel, stride))
        if stage.se:
            x = self.se(x, se_channels(cin, stage.se), act)
        return self.conv_pwl(x, stage.out, 1)

    def state(self, cin: int, stage: Stage) -> State:
        mid = cin * stage.expand
        state = _prefixed("conv_dw", self.conv_dw.state(mid, mid, stage.kernel))
        if self.conv_pw is not None:
            state |= _prefixed("conv_pw", self.conv_pw.state(cin, mid, 1))
        if stage.se:
            state |= _prefixed("se", self.se.state(mid, se_channels(cin, stage.se)))
        return state | _prefixed("conv_pwl", self.conv_pwl.state(mid, stage.out, 1))


def _prefixed(prefix: str, state: State) -> State:
    return {f"{prefix}.{name}": t for name, t in state.items()}


def _op_key(op: str) -> str:
    """Which weight set serves `op`: ``conv``, ``mbconv1``, or ``mbconv`` (every N > 1)."""
    block, expand = op_fields(op)
    return "conv" if block == "conv" else "mbconv1" if expand == 1 else "mbconv"


class LayerSlot(nn.Module):
    """Position r of a stage: the largest weights of every op kind the stage offers there."""

    def __init__(self, in_chs: int, choices) -> None:
        super().__init__()
        out, kernel = max(choices.width), max(choices.kernel)
        rd = se_channels(in_chs, max(choices.se)) if max(choices.se) else 0
        expand = max((op_fields(op)[1] for op in choices.op if _op_key(op) == "mbconv"),
                     default=0)
        ops = {}
        for key in dict.fromkeys(map(_op_key, choices.op)):
            if key == "conv":
                ops[key] = ConvOp(in_chs, out, kernel, rd)
            else:
                ops[key] = MBConvOp(in_chs, out, kernel, 1 if key == "mbconv1" else expand, rd)
        self.ops = nn.ModuleDict(ops)

    def forward(self, x: Tensor, stage: Stage, stride: int, act) -> Tensor:
        shortcut = x
        x = self.ops[_op_key(stage.op)](x, stage, stride, act)
        if stage.skip == "id" and stride == 1 and shortcut.shape[1] == stage.out:
            x = x + shortcut
        return x

    def state(self, cin: int, stage: Stage) -> State:
        return self.ops[_op_key(stage.op)].state(cin, stage)


class Supernet(nn.Module):
    """Every candidate of `space` in one network of shared weights (see the module docstring).

    Args:
        space: the search space; its skeleton (stem, head, act, strides) is fixed.
        num_classes: classifier outputs.

    Example:
        >>> import numpy as np
        >>> from search_space import Supernet, load_space
        >>> space = load_space("b0")
        >>> supernet = Supernet(space, num_classes=10)
        >>> arch = space.sample(np.random.default_rng(0))
        >>> model = supernet.subnet(arch)  # build_model(arch, 10) with inherited weights
    """

    def __init__(self, space: SearchSpace, num_classes: int = 1000):
        super().__init__()
        self.space, self.num_classes = space, num_classes
        ref = space.reference
        self.act = ACTS[ref.act]
        self.stem = ElasticConvBn(3, ref.stem, 3)
        stages, in_chs = [], ref.stem
        for choices in space.spec.stages:
            widest = max(choices.width)
            stages.append(nn.ModuleList(LayerSlot(in_chs if r == 0 else widest, choices)
                                        for r in range(max(choices.layers))))
            in_chs = widest
        self.stages = nn.ModuleList(stages)
        self.head = ElasticConvBn(in_chs, ref.head, 1)
        self.classifier = nn.Linear(ref.head, num_classes)

    def forward(self, x: Tensor, arch: Arch, dropout: float | None = None) -> Tensor:
        """Logits of `arch`'s path (`arch` must lie in the space); `dropout` overrides the
        classifier dropout the skeleton fixes (a training recipe's choice, not the arch's)."""
        self.space.encode(arch)  # SpecError for an arch outside the space
        ref = self.space.reference
        x = self.act(self.stem(x, ref.stem, 3, ref.stem_stride))
        for slots, stage in zip(self.stages, arch.stages, strict=True):
            for r in range(stage.repeats):
                x = slots[r](x, stage, stage.stride if r == 0 else 1, self.act)
        x = self.act(self.head(x, ref.head, 1))
        x = F.dropout(x.mean((2, 3)), arch.dropout if dropout is None else dropout,
                      self.training)
        return self.classifier(x)

    def path_state(self, arch: Arch) -> State:
        """The state dict of `build_model(arch, num_classes)` taken from the shared weights."""
        self.space.encode(arch)
        ref = self.space.reference
        state = _prefixed("stem", self.stem.state(3, ref.stem, 3))
        in_chs, index = ref.stem, 0
        for slots, stage in zip(self.stages, arch.stages, strict=True):
            for r in range(stage.repeats):  # as `layers(arch)` unrolls the table
                state |= _prefixed(f"blocks.{index}", slots[r].state(in_chs, stage))
                in_chs, index = stage.out, index + 1
        state |= _prefixed("head", self.head.state(arch.stages[-1].out, ref.head, 1))
        return state | {"classifier.weight": self.classifier.weight,
                        "classifier.bias": self.classifier.bias}

    def subnet(self, arch: Arch) -> nn.Module:
        """A standalone `build_model(arch, num_classes)` holding copies of the path's weights."""
        model = build_model(arch, self.num_classes)
        with torch.no_grad():
            model.load_state_dict(self.path_state(arch))
        return model.to(self.classifier.weight.device)
