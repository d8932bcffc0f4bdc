"""timm interop: arch_def strings, state-dict renaming, and (with timm) models that agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from search_space import SpecError, Stage, build_model, load_space, preset
from search_space.timm_format import (
    from_timm_state_dict,
    timm_arch_def,
    to_timm_state_dict,
)
from search_space.weights import load_weights

# timm 1.0's own arch_def of efficientnet_b0 and mnasnet_a1 (timm/models/efficientnet.py)
TIMM_B0 = [["ds_r1_k3_s1_e1_c16_se0.25"], ["ir_r2_k3_s2_e6_c24_se0.25"],
           ["ir_r2_k5_s2_e6_c40_se0.25"], ["ir_r3_k3_s2_e6_c80_se0.25"],
           ["ir_r3_k5_s1_e6_c112_se0.25"], ["ir_r4_k5_s2_e6_c192_se0.25"],
           ["ir_r1_k3_s1_e6_c320_se0.25"]]
TIMM_A1 = [["ds_r1_k3_s1_e1_c16_noskip"], ["ir_r2_k3_s2_e6_c24"], ["ir_r3_k5_s2_e3_c40_se0.25"],
           ["ir_r4_k3_s2_e6_c80"], ["ir_r2_k3_s1_e6_c112_se0.25"], ["ir_r3_k5_s2_e6_c160_se0.25"],
           ["ir_r1_k3_s1_e6_c320"]]


def _same_blocks(ours: list[list[str]], timm_def: list[list[str]]) -> bool:
    """timm writes e1 on ds blocks; the decoder ignores it."""
    return ours == [[s.replace("_e1_", "_") for s in stage] for stage in timm_def]


def test_presets_give_timms_own_arch_defs():
    assert _same_blocks(timm_arch_def(preset("efficientnet-b0")), TIMM_B0)
    assert _same_blocks(timm_arch_def(preset("mnasnet-a1")), TIMM_A1)


def samples(n: int = 5) -> list:
    """The first `n` seeded samples of `b0` that timm can express (timm's conv has no SE)."""
    space, found = load_space("b0"), []
    for seed in range(100):
        arch = space.sample(np.random.default_rng(seed))
        try:
            timm_arch_def(arch)
        except SpecError:
            continue
        found.append(arch.replace(name=f"b0-sample-{seed}"))
        if len(found) == n:
            return found
    raise AssertionError("too few expressible samples")


def test_conv_blocks_say_skip_as_timm_reads_it():
    assert Stage("conv", 1, 3, 1, 16, 2, 0.0, "id").block_string() == "cn_r2_k3_s1_c16_skip"
    assert Stage("conv", 1, 5, 2, 24, 1, 0.0, "none").block_string() == "cn_r1_k5_s2_c24"


def test_tables_timm_cannot_express_are_refused():
    b0 = preset("efficientnet-b0")
    conv_se = b0.replace(stages=(Stage("conv", 1, 3, 1, 16, 1, 0.25), *b0.stages[1:]))
    with pytest.raises(SpecError, match="timm's conv block"):
        timm_arch_def(conv_se)
    odd = b0.replace(stem=20, stages=(Stage("mbconv", 3, 3, 1, 16, 1, 0.0), *b0.stages[1:]))
    with pytest.raises(SpecError, match="rounds the expanded width 20 x 3 to 64"):
        timm_arch_def(odd)


@pytest.mark.parametrize("arch", [preset("efficientnet-b0"), *samples()], ids=lambda a: a.name)
def test_renaming_round_trips(arch):
    state = build_model(arch, 10).state_dict()
    timm_state = to_timm_state_dict(state, arch)
    assert {"conv_stem.weight", "blocks.0.0.conv_dw.weight", "conv_head.weight"} <= set(timm_state)
    back = from_timm_state_dict(timm_state, arch)
    assert list(back) == list(state) and all(back[k] is state[k] for k in state)


def test_a_timm_named_state_dict_loads_without_timm(tmp_path):
    arch = preset("mnasnet-a1")
    state = build_model(arch, 7).state_dict()
    torch.save(to_timm_state_dict(state, arch), tmp_path / "timm.pth")
    model, _ = load_weights(tmp_path / "timm.pth", arch)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


# --- with timm installed ----------------------------------------------------------------------

def _timm():
    try:
        import timm  # noqa: F401
    except Exception as err:  # noqa: BLE001 - timm fails in several ways without torchvision
        pytest.skip(f"timm is not importable here ({type(err).__name__}: {err}); "
                    "pip install 'nas-search[timm]'")
    from nas.outputs.timm_model import build_timm_model

    return build_timm_model


def _randomised(model: nn.Module, seed: int) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                noise = torch.rand(tensor.shape, generator=gen)
                tensor.copy_(noise + 0.5 if "running_var" in name else (noise - 0.5) * 0.2)
    return model.eval()


@pytest.mark.parametrize("arch", [preset("efficientnet-b0"), *samples()], ids=lambda a: a.name)
def test_timm_builds_the_same_model_from_the_strings(arch):
    build_timm_model = _timm()
    ours, theirs = build_model(arch, 10), build_timm_model(arch, 10)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel()
                                                            for p in theirs.parameters())
    _randomised(ours, seed=1)
    theirs.load_state_dict(to_timm_state_dict(ours.state_dict(), arch))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs.eval()(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("ours, theirs", [("efficientnet-b0", "efficientnet_b0"),
                                           ("mnasnet-a1", "mnasnet_a1")])
def test_a_timm_state_dict_file_loads_into_the_preset(tmp_path, ours, theirs):
    _timm()
    import timm

    model = _randomised(timm.create_model(theirs, num_classes=10), seed=2)
    torch.save(model.state_dict(), tmp_path / "timm.pth")
    loaded, _ = load_weights(tmp_path / "timm.pth", preset(ours))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=1e-5, rtol=1e-4)
