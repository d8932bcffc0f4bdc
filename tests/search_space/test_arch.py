"""The block table: validation, YAML round trip, and errors that name stage, field and value."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from search_space import PRESETS, Arch, SpecError, Stage, preset

B0 = preset("efficientnet-b0")


def _b0_yaml_with(stage: int, field: str, value: object) -> str:
    data = B0.to_dict()
    data["stages"][stage][field] = value
    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_yaml_round_trip_is_exact_for_every_preset(name: str) -> None:
    arch = preset(name)
    text = arch.to_yaml()
    again = Arch.from_yaml(text)
    assert again == arch
    assert again.name == arch.name  # equality ignores the name; the YAML keeps it
    assert again.to_yaml() == text


@st.composite
def _stages(draw: st.DrawFn) -> Stage:
    block = draw(st.sampled_from(("mbconv", "conv")))
    expand = 1 if block == "conv" else draw(st.integers(1, 8))
    return Stage(block=block, expand=expand, kernel=draw(st.sampled_from((1, 3, 5, 7))),
                 stride=draw(st.sampled_from((1, 2))), out=draw(st.integers(1, 2048)),
                 repeats=draw(st.integers(1, 9)),
                 se=draw(st.floats(0.0, 1.0, exclude_max=True)),
                 skip=draw(st.sampled_from(("id", "none"))))


_fractions = st.floats(0.0, 1.0, exclude_max=True)
_archs = st.builds(Arch, stages=st.lists(_stages(), min_size=1, max_size=8).map(tuple),
                   stem=st.integers(1, 512), head=st.integers(1, 4096),
                   resolution=st.integers(8, 1024), act=st.sampled_from(("silu", "relu")),
                   dropout=_fractions, drop_path=_fractions,
                   name=st.text("abcdefghijklmnopqrstuvwxyz0123456789-_. ", max_size=20))


@settings(max_examples=60, deadline=None)
@given(_archs)
def test_yaml_round_trip_is_exact_for_random_tables(arch: Arch) -> None:
    text = arch.to_yaml()
    again = Arch.from_yaml(text)
    assert again == arch
    assert again.name == arch.name
    assert again.to_yaml() == text


def test_from_yaml_reads_a_path(tmp_path) -> None:
    path = tmp_path / "b3.yaml"
    path.write_text(preset("efficientnet-b3").to_yaml())
    assert Arch.from_yaml(path) == preset("efficientnet-b3")
    assert Arch.from_yaml(str(path)) == preset("efficientnet-b3")


@pytest.mark.parametrize(("stage", "field", "value", "reason"), [
    (3, "kernel", 4, "one of 1, 3, 5, 7"),
    (1, "stride", 3, "one of 1, 2"),
    (5, "repeats", -1, ">= 1"),
    (2, "repeats", 0, ">= 1"),
    (0, "block", "fused", "one of mbconv, conv"),
    (4, "expand", "6", "integer"),
    (6, "kernel", True, "integer"),  # bool is an int in Python, but not a kernel size
    (2, "se", 1.5, "[0, 1)"),
    (2, "out", 2.5, "integer"),
    (6, "skip", "pool", "one of id, none"),
])
def test_from_yaml_error_names_stage_field_and_value(stage: int, field: str, value: object,
                                                     reason: str) -> None:
    with pytest.raises(SpecError) as err:
        Arch.from_yaml(_b0_yaml_with(stage, field, value))
    assert err.value.field == f"stages[{stage}].{field}"
    assert err.value.value == value
    assert f"stages[{stage}].{field} = {value!r}" in str(err.value)
    assert reason in str(err.value)


def test_from_yaml_names_a_missing_stage_field() -> None:
    data = B0.to_dict()
    del data["stages"][3]["kernel"]
    with pytest.raises(SpecError, match=r"stages\[3\]\.kernel = None: missing"):
        Arch.from_yaml(yaml.safe_dump(data))


def test_from_yaml_names_an_unknown_stage_field() -> None:
    with pytest.raises(SpecError, match=r"stages\[4\]\.kernal = 5: unknown key"):
        Arch.from_yaml(_b0_yaml_with(4, "kernal", 5))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("stem", None, "stem = None: missing"),
    ("act", "gelu", "act = 'gelu': must be one of silu, relu"),
    ("resolution", 7, "resolution = 7: must be >= 8"),
    ("dropout", 1.0, "dropout = 1.0: must be in [0, 1)"),
    ("widht", 1.1, "widht = 1.1: unknown key"),
    ("stages", [], "stages = []: must be a non-empty list"),
])
def test_from_yaml_names_a_bad_top_level_field(field: str, value: object, message: str) -> None:
    data = B0.to_dict()
    if value is None:
        del data[field]
    else:
        data[field] = value
    with pytest.raises(SpecError) as err:
        Arch.from_yaml(yaml.safe_dump(data))
    assert message in str(err.value)


@pytest.mark.parametrize(("text", "message"), [
    ("stages: [unclosed\n  - {\n", "not valid YAML"),
    ("just some words\n", "(top level) = 'just some words': a block table must be a YAML"),
    ("", "(top level) = None"),
    ("stages: [1, 2]\nresolution: 224\nstem: 32\nhead: 1280\n",
     "stages[0] = 1: must be a mapping"),
])
def test_from_yaml_rejects_what_is_not_a_block_table(text: str, message: str) -> None:
    with pytest.raises(SpecError) as err:
        Arch.from_yaml(text)
    assert message in str(err.value)


def test_errors_from_a_file_name_the_file(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(_b0_yaml_with(3, "kernel", 4))
    with pytest.raises(SpecError) as err:
        Arch.from_yaml(path)
    assert err.value.source == str(path)
    assert str(err.value).startswith(f"{path}: stages[3].kernel = 4")


def test_a_missing_file_is_a_spec_error(tmp_path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        Arch.from_yaml(tmp_path / "nope.yaml")


def test_a_conv_stage_has_no_expansion() -> None:
    with pytest.raises(SpecError) as err:
        Stage(block="conv", expand=6)
    assert err.value.field == "expand"
    assert Stage(block="conv", expand=1).op == "conv"


def test_stage_rows_are_frozen_and_arch_is_hashable_ignoring_name() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        B0.stages[0].kernel = 5  # type: ignore[misc]
    renamed = B0.replace(name="mine")
    assert renamed == B0 and hash(renamed) == hash(B0)
    assert len({B0, renamed, preset("efficientnet-b1")}) == 2


def test_block_strings_follow_timm() -> None:
    assert [s.block_string() for s in B0.stages] == [
        "ds_r1_k3_s1_c16_se0.25", "ir_r2_k3_s2_e6_c24_se0.25", "ir_r2_k5_s2_e6_c40_se0.25",
        "ir_r3_k3_s2_e6_c80_se0.25", "ir_r3_k5_s1_e6_c112_se0.25",
        "ir_r4_k5_s2_e6_c192_se0.25", "ir_r1_k3_s1_e6_c320_se0.25"]
    assert preset("mnasnet-a1").stages[0].block_string() == "ds_r1_k3_s1_c16_noskip"
    assert [s.op for s in preset("mnasnet-a1").stages[:3]] == ["mbconv1", "mbconv6", "mbconv3"]
