"""Output errors on every verb that writes: one line, exit 2, nothing half-written, and the
run's own files never overwritten."""

from __future__ import annotations

import errno
import importlib.util
import os
import sys
from pathlib import Path

import pytest
from edges_cli import cli_error, main_error, snapshot
from run_dirs import fake_run

from nas.outputs.files import write_output
from search_space import SpecError

FULL = "/dev/full"  # every write fails with ENOSPC: a full disk
READ_ONLY = Path("/sys")  # refuses new files even for root (chmod does not stop root)
needs_linux = pytest.mark.skipif(not (sys.platform.startswith("linux") and Path(FULL).exists()),
                                 reason="needs Linux /dev/full and /sys")


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return fake_run(tmp_path / "run").path


def test_export_refuses_to_overwrite_the_runs_config(run: Path) -> None:
    line = cli_error("export", str(run), "--out", str(run / "config.yaml"), run_dir=run)
    assert "config.yaml" in line and "never overwritten" in line


@pytest.mark.parametrize("name", ["trials.jsonl", "search.pt", "trials.csv", "trials.parquet"])
def test_no_verb_overwrites_a_run_file(name: str, run: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["export", str(run), "--out"], ["pareto", str(run), "--csv"],
                 ["pareto", str(run), "--plot"], ["export", str(run), "--onnx"],
                 ["report", str(run), "--out"]):
        assert "never overwritten" in main_error(capsys, *args, str(run / name), run_dir=run)
    monkeypatch.chdir(run)  # the same file through a relative path
    assert "never overwritten" in main_error(capsys, "export", ".", "--out", name, run_dir=run)


@needs_linux
def test_full_disk_read_only_and_missing_folders(run: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no" / "such"
    cases = {
        ("export", str(run), "--out"): "x.yaml",
        ("pareto", str(run), "--csv"): "front.csv",
        ("pareto", str(run), "--plot"): "front.png",
        ("scale", "efficientnet-b0", "--phi", "1", "--out"): "b1.yaml",
        ("scale", "efficientnet-b0", "--family", "1..2", "--out"): "family",
    }
    for args, name in cases.items():
        if name != "family":
            assert "No space left on device" in main_error(capsys, *args, FULL, run_dir=run)
        assert "cannot write it" in main_error(capsys, *args, str(READ_ONLY / name),
                                               run_dir=run)
        line = main_error(capsys, *args, str(missing / name), run_dir=run)
        assert str(missing) in line and ("no such folder" in line or "No such file" in line)
    assert not missing.parent.exists()
    line = main_error(capsys, "run", "--output", str(READ_ONLY / "run"))
    assert "cannot write the run directory" in line
    if importlib.util.find_spec("onnx"):  # onnxruntime reads it back: never a device
        assert "not a regular file" in main_error(
            capsys, "export", "efficientnet-b0", "--onnx", FULL, "--resolution", "32")


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    out = tmp_path / "front.csv"
    out.write_text("old\n")

    def half_then_full(path: Path) -> None:
        path.write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(SpecError, match="No space left on device"):
        write_output(out, half_then_full, "--csv")
    assert out.read_text() == "old\n"
    assert snapshot(tmp_path).keys() == {"front.csv"}
    write_output(out, lambda p: p.write_text("new\n"), "--csv")
    assert out.read_text() == "new\n" and snapshot(tmp_path).keys() == {"front.csv"}


def test_saving_weights_onto_a_special_file_never_replaces_it(tmp_path: Path) -> None:
    from search_space import build_model, preset
    from search_space.weights import save_weights

    fifo = tmp_path / "pipe"  # stands for /dev/null or /dev/full, which a rename would replace
    os.mkfifo(fifo)
    arch = preset("efficientnet-b0").replace(resolution=32)
    with pytest.raises(SpecError, match="is not a regular file"):
        save_weights(build_model(arch, 10), arch, fifo)
    assert fifo.is_fifo() and [p.name for p in tmp_path.iterdir()] == ["pipe"]
