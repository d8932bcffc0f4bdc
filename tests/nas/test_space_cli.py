"""`nas-search space`: decisions, size, reference and samples; bad files exit 2 in one line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nas.cli import main
from objectives import analytic_counts
from search_space import load_space
from search_space.bundled import bundled_space


def _run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    status = main(["space", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def _sample_rows(out: str, prefix: str) -> dict[str, tuple[int, float]]:
    """name -> (params, FLOPs in M) of the samples table."""
    rows = re.findall(rf"^({prefix}-[0-9a-f]+) .*?\s([\d,]+)\s+([\d.,]+)M$", out, re.M)
    return {name: (int(params.replace(",", "")), float(flops.replace(",", "")))
            for name, params, flops in rows}


def test_space_prints_decisions_size_reference_and_samples(capsys) -> None:
    status, out, _ = _run(capsys, "b0", "--samples", "3", "--seed", "5")
    assert status == 0
    space = load_space("b0")
    assert f"size {space.size:,} (10^{space.log10_size:.1f})" in out
    assert re.search(r"^stage6\s+2\s+conv/mbconv1/mbconv3/mbconv6\s+3/5\s+0/0.25\s+id/none\s+"
                     r"120/160/192/200\s+2/3/4$", out, re.M)
    assert re.search(r"^efficientnet-b0\s+101000 301001 311020 301020 311021 311022 301010"
                     r"\s+5,288,548\s+385.8M$", out, re.M)
    rng = np.random.default_rng(5)
    expected = {}
    for arch in (space.sample(rng) for _ in range(3)):
        counts = analytic_counts(arch)
        expected[arch.name] = (counts.params, round(counts.flops / 1e6, 1))
    assert _sample_rows(out, "b0") == expected


def test_space_from_a_path_with_a_flops_band(capsys) -> None:
    path = str(bundled_space("mnasnet"))
    status, out, _ = _run(capsys, path, "--samples", "4", "--min-flops", "2.8e8",
                          "--max-flops", "3.2e8")
    assert status == 0
    assert "space mnasnet:" in out and "reference mobilenetv2-mnas:" in out
    rows = _sample_rows(out, "mnasnet")
    assert len(rows) == 4 and all(280.0 <= flops <= 320.0 for _, flops in rows.values())


def test_bad_space_file_is_one_line_and_exit_2(capsys, tmp_path: Path) -> None:
    text = bundled_space("mnasnet").read_text().replace("kernel: [3, 5]", "kernel: [3, 4]")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    status, out, err = _run(capsys, str(path))
    assert status == 2 and out == ""
    assert err.count("\n") == 1
    assert str(path) in err and "choices.kernel[1] = 4" in err


def test_unknown_space_exits_2(capsys) -> None:
    status, _, err = _run(capsys, "no-such-space")
    assert status == 2 and "space = 'no-such-space'" in err
    assert "b0, b0-elastic, b0-small, mnasnet, mnasnet-small" in err


def test_console_script_exit_status_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nreference: efficientnet-b0\nchoices: {op: [dw]}\n")
    done = subprocess.run([sys.executable, "-m", "nas", "space", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"{path}: choices.kernel = None: missing" in done.stderr


def test_too_tight_band_exits_2_before_printing(capsys) -> None:
    status, out, err = _run(capsys, "b0", "--max-flops", "1")
    assert status == 2 and out == ""
    assert "flops_band = [None, 1.0]" in err and "widen the band" in err
