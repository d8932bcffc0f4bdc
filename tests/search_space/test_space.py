"""The factorized search space: bundled spaces, tokens, sampling, mutation, FLOPs band.

Space files (load_space from a path, and bad files) are in test_space_file.py.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from objectives import analytic_flops, analytic_params, fvcore_flops
from search_space import (
    Decision,
    SearchSpace,
    SpecError,
    build_model,
    load_space,
    preset,
    round_filters,
)
from search_space.bundled import bundled_space
from search_space.space import BAND_TRIES

ROOT = Path(__file__).resolve().parents[2]

# The documented encodings (also in the module docstring's layout and the YAML comments).
B0_TOKENS = [1, 0, 1, 0, 0, 0, 3, 0, 1, 0, 0, 1, 3, 1, 1, 0, 2, 0, 3, 0, 1, 0, 2, 0,
             3, 1, 1, 0, 2, 1, 3, 1, 1, 0, 2, 2, 3, 0, 1, 0, 1, 0]
A1_TOKENS = [1, 0, 0, 1, 0, 0, 3, 0, 0, 0, 0, 1, 2, 1, 1, 0, 2, 1, 3, 0, 0, 0, 2, 1,
             3, 0, 1, 0, 2, 0, 3, 1, 1, 0, 1, 1, 3, 0, 0, 0, 1, 0]
FIELDS = ("op", "kernel", "se", "skip", "width", "layers")
MOBILENETV2 = ((16, 1), (24, 2), (32, 3), (64, 4), (96, 3), (160, 3), (320, 1))  # (c, n)


@pytest.fixture(scope="module")
def b0() -> SearchSpace:
    return load_space("b0")


@pytest.fixture(scope="module")
def mnasnet() -> SearchSpace:
    return load_space("mnasnet")


@pytest.fixture(scope="module")
def samples(b0: SearchSpace) -> list:
    rng = np.random.default_rng(0)
    return [b0.sample(rng) for _ in range(1000)]


def _yaml_tokens(name: str) -> list[int]:
    """The tokens the bundled YAML's comment says its preset encodes as."""
    lines = bundled_space(name).read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "encodes as" in line)
    return [int(t) for t in re.findall(r"\d", lines[at + 1])]


# --- bundled spaces --------------------------------------------------------------------------

def test_b0_space_contains_efficientnet_b0_with_documented_tokens(b0: SearchSpace) -> None:
    arch = preset("efficientnet-b0")
    assert b0.contains(arch)
    assert b0.encode(arch) == B0_TOKENS == _yaml_tokens("b0")
    assert b0.decode(B0_TOKENS) == arch
    assert b0.reference == arch


def test_mnasnet_space_contains_mnasnet_a1_with_documented_tokens(mnasnet: SearchSpace) -> None:
    arch = preset("mnasnet-a1")
    assert mnasnet.contains(arch)
    assert mnasnet.encode(arch) == A1_TOKENS == _yaml_tokens("mnasnet")
    assert mnasnet.decode(A1_TOKENS) == arch


def test_b0_elastic_contains_b0_and_lies_inside_the_b0_space(b0: SearchSpace) -> None:
    elastic = load_space("b0-elastic")
    assert elastic.contains(preset("efficientnet-b0"))
    rng = np.random.default_rng(0)
    for arch in (elastic.sample(rng) for _ in range(200)):
        assert b0.contains(arch), arch.name
        assert all(s.skip == "id" and s.block == "mbconv" for s in arch.stages)
        assert {s.expand for s in arch.stages[1:]} <= {3, 6}


@pytest.mark.parametrize("name", ["skip", "op", "width"])
def test_the_benchmarks_spaces_add_one_b0_decision_back(b0: SearchSpace, name: str) -> None:
    space = load_space(ROOT / "benchmarks" / "spaces" / f"b0-elastic-{name}.yaml")
    assert space.contains(preset("efficientnet-b0"))
    assert space.cardinalities != load_space("b0-elastic").cardinalities
    if name != "width":  # B0's widths x0.75/1.25 are not all among b0's width lists
        rng = np.random.default_rng(0)
        assert all(b0.contains(space.sample(rng)) for _ in range(50))


def test_token_layout_is_stage_by_stage_in_the_documented_order(b0: SearchSpace) -> None:
    names = [f"stage{i}.{field}" for i in range(1, 8) for field in FIELDS]
    assert [d.name for d in b0.decisions] == names
    assert all(isinstance(d, Decision) for d in b0.decisions)
    assert b0.cardinalities == tuple(len(d.choices) for d in b0.decisions)
    assert b0.size == math.prod(b0.cardinalities)
    assert b0.log10_size == pytest.approx(math.log10(b0.size))


