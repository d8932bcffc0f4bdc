"""`nas-search flops` and `nas-search scale`: what they print, and one-line errors on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nas.cli import main
from objectives import analytic_flops
from search_space import Arch, preset, scale

ROOT = Path(__file__).resolve().parents[2]
MISSING = object()


def _b0_file(tmp_path: Path, stage: int | None, field: str, value: object) -> Path:
    """B0's table with one field set to `value` (or deleted), written to a file."""
    data = preset("efficientnet-b0").to_dict()
    row = data if stage is None else data["stages"][stage]
    if value is MISSING:
        del row[field]
    else:
        row[field] = value
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"nas-search {argv[0]}: error: ")
    return lines[0]


def test_flops_prints_params_and_multiply_adds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flops", "efficientnet-b0"]) == 0
    out = capsys.readouterr().out
    assert "params: 5,288,548" in out
    assert "385,814,752" in out and "multiply-adds" in out
    for part in ("stem", *(f"stage{i}" for i in range(1, 8)), "head"):
        assert f"\n{part} " in out


def test_flops_reads_a_yaml_file_and_a_resolution(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a1.yaml"
    path.write_text(preset("mnasnet-a1").to_yaml())
    assert main(["flops", str(path), "--resolution", "32", "--num-classes", "10"]) == 0
    out = capsys.readouterr().out
    assert "at 32 px, 10 classes" in out
    assert f"params: {3_887_038 - 1281 * 990:,}" in out  # a 10-way classifier: 990 rows fewer
    assert f"FLOPs:  {analytic_flops(preset('mnasnet-a1'), 32, 10):,} " in out


def test_flops_fvcore_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flops", "mnasnet-a1", "--resolution", "64", "--fvcore"]) == 0
    assert "(agrees with the analytic count)" in capsys.readouterr().out


def test_scale_to_b3_writes_the_b3_table(tmp_path: Path) -> None:
    out = tmp_path / "b3.yaml"
    assert main(["scale", "efficientnet-b0", "--preset", "b3", "--out", str(out)]) == 0
    assert Arch.from_yaml(out) == preset("efficientnet-b3")


def test_scale_by_phi_prints_the_flops_ratio_and_the_table(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scale", "efficientnet-b0", "--phi", "1"]) == 0
    out = capsys.readouterr().out
    coefficients, header, _, _, scaled = out.splitlines()[:5]
    assert "alpha 1.2" in coefficients and "1.920" in coefficients
    assert "x base" in header
    assert scaled.startswith("1 ") and scaled.endswith(" 2.573  2.573")
    assert Arch.from_yaml(out[out.index("name: "):]) == scale(preset("efficientnet-b0"), 1)


@pytest.mark.parametrize(("stage", "field", "value"), [
    (3, "kernel", MISSING),
    (None, "head", MISSING),
    (2, "out", "wide"),
    (2, "repeats", 2.5),
    (3, "kernel", 4),
    (1, "stride", 3),
    (5, "repeats", -2),
    (0, "block", "fused"),
    (4, "kernal", 5),
    (None, "act", "gelu"),
])
def test_a_bad_field_is_one_line_naming_file_field_and_value(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], stage: int | None, field: str,
        value: object) -> None:
    path = _b0_file(tmp_path, stage, field, value)
    line = _one_error_line(capsys, ["flops", str(path)])
    name = field if stage is None else f"stages[{stage}].{field}"
    shown = None if value is MISSING else value
    assert f"{path}: {name} = {shown!r}: " in line


@pytest.mark.parametrize(("content", "expected"), [
    ("stages: [unclosed\n  - {\n", "not valid YAML"),
    ("just some words\n", "(top level) = 'just some words'"),
    (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not UTF-8 text"),
])
def test_a_file_that_is_not_a_block_table_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes,
        expected: str) -> None:
    path = tmp_path / "junk.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    line = _one_error_line(capsys, ["flops", str(path)])
    assert str(path) in line and expected in line


def test_a_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nope.yaml"
    assert f"path = '{path}': no such file" in _one_error_line(capsys, ["flops", str(path)])


@pytest.mark.parametrize(("argv", "expected"), [
    (["flops", "efficientnet-b9"], "arch = 'efficientnet-b9': neither a preset"),
    (["scale", "efficientnet-b9", "--phi", "1"], "arch = 'efficientnet-b9'"),
    (["scale", "efficientnet-b0", "--preset", "b9"], "--preset = 'b9': must be one of b0"),
])
def test_an_unknown_name_is_one_line(capsys: pytest.CaptureFixture[str], argv: list[str],
                                     expected: str) -> None:
    assert expected in _one_error_line(capsys, argv)


def test_the_real_process_exits_2_without_a_traceback(tmp_path: Path) -> None:
    path = _b0_file(tmp_path, 3, "kernel", 4)
    done = subprocess.run([sys.executable, "-m", "nas", "flops", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (f"nas-search flops: error: {path}: stages[3].kernel = 4: "
                           "must be one of 1, 3, 5, 7\n")
