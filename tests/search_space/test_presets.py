"""Presets: the published tables, their exact parameter counts, and that every one runs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from objectives import analytic_params, torch_params
from search_space import PRESETS, Arch, SpecError, Stage, build_model, load_arch, preset, scale_by

# torchvision `num_params` (facts sheet §2, §5), 1000 classes, BN counted as gamma and beta.
PARAMS = {
    "efficientnet-b0": 5_288_548, "efficientnet-b1": 7_794_184, "efficientnet-b2": 9_109_994,
    "efficientnet-b3": 12_233_232, "efficientnet-b4": 19_341_616, "efficientnet-b5": 30_389_784,
    "efficientnet-b6": 43_040_704, "efficientnet-b7": 66_347_960, "mnasnet-a1": 3_887_038,
    "efficientnet-b0-small": 5_288_548,  # B0's table: strides do not change params
}
# TF `efficientnet_params`: (width, depth, resolution, dropout)
OFFICIAL = {"b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3),
            "b3": (1.2, 1.4, 300, 0.3), "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4),
            "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5)}


def _mb(e: int, k: int, s: int, out: int, n: int, se: float, skip: str = "id") -> Stage:
    return Stage("mbconv", e, k, s, out, n, se, skip)


def test_the_presets_are_b0_to_b7_and_mnasnet_a1() -> None:
    assert set(PRESETS) == set(PARAMS)


def test_b0_is_the_tf_block_table() -> None:
    b0 = preset("efficientnet-b0")
    assert b0.stages == (_mb(1, 3, 1, 16, 1, 0.25), _mb(6, 3, 2, 24, 2, 0.25),
                         _mb(6, 5, 2, 40, 2, 0.25), _mb(6, 3, 2, 80, 3, 0.25),
                         _mb(6, 5, 1, 112, 3, 0.25), _mb(6, 5, 2, 192, 4, 0.25),
                         _mb(6, 3, 1, 320, 1, 0.25))
    assert (b0.stem, b0.head, b0.resolution, b0.act, b0.dropout, b0.drop_path) == (
        32, 1280, 224, "silu", 0.2, 0.2)


def test_mnasnet_a1_is_the_tf_block_table() -> None:
    a1 = preset("mnasnet-a1")
    assert a1.stages == (_mb(1, 3, 1, 16, 1, 0.0, "none"), _mb(6, 3, 2, 24, 2, 0.0),
                         _mb(3, 5, 2, 40, 3, 0.25), _mb(6, 3, 2, 80, 4, 0.0),
                         _mb(6, 3, 1, 112, 2, 0.25), _mb(6, 5, 2, 160, 3, 0.25),
                         _mb(6, 3, 1, 320, 1, 0.0))
    # ReLU, no drop-connect, dropout 0.2 (TF `mnasnet_model.py`)
    assert (a1.stem, a1.head, a1.resolution, a1.act, a1.dropout, a1.drop_path) == (
        32, 1280, 224, "relu", 0.2, 0.0)


@pytest.mark.parametrize("variant", sorted(OFFICIAL))
def test_b1_to_b7_are_b0_scaled_by_the_official_multipliers(variant: str) -> None:
    width, depth, resolution, dropout = OFFICIAL[variant]
    arch = preset(f"efficientnet-{variant}")
    assert arch == scale_by(preset("efficientnet-b0"), width, depth, resolution, dropout)
    assert arch.name == f"efficientnet-{variant}"


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_analytic_params_equal_the_reference(name: str) -> None:
    assert analytic_params(preset(name)) == PARAMS[name]


@pytest.fixture(scope="module", params=sorted(PARAMS))
def built(request: pytest.FixtureRequest) -> tuple[str, nn.Module]:
    """Each preset's model, built once for all tests below (pytest groups them by preset)."""
    return request.param, build_model(preset(request.param)).eval()


def test_built_model_params_equal_the_reference(built: tuple[str, nn.Module]) -> None:
    name, model = built
    assert torch_params(model) == PARAMS[name]


def test_yaml_round_trip_rebuilds_identical_params(built: tuple[str, nn.Module]) -> None:
    name, model = built
    rebuilt = build_model(Arch.from_yaml(preset(name).to_yaml()))
    shapes = [(key, p.shape) for key, p in model.named_parameters()]
    assert [(key, p.shape) for key, p in rebuilt.named_parameters()] == shapes
    assert torch_params(rebuilt) == PARAMS[name]


def test_forward_at_32_px(built: tuple[str, nn.Module]) -> None:
    _, model = built
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 1000)
    assert torch.isfinite(y).all()


def test_b0_forward_in_channels_last_matches() -> None:
    model = build_model(preset("efficientnet-b0")).eval()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        got = model(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_b0_trains_at_32_px() -> None:
    torch.manual_seed(0)
    model = build_model(preset("efficientnet-b0"), num_classes=10).train()
    x = torch.randn(2, 3, 32, 32)  # batch 2: training BN needs > 1 value at the 1x1 head
    loss = nn.functional.cross_entropy(model(x), torch.tensor([3, 7]))
    loss.backward()
    assert torch.isfinite(loss)
    for key, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), key
    assert model.classifier.weight.grad.abs().sum() > 0


def test_unknown_preset_names_the_choices() -> None:
    with pytest.raises(SpecError) as err:
        preset("efficientnet-b9")
    assert err.value.field == "preset" and "efficientnet-b0" in str(err.value)


def test_load_arch_takes_a_preset_or_a_yaml_path(tmp_path) -> None:
    path = tmp_path / "a1.yaml"
    path.write_text(preset("mnasnet-a1").to_yaml())
    assert load_arch(str(path)) == preset("mnasnet-a1")
    assert load_arch("efficientnet-b2") is PRESETS["efficientnet-b2"]
    with pytest.raises(SpecError, match="arch = 'resnet50': neither a preset"):
        load_arch("resnet50")
