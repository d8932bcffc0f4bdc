"""A block table (and its weights) as an ONNX file, checked in onnxruntime.

The file: opset `OPSET`, one input ``images`` float32 ``[batch, 3, R, R]`` and one output
``logits`` float32 ``[batch, num_classes]``; the batch axis is dynamic, R is fixed at export.
Inputs are normalised as in proxy training: ``(pixels_0_255 - 255 * mean) / (255 * std)`` with
the ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), channels RGB. Dropout
and drop path are off (the model is exported in eval mode) and BatchNorm uses the saved
running statistics.

torch's TorchScript-based exporter (``dynamo=False``) is used: it needs neither onnx nor
onnxscript and handles these convolutional nets completely; torch >= 2.9 marks it deprecated,
so its DeprecationWarning is silenced here.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nas.outputs.files import write_output
from search_space.errors import SpecError

OPSET = 17
INPUT, OUTPUT = "images", "logits"
TOLERANCE = 1e-3
RULE = f"max |onnx - torch| / max(1, max |torch|) <= {TOLERANCE:g}"


def export_onnx(model: nn.Module, path: str | Path, resolution: int,
                protect: Path | None = None) -> Path:
    """Write `model` (put in eval mode) as ONNX with a dynamic batch axis; `protect`: a run
    directory whose own files it must not replace."""
    model = model.eval().to("cpu", memory_format=torch.contiguous_format)
    example = torch.zeros(1, 3, resolution, resolution)

    def write(target: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(model, (example,), str(target), dynamo=False,
                              opset_version=OPSET, input_names=[INPUT], output_names=[OUTPUT],
                              dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}})

    # atomic; a missing folder, a full disk or a device (onnxruntime reads the file back): one line
    return write_output(path, write, "--onnx", protect, special=False)


def onnxruntime_difference(path: str | Path, model: nn.Module, resolution: int,
                           batch: int = 3, seed: int = 0) -> tuple[float, float]:
    """(max |ONNX - torch|, max |torch|) of the logits on a seeded random batch, run in
    onnxruntime (CPU); `agrees` judges the pair."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise SpecError("--onnx", str(path), "checking needs onnxruntime: "
                        "pip install 'nas-search[onnx]'") from None
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, resolution, resolution, generator=gen)
    with torch.no_grad():
        expected = model.eval()(x).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (actual,) = session.run([OUTPUT], {INPUT: x.numpy()})
    return float(np.abs(actual - expected).max()), float(np.abs(expected).max())


def relative_difference(difference: float, peak: float) -> float:
    """The difference on the logits' own scale: float32 rounding grows with the logits, so
    an absolute bound would fail large logits and pass small wrong ones (`RULE`)."""
    return difference / max(1.0, peak)


def agrees(difference: float, peak: float) -> bool:
    return relative_difference(difference, peak) <= TOLERANCE
