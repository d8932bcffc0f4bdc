"""Small-image skeletons: `b0-small` / `mnasnet-small` keep a >= 4x4 last feature map at 32 px."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from objectives import analytic_flops, fvcore_flops
from search_space import Arch, build_model, load_space, preset

B0_SMALL = preset("efficientnet-b0-small")


def test_b0_small_contains_its_preset_with_b0s_tokens():
    space = load_space("b0-small")
    assert space.reference == B0_SMALL and space.contains(B0_SMALL)
    assert space.encode(B0_SMALL) == load_space("b0").encode(preset("efficientnet-b0"))
    assert not space.contains(preset("efficientnet-b0"))  # stem stride and strides differ


def test_b0_small_is_b0_with_a_stride_1_stem_and_output_stride_8():
    b0 = preset("efficientnet-b0")
    assert (B0_SMALL.stem_stride, B0_SMALL.resolution) == (1, 32)
    assert [s.stride for s in B0_SMALL.stages] == [1, 1, 2, 2, 1, 2, 1]
    rows = [(s.op, s.kernel, s.out, s.repeats, s.se, s.skip) for s in B0_SMALL.stages]
    assert rows == [(s.op, s.kernel, s.out, s.repeats, s.se, s.skip) for s in b0.stages]


def test_stem_stride_round_trips_and_counters_agree():
    assert Arch.from_yaml(B0_SMALL.to_yaml()) == B0_SMALL
    assert "stem_stride" not in preset("efficientnet-b0").to_yaml()  # old tables unchanged
    model = build_model(B0_SMALL, 10)
    assert fvcore_flops(model, 32, 10) == analytic_flops(B0_SMALL, 32, 10)


def _last_map(arch: Arch) -> tuple[int, int]:
    model = build_model(arch, 10).eval()
    seen = []
    hook = model.blocks[-1].register_forward_hook(lambda m, i, out: seen.append(out.shape))
    with torch.no_grad():
        model(torch.zeros(1, 3, arch.resolution, arch.resolution))
    hook.remove()
    return tuple(seen[0][2:])


@pytest.mark.parametrize("name", ["b0-small", "mnasnet-small"])
def test_every_sample_keeps_a_4x4_last_map_at_its_resolution(name):
    space = load_space(name)
    rng = np.random.default_rng(0)
    archs = [space.reference] + [space.sample(rng) for _ in range(4)]
    for arch in archs:
        assert arch.resolution == 32
        height, width = _last_map(arch)
        assert height >= 4 and width >= 4, arch.name
