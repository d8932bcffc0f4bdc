"""FLOPs and parameter counts, measured with fvcore.

Convention (the one place it is decided): FLOPs are **multiply-adds of convolutions and the
classifier**, as the MnasNet and EfficientNet papers and fvcore count them (one fused multiply-add
= one FLOP). BatchNorm (folded into the conv at deployment), pooling, activations, SE gating and
residual adds are not counted. With this rule EfficientNet-B0 at 224 px is 385.8M, the paper's
0.39B. `objectives.analytic` computes the same number from the block table alone.
"""

from __future__ import annotations

import torch
from torch import nn

from search_space import Arch, build_model

FLOPS_CONVENTION = ("multiply-adds of convolutions and the classifier "
                    "(BN, pooling, activations, SE gating not counted)")

# fvcore ops that count under the convention; every other handle fvcore ships is switched off.
COUNTED_OPS = ("aten::_convolution", "aten::addmm", "aten::linear", "aten::matmul", "aten::mm",
               "aten::bmm", "aten::einsum")
_UNCOUNTED_FVCORE_OPS = ("aten::batch_norm", "aten::group_norm", "aten::layer_norm",
                         "aten::instance_norm", "aten::upsample_nearest2d",
                         "aten::upsample_bilinear2d", "aten::adaptive_avg_pool2d",
                         "aten::grid_sampler")


def _zero(inputs: object, outputs: object) -> int:
    return 0


def _model(arch_or_model: Arch | nn.Module, num_classes: int) -> nn.Module:
    if isinstance(arch_or_model, Arch):
        return build_model(arch_or_model, num_classes)
    return arch_or_model


def fvcore_flops(arch_or_model: Arch | nn.Module, resolution: int | None = None,
                 num_classes: int = 1000) -> int:
    """FLOPs (multiply-adds, see module doc) of one image, traced with fvcore.

    Args:
        arch_or_model: a block table (built here) or an already built model.
        resolution: input side in pixels; defaults to the table's own resolution.
        num_classes: classifier size when an `Arch` is given.
    """
    from fvcore.nn import FlopCountAnalysis  # heavy import, only where it is used

    if resolution is None:
        if not isinstance(arch_or_model, Arch):
            raise ValueError("resolution is required when counting a built model")
        resolution = arch_or_model.resolution
    model = _model(arch_or_model, num_classes)
    param = next(model.parameters())
    x = torch.zeros(1, 3, resolution, resolution, device=param.device, dtype=param.dtype)
    was_training = model.training
    model.eval()
    try:
        analysis = FlopCountAnalysis(model, x)
        # a handle of None only silences warnings in fvcore 0.1.5; a zero handle uncounts
        analysis.set_op_handle(**dict.fromkeys(_UNCOUNTED_FVCORE_OPS, _zero))
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        return int(analysis.total())
    finally:
        model.train(was_training)


def torch_params(arch_or_model: Arch | nn.Module, num_classes: int = 1000) -> int:
    """Trainable parameters of the built model (BN counted as gamma and beta)."""
    model = _model(arch_or_model, num_classes)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