def test_mnasnet_space_is_the_papers_lists_on_mobilenetv2(mnasnet: SearchSpace) -> None:
    by_name = {d.name: d.choices for d in mnasnet.decisions}
    for i, (channels, repeats) in enumerate(MOBILENETV2, 1):
        assert by_name[f"stage{i}.op"] == ("conv", "mbconv1", "mbconv3", "mbconv6")
        assert by_name[f"stage{i}.kernel"] == (3, 5)
        assert by_name[f"stage{i}.se"] == (0.0, 0.25)
        assert by_name[f"stage{i}.skip"] == ("id", "none")
        widths = {round_filters(channels, m) for m in (0.75, 1.0, 1.25)}
        extra = {112} if i == 5 else set()  # MnasNet-A1's width, documented in the YAML
        assert set(by_name[f"stage{i}.width"]) == widths | extra
        assert by_name[f"stage{i}.layers"] == tuple(n for n in (repeats - 1, repeats,
                                                                repeats + 1) if n >= 1)


def test_b0_space_differs_from_mnasnet_only_where_documented(b0: SearchSpace,
                                                             mnasnet: SearchSpace) -> None:
    changed = [(a.name, set(b.choices) - set(a.choices))
               for a, b in zip(mnasnet.decisions, b0.decisions, strict=True) if a != b]
    assert changed == [("stage6.width", {192})]
    skeleton = ("resolution", "stem", "head", "act", "dropout", "drop_path")
    differ = [f for f in skeleton if getattr(b0.reference, f) != getattr(mnasnet.reference, f)]
    assert differ == ["act", "drop_path"]


# --- tokens ----------------------------------------------------------------------------------

def test_1000_samples_round_trip_through_tokens(b0: SearchSpace, samples: list) -> None:
    for arch in samples:
        tokens = b0.encode(arch)
        assert b0.contains(arch)
        assert b0.decode(tokens) == arch
        assert b0.encode(b0.decode(tokens)) == tokens


def test_decode_names_are_short_unique_and_equal_length(b0: SearchSpace, samples: list) -> None:
    names = {arch.name for arch in samples}
    assert len(names) == len({tuple(b0.encode(a)) for a in samples})
    assert all(n.startswith("b0-") for n in names)
    assert len({len(n) for n in names}) == 1


def test_decode_accepts_numpy_tokens(b0: SearchSpace) -> None:
    assert b0.decode(np.array(B0_TOKENS)) == preset("efficientnet-b0")


@pytest.mark.parametrize("tokens, field", [
    (B0_TOKENS[:-1], "tokens"),
    (B0_TOKENS + [0], "tokens"),
    ([4] + B0_TOKENS[1:], "tokens[0]"),
    (B0_TOKENS[:5] + [-1] + B0_TOKENS[6:], "tokens[5]"),
    (B0_TOKENS[:-1] + [0.0], "tokens"),
])
def test_decode_rejects_bad_tokens(b0: SearchSpace, tokens: list, field: str) -> None:
    with pytest.raises(SpecError) as err:
        b0.decode(tokens)
    assert err.value.field == field


@pytest.mark.parametrize("change, field", [
    (lambda a: a.replace(act="relu"), "act"),
    (lambda a: a.replace(resolution=240), "resolution"),
    (lambda a: a.replace(stages=a.stages[:-1]), "strides"),
    (lambda a: a.replace(stages=(a.stages[0].__class__(kernel=7, out=16, se=0.25),
                                 *a.stages[1:])), "stage1.kernel"),
    (lambda a: a.replace(stages=(*a.stages[:6], a.stages[6].__class__(out=328, se=0.25))),
     "stage7.width"),
])
def test_arch_outside_the_space_is_not_contained(b0: SearchSpace, change, field: str) -> None:
    arch = change(preset("efficientnet-b0"))
    assert not b0.contains(arch)
    with pytest.raises(SpecError) as err:
        b0.encode(arch)
    assert err.value.field == field


def test_mnasnet_space_does_not_contain_b0(mnasnet: SearchSpace) -> None:
    assert not mnasnet.contains(preset("efficientnet-b0"))  # silu and 192 wide


# --- samples build and count right -----------------------------------------------------------

@pytest.mark.slow  # seconds of compute, no Ray: out of the quick loop
def test_samples_build_with_the_analytic_param_count(b0: SearchSpace, samples: list) -> None:
    # A build costs 50-100 ms even on meta tensors (module construction; 2x faster than CPU
    # weights), so all 1000 would take 1-2 minutes on the shared 2 cores. 200 are built; the
    # assertion below checks they use every choice of every decision, which is all the builder
    # sees of a sample (every row of all 1000 is validated by `Stage` in the round-trip test).
    subset = samples[:200]
    tokens = np.array([b0.encode(a) for a in subset])
    assert all(len(set(tokens[:, k])) == c for k, c in enumerate(b0.cardinalities))
    with torch.device("meta"):  # constructors run, no weights are allocated or initialised
        for arch in subset:
            model = build_model(arch)
            assert sum(p.numel() for p in model.parameters()) == analytic_params(arch)


