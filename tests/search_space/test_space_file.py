"""Space files: `load_space` from a YAML path, and one-line errors naming a bad file's field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from objectives import analytic_flops
from search_space import SearchSpace, SpecError, load_space
from search_space.bundled import bundled_space


@pytest.fixture(scope="module")
def mnasnet() -> SearchSpace:
    return load_space("mnasnet")


def _mnasnet_dict() -> dict:
    return yaml.safe_load(bundled_space("mnasnet").read_text())


def _write(tmp_path: Path, data) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_load_space_from_a_path_equals_the_bundled_name(tmp_path: Path,
                                                        mnasnet: SearchSpace) -> None:
    space = load_space(str(_write(tmp_path, _mnasnet_dict())))
    assert space.decisions == mnasnet.decisions and space.reference == mnasnet.reference


def test_flops_band_declared_in_the_file_needs_the_callers_counter(tmp_path: Path) -> None:
    data = _mnasnet_dict() | {"flops_band": [2.5e8, 3.5e8]}
    path = str(_write(tmp_path, data))
    with pytest.raises(SpecError, match="counter"):
        load_space(path).sample(np.random.default_rng(0))
    space = load_space(path, counter=analytic_flops)
    assert space.flops_band == (2.5e8, 3.5e8)
    rng = np.random.default_rng(0)
    assert all(2.5e8 <= analytic_flops(space.sample(rng)) <= 3.5e8 for _ in range(50))


def test_explicit_stage_lists_replace_the_shared_ones(tmp_path: Path) -> None:
    data = _mnasnet_dict()
    data["stages"]["stage1"] = {"op": ["mbconv1"], "kernel": [3], "layers": [1]}
    space = load_space(str(_write(tmp_path, data)))
    assert [d.choices for d in space.decisions[:6:]] == [
        ("mbconv1",), (3,), (0.0, 0.25), ("id", "none"), (16, 24), (1,)]
    assert space.cardinalities[0] == 1 and space.contains(space.reference)


def _set(path: str, value):
    """A change to the mnasnet file: set the dotted `path` (list items by index) to `value`."""
    def change(data: dict) -> dict:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node = data
        for key in parents:
            node = node[key]
        node[last] = value
        return data
    return change


BAD_FILES = [
    (_set("extra", 1), "extra", "unknown key"),
    (lambda d: {k: v for k, v in d.items() if k != "choices"}, "choices", "missing"),
    (_set("name", 3), "name", "non-empty string"),
    (_set("reference", "efficientnet-b9"), "reference", "unknown preset"),
    (_set("reference.stages.0.kernel", 4), "reference.stages[0].kernel", "one of"),
    (_set("choices.op", ["conv", "dwconv"]), "choices.op[1]", "mbconvN"),
    (_set("choices.op", ["mbconv0"]), "choices.op[0]", "mbconvN"),
    (_set("choices.kernel", [3, 4]), "choices.kernel[1]", "one of"),
    (_set("choices.kernel", [3, 3]), "choices.kernel", "duplicate"),
    (_set("choices.se", [0.0, 1.5]), "choices.se[1]", "[0, 1)"),
    (_set("choices.skip", ["id", "pool"]), "choices.skip[1]", "pooling"),
    (_set("choices.width_multipliers", [0]), "choices.width_multipliers[0]", "> 0"),
    (_set("choices.layer_deltas", [-5]), "choices.layer_deltas", "no layer count"),
    (_set("choices.kernel", []), "choices.kernel", "non-empty list"),
    (_set("choices.kernel", [5, 7]), "choices.kernel", "reference"),
    (_set("stages.stage9", {"widths": [8]}), "stages.stage9", "unknown key"),
    (_set("stages.stage5.depth", [1]), "stages.stage5.depth", "unknown key"),
    (_set("stages.stage5.widths", ["a"]), "stages.stage5.widths[0]", "integer"),
    (_set("stages.stage5.widths", [72, 120]), "stages.stage5.widths", "reference"),
    (_set("flops_band", [4.0e8, 1.0e8]), "flops_band", "min must not exceed max"),
    (_set("flops_band", ["300e6", None]), "flops_band", "4.0e+8"),
    (_set("flops_band", 3.0e8), "flops_band", "[min, max]"),
    (lambda d: [d], "(top level)", "mapping"),
    (lambda d: "name: [b0\n", "line", "not valid YAML"),
]


@pytest.mark.parametrize("change, field, reason", BAD_FILES)
def test_bad_space_file_names_file_field_and_value(tmp_path: Path, change, field: str,
                                                   reason: str) -> None:
    path = _write(tmp_path, change(_mnasnet_dict()))
    with pytest.raises(SpecError) as err:
        load_space(path)
    assert err.value.field.startswith(field) and reason in err.value.reason
    assert err.value.source == str(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name, field", [("no-such-space", "space"),
                                         ("missing.yaml", "space")])
def test_unknown_space_name_or_missing_file(name: str, field: str) -> None:
    with pytest.raises(SpecError) as err:
        load_space(name)
    assert err.value.field == field and err.value.value == name
