"""Compound scaling: TF's rounding rules, the B1..B7 tables, and FLOPs doubling per phi step."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from objectives import analytic_flops
from search_space import SpecError, preset, round_filters, round_repeats, scale, scale_by
from search_space.scaling import multipliers

B0 = preset("efficientnet-b0")

# Facts sheet §3 (CALC, the TF rules applied to B0): width, depth -> stem, head, outs, repeats.
FACTS = {
    "b1": (1.0, 1.1, 32, 1280, (16, 24, 40, 80, 112, 192, 320), (2, 3, 3, 4, 4, 5, 2)),
    "b2": (1.1, 1.2, 32, 1408, (16, 24, 48, 88, 120, 208, 352), (2, 3, 3, 4, 4, 5, 2)),
    "b3": (1.2, 1.4, 40, 1536, (24, 32, 48, 96, 136, 232, 384), (2, 3, 3, 5, 5, 6, 2)),
    "b4": (1.4, 1.8, 48, 1792, (24, 32, 56, 112, 160, 272, 448), (2, 4, 4, 6, 6, 8, 2)),
    "b5": (1.6, 2.2, 48, 2048, (24, 40, 64, 128, 176, 304, 512), (3, 5, 5, 7, 7, 9, 3)),
    "b6": (1.8, 2.6, 56, 2304, (32, 40, 72, 144, 200, 344, 576), (3, 6, 6, 8, 8, 11, 3)),
    "b7": (2.0, 3.1, 64, 2560, (32, 48, 80, 160, 224, 384, 640), (4, 7, 7, 10, 10, 13, 4)),
}
BLOCKS = {"b1": 23, "b2": 23, "b3": 26, "b4": 32, "b5": 39, "b6": 45, "b7": 55}


@pytest.mark.parametrize("variant", sorted(FACTS))
def test_scaling_b0_gives_the_facts_sheet_tables(variant: str) -> None:
    width, depth, stem, head, outs, repeats = FACTS[variant]
    arch = scale_by(B0, width, depth)
    assert (arch.stem, arch.head) == (stem, head)
    assert tuple(s.out for s in arch.stages) == outs
    assert tuple(s.repeats for s in arch.stages) == repeats
    assert arch.num_blocks == BLOCKS[variant]
    # only widths and depths change: kernels, strides, expansions, SE and skips stay
    assert [dataclasses.replace(s, out=1, repeats=1) for s in arch.stages] == [
        dataclasses.replace(s, out=1, repeats=1) for s in B0.stages]


@pytest.mark.parametrize(("channels", "width", "expected"), [
    (32, 1.0, 32), (32, 1.1, 32),  # 35.2 rounds to 32, within 10%
    (40, 1.1, 48),  # 44 is half-way: int(44 + 4) // 8 * 8 rounds up
    (16, 1.2, 24),  # 19.2 rounds to 16, > 10% down, so one divisor up
    (80, 1.1, 88), (112, 1.2, 136), (192, 1.4, 272), (1280, 1.1, 1408), (320, 2.0, 640),
    (4, 1.0, 8), (1, 0.5, 8),  # never below one divisor
    (100, 1.0, 104),  # rounding applies at width 1.0 too
])
def test_round_filters_follows_tf(channels: int, width: float, expected: int) -> None:
    assert round_filters(channels, width) == expected


@given(st.integers(1, 4096), st.floats(0.05, 8.0))
def test_round_filters_is_a_near_multiple_of_8(channels: int, width: float) -> None:
    scaled = channels * width
    rounded = round_filters(channels, width)
    assert rounded % 8 == 0 and rounded >= 8
    assert rounded >= 0.9 * scaled  # never loses more than 10%
    assert rounded <= max(8.0, scaled + 8)
    if scaled >= 40:  # the 10% rule cannot fire: plain nearest multiple
        assert abs(rounded - scaled) <= 4


@pytest.mark.parametrize(("repeats", "depth", "expected"), [
    (1, 1.0, 1), (1, 1.1, 2), (2, 1.1, 3), (3, 1.4, 5), (4, 1.8, 8), (4, 2.6, 11), (4, 3.1, 13),
    (1, 3.1, 4), (3, 0.5, 2),
])
def test_round_repeats_rounds_up(repeats: int, depth: float, expected: int) -> None:
    assert round_repeats(repeats, depth) == expected


def test_compound_scaling_doubles_flops_per_phi_step() -> None:
    flops = [analytic_flops(scale(B0, phi)) for phi in (0, 1, 2, 3)]
    steps = [after / before for before, after in itertools.pairwise(flops)]
    # alpha * beta^2 * gamma^2 = 1.92; the first step overshoots because every 1-layer stage
    # rounds up to 2 layers (ceil(1.2) = 2)
    assert steps == pytest.approx([2.573, 1.824, 1.796], abs=1e-3)
    assert all(1.6 <= step <= 2.7 for step in steps)
    assert math.prod(steps) ** (1 / 3) == pytest.approx(2.0, rel=0.10)


def test_scale_phi_1_is_b0_grown_by_alpha_beta_gamma() -> None:
    arch = scale(B0, 1)
    assert arch.resolution == round(224 * 1.15) == 258
    assert [s.repeats for s in arch.stages] == [2, 3, 3, 4, 4, 5, 2]
    assert [s.out for s in arch.stages] == [16, 24, 48, 88, 120, 208, 352]  # width 1.1
    assert (arch.stem, arch.head, arch.name) == (32, 1408, "efficientnet-b0-phi1")
    assert [scale(B0, phi).resolution for phi in (2, 3)] == [296, 341]


def test_multipliers_and_phi_0() -> None:
    assert multipliers(2) == pytest.approx((1.2**2, 1.1**2, 1.15**2))
    assert multipliers(1, 1.3, 1.05, 1.1) == (1.3, 1.05, 1.1)
    assert scale(B0, 0) == B0


def test_scale_by_keeps_resolution_and_dropout_unless_given() -> None:
    arch = scale_by(B0, 1.2, 1.4)
    assert (arch.resolution, arch.dropout, arch.name) == (224, 0.2, "efficientnet-b0")
    arch = scale_by(B0, 1.2, 1.4, resolution=300, dropout=0.3, name="b3")
    assert (arch.resolution, arch.dropout, arch.name) == (300, 0.3, "b3")


@pytest.mark.parametrize(("width", "depth", "field"), [(0.0, 1.0, "width"), (1.0, -1.0, "depth"),
                                                       (float("nan"), 1.0, "width")])
def test_scale_by_rejects_non_positive_multipliers(width: float, depth: float, field: str) -> None:
    with pytest.raises(SpecError) as err:
        scale_by(B0, width, depth)
    assert err.value.field == field