@pytest.mark.slow  # seconds of compute, no Ray: out of the quick loop
def test_analytic_flops_agree_with_fvcore_on_samples(samples: list,
                                                     mnasnet: SearchSpace) -> None:
    rng = np.random.default_rng(1)
    subset = samples[:20] + [mnasnet.sample(rng) for _ in range(10)]
    for arch in subset:
        assert analytic_flops(arch, 64) == fvcore_flops(arch, 64), arch.name


# --- sampling --------------------------------------------------------------------------------

def test_sampling_is_reproducible_from_a_seed(b0: SearchSpace) -> None:
    def draw(seed: int) -> list:
        rng = np.random.default_rng(seed)
        return [b0.encode(b0.sample(rng)) for _ in range(50)]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_sampling_is_uniform_per_decision(b0: SearchSpace, samples: list) -> None:
    tokens = np.array([b0.encode(a) for a in samples])
    for k, card in enumerate(b0.cardinalities):
        counts = np.bincount(tokens[:, k], minlength=card)
        expected = len(samples) / card
        assert counts.min() > 0.75 * expected and counts.max() < 1.25 * expected, k


# --- mutation --------------------------------------------------------------------------------

def test_mutate_changes_exactly_one_token_and_stays_in_the_space(b0: SearchSpace) -> None:
    rng = np.random.default_rng(2)
    arch, changed = b0.reference, set()
    for _ in range(1000):
        child = b0.mutate(arch, rng)
        before, after = b0.encode(arch), b0.encode(child)
        diff = [k for k, (x, y) in enumerate(zip(before, after, strict=True)) if x != y]
        assert len(diff) == 1 and b0.contains(child)
        changed.update(diff)
        arch = child
    assert changed == {k for k, c in enumerate(b0.cardinalities) if c > 1}


def test_mutate_is_reproducible_from_a_seed(b0: SearchSpace) -> None:
    def walk(seed: int) -> list:
        rng, arch, path = np.random.default_rng(seed), b0.reference, []
        for _ in range(20):
            arch = b0.mutate(arch, rng)
            path.append(arch)
        return path

    assert walk(3) == walk(3)


def test_mutate_rejects_an_arch_outside_the_space(b0: SearchSpace) -> None:
    with pytest.raises(SpecError):
        b0.mutate(preset("mnasnet-a1"), np.random.default_rng(0))


# --- FLOPs band ------------------------------------------------------------------------------

def test_flops_band_never_lets_an_out_of_band_candidate_through(b0: SearchSpace) -> None:
    low, high = 3.0e8, 4.0e8
    space = b0.with_band(low, high, analytic_flops)
    assert space.flops_band == (low, high) and b0.flops_band == (None, None)
    rng = np.random.default_rng(4)
    arch = space.sample(rng)
    for _ in range(300):
        assert low <= analytic_flops(space.sample(rng)) <= high
        arch = space.mutate(arch, rng)
        assert low <= analytic_flops(arch) <= high
    outside = [a for a in (b0.sample(rng) for _ in range(200)) if not space.in_band(a)]
    assert outside and all(not low <= analytic_flops(a) <= high for a in outside)


def test_open_sided_band(b0: SearchSpace) -> None:
    space = b0.with_band(max_flops=3.0e8, counter=analytic_flops)
    rng = np.random.default_rng(5)
    assert all(analytic_flops(space.sample(rng)) <= 3.0e8 for _ in range(50))


def test_too_tight_band_raises_after_bounded_tries(b0: SearchSpace) -> None:
    calls = []

    def counter(arch):
        calls.append(arch)
        return analytic_flops(arch)

    space = b0.with_band(1.0, 2.0, counter)
    with pytest.raises(SpecError, match="widen the band"):
        space.sample(np.random.default_rng(0))
    assert len(calls) == BAND_TRIES


def test_band_without_counter_raises_when_sampling(b0: SearchSpace) -> None:
    space = b0.with_band(1e8, 5e8)
    with pytest.raises(SpecError, match="counter"):
        space.sample(np.random.default_rng(0))


@pytest.mark.parametrize("low, high", [(4e8, 3e8), (-1.0, None), ("3e8", None)])
def test_with_band_rejects_bad_bounds(b0: SearchSpace, low, high) -> None:
    with pytest.raises(SpecError) as err:
        b0.with_band(low, high, analytic_flops)
    assert err.value.field == "flops_band"
