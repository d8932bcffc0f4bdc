"""`export --onnx`: the ONNX file run in onnxruntime gives the torch model's logits (1e-4)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nas.cli import main
from search_space import build_model, load_space, preset
from search_space.weights import load_weights, save_weights

ort = pytest.importorskip("onnxruntime", reason="ONNX checks need the [onnx] extra "
                          "(pip install 'nas-search[onnx]')")
ROOT = Path(__file__).resolve().parents[3]


def trained_like(model: nn.Module, seed: int) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine terms, as training leaves them."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)
    return model.eval()


def _searched():
    return load_space("b0").sample(np.random.default_rng(7)).replace(name="searched")


@pytest.mark.parametrize("which", ["efficientnet-b0", "searched"])
def test_onnx_matches_torch_with_saved_weights(tmp_path, capsys, which):
    arch = preset(which) if which != "searched" else _searched()
    ckpt = tmp_path / "model.pt"
    save_weights(trained_like(build_model(arch, num_classes=10), seed=1), arch, ckpt)
    onnx_file = tmp_path / "model.onnx"
    argv = ["export", str(tmp_path / "model.yaml"), "--weights", str(ckpt), "--onnx",
            str(onnx_file), "--resolution", "32"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "opset 17" in printed and "checked in onnxruntime" in printed
    model, _ = load_weights(ckpt)
    x = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(2))  # batch 5: dynamic
    with torch.no_grad():
        expected = model(x).numpy()
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    (actual,) = session.run(["logits"], {"images": x.numpy()})
    assert actual.shape == (5, 10)
    assert np.abs(actual - expected).max() < 1e-4


def test_export_needs_an_output_and_fitting_weights(tmp_path, capsys):
    arch = preset("efficientnet-b0")
    save_weights(build_model(arch, 10), arch, tmp_path / "b0.pt")
    argv = ["export", "mnasnet-a1", "--weights", str(tmp_path / "b0.pt"), "--onnx",
            str(tmp_path / "x.onnx")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "do not fit the block table" in err and len(err.strip().splitlines()) == 1
    done = subprocess.run([sys.executable, "-m", "nas", "export", "efficientnet-b0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "give --out FILE.yaml, --onnx FILE.onnx" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_runs_trial_exports_with_the_weights_the_search_kept(tmp_path, capsys):
    from nas.ledger.run_dir import RunDir
    from objectives import analytic_counts

    arch = _searched()
    run = RunDir.create(tmp_path / "run", "name: t\n")
    counts = analytic_counts(arch, arch.resolution, 1000)
    run.append({"trial_id": "abc_00001", "status": "ok", "reason": "", "accuracy": 0.5,
                "flops": counts.flops, "params": counts.params, "reward": 0.4,
                "train_seconds": 1.0, "epochs": 1, "arch": arch.to_yaml()})
    save_weights(trained_like(build_model(arch, 10), seed=3), arch,
                 run.path / "weights" / "abc_00001.pt")
    out = tmp_path / "best.onnx"
    assert main(["export", str(run.path), "--onnx", str(out), "--resolution", "24"]) == 0
    printed = capsys.readouterr().out
    assert "trial abc_00001 (rank 1)" in printed and "weights/abc_00001.pt" in printed
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_outputs()[0].shape == ["batch", 10]
