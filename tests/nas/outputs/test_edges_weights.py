"""Weights and export meet hostile input (issue 24): `train --save` never touches a run's own
files and refuses every bad target before training, writing weights and table both or neither;
`export` refuses devices, huge sizes and trial ids that lead out of the run, and exports ONNX at
the resolution the weights were trained at, judged on the logits' own scale."""

from __future__ import annotations

import errno
import json
import os
import pickle
from pathlib import Path

import pytest
from edges_cli import cli_error, main_error, snapshot
from run_dirs import fake_run, row

import objectives
from nas.cli import main
from nas.ledger.kept_weights import kept_path
from nas.ledger.run_dir import RunDir
from nas.outputs import onnx_export
from search_space import Arch, SpecError, Stage, build_model
from search_space.weights import save_weights

TINY = Arch(stages=(Stage("mbconv", 1, 3, 2, 8, 1, 0.25), Stage("mbconv", 3, 5, 2, 16, 2, 0.0)),
            stem=8, head=32, resolution=224, name="tiny")
QUICK = ["--epochs", "1", "--train-size", "64", "--val-size", "32", "--resolution", "16",
         "--threads", "1"]


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal must come before any data is decoded or any step trained."""
    def never(*args, **kwargs):
        raise AssertionError("trained (or loaded data) before refusing the target")

    monkeypatch.setattr(objectives, "load_dataset", never)
    monkeypatch.setattr(objectives, "train_proxy", never)


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A run directory whose trial t0 has kept weights (.pt and .yaml)."""
    path = fake_run(tmp_path / "run").path
    save_weights(build_model(TINY, 10), TINY, path / "weights" / "t0.pt")
    return path


@pytest.fixture
def tiny_yaml(tmp_path: Path) -> Path:
    (tmp_path / "tiny.yaml").write_text(TINY.to_yaml())
    return tmp_path / "tiny.yaml"


# --- 1. train --save never overwrites a run's files ---------------------------------------

def test_train_save_refuses_a_runs_kept_weights_in_a_subprocess(run: Path) -> None:
    line = cli_error("train", "mnasnet-a1", "--save", str(run / "weights" / "t0.pt"), *QUICK,
                     run_dir=run)
    assert "--save" in line and "t0.pt" in line and "never overwritten" in line


@pytest.mark.parametrize("target", ["weights/t0.pt", "weights/new.pt", "weights/sub/x.pt",
                                    "config.pt", "search.pt"])
def test_train_save_refuses_every_file_of_a_run(target: str, run: Path, no_training,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # config.pt: its table would replace config.yaml; search.pt: the controller's state
    line = main_error(capsys, "train", "efficientnet-b0", "--save", str(run / target), *QUICK,
                      run_dir=run)
    assert "--save" in line and "never overwritten" in line


def test_train_save_finds_the_run_through_a_link(run: Path, tmp_path: Path, no_training,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "link").symlink_to(run / "weights")
    line = main_error(capsys, "train", "efficientnet-b0", "--save",
                      str(tmp_path / "link" / "t0.pt"), *QUICK, run_dir=run)
    assert "never overwritten" in line


# --- 2, 3. every --save target is checked before training ----------------------------------

def test_a_folder_where_the_table_goes_is_refused_before_training(
        tmp_path: Path, no_training, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "w.yaml").mkdir()
    line = main_error(capsys, "train", "efficientnet-b0", "--save", str(tmp_path / "w.pt"),
                      *QUICK, run_dir=tmp_path)
    assert "w.yaml" in line and "is a folder" in line
    assert not (tmp_path / "w.pt").exists()


@pytest.mark.parametrize("case,expected", [
    ("folder", "is a folder"), ("under-a-file", "is a file, not a folder"),
    ("device", "not a regular file"), ("fifo", "not a regular file"),
    ("yaml-name", "block table's name")])
def test_bad_save_targets_are_refused_before_training(
        case: str, expected: str, tmp_path: Path, no_training,
        capsys: pytest.CaptureFixture[str]) -> None:
    mine, pipes = tmp_path / "mine", tmp_path / "pipes"  # snapshot() would block on a pipe
    (mine / "dir.pt").mkdir(parents=True)
    (mine / "file").write_text("mine")
    pipes.mkdir()
    os.mkfifo(pipes / "pipe.yaml")  # the table of pipe.pt: opening it would block
    target = {"folder": mine / "dir.pt", "under-a-file": mine / "file" / "w.pt",
              "device": "/dev/null", "fifo": pipes / "pipe.pt", "yaml-name": mine / "w.yaml"}[case]
    line = main_error(capsys, "train", "efficientnet-b0", "--save", str(target), *QUICK,
                      run_dir=mine)
    assert "--save" in line and expected in line
    assert sorted(p.name for p in pipes.iterdir()) == ["pipe.yaml"]


def test_weights_and_table_are_written_both_or_neither(tmp_path: Path) -> None:
    ckpt = tmp_path / "w.pt"
    save_weights(build_model(TINY, 10), TINY, ckpt)
    before = snapshot(tmp_path)

    class FullDisk:  # the table's write fails after the weights' temporary was written
        def to_yaml(self) -> str:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(SpecError, match="No space left on device"):
        save_weights(build_model(TINY, 100), FullDisk(), ckpt, option="--save")
    assert snapshot(tmp_path) == before  # old weights kept, no temporaries left


# --- 4, 5, 6. export: a foreign pickle, a device, sizes that would not fit in memory --------

def test_a_raw_pickle_is_refused_without_torchs_warning(tmp_path: Path) -> None:
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps({"a": 1}, protocol=4))  # protocol 4 made torch warn
    line = cli_error("export", "efficientnet-b0", "--weights", str(raw), "--onnx",
                     str(tmp_path / "m.onnx"), run_dir=tmp_path)
    assert "raw.pt" in line and "not a readable state dict" in line


def test_onnx_refuses_devices_and_pipes(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(tmp_path / "pipe.onnx")  # not snapshotted: reading it would block
    for target in ("/dev/null", str(tmp_path / "pipe.onnx")):
        line = main_error(capsys, "export", "efficientnet-b0", "--onnx", target,
                          "--resolution", "32")
        assert "--onnx" in line and "not a regular file" in line
    assert [p.name for p in tmp_path.iterdir()] == ["pipe.onnx"]


@pytest.mark.parametrize("flag,value,bound", [("--resolution", "100000", "4,096"),
                                              ("--resolution", "4", ">= 8"),
                                              ("--num-classes", "1000000000", "1,048,576"),
                                              ("--num-classes", "0", ">= 1")])
def test_export_sizes_have_the_configs_bounds(flag: str, value: str, bound: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    line = main_error(capsys, "export", "efficientnet-b0", "--onnx", str(tmp_path / "m.onnx"),
                      flag, value, run_dir=tmp_path)
    assert f"{flag} = {value}" in line and bound in line
    assert not (tmp_path / "m.onnx").exists()


# --- 7. kept weights stay inside RUN_DIR/weights/ ------------------------------------------

def test_a_journal_trial_id_cannot_lead_out_of_the_run(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run = RunDir.create(tmp_path / "run", "name: t\n")
    # a journal edited by hand: RunDir.append itself refuses such an id
    (run.path / "trials.jsonl").write_text(json.dumps(row("../../planted")) + "\n")
    save_weights(build_model(TINY, 10), TINY, tmp_path / "planted.pt")
    line = main_error(capsys, "export", str(run.path), "--onnx", str(tmp_path / "m.onnx"),
                      run_dir=tmp_path)
    assert "trial_id" in line and "../../planted" in line
    assert not (tmp_path / "m.onnx").exists()


def test_kept_weights_that_are_links_out_of_the_run_are_refused(tmp_path: Path) -> None:
    (tmp_path / "run" / "weights").mkdir(parents=True)
    (tmp_path / "run" / "weights" / "t1.pt").symlink_to(tmp_path / "elsewhere.pt")
    for trial_id in ("t1", "../t1", "a/b", "..", ""):
        with pytest.raises(SpecError, match="trial_id"):
            kept_path(tmp_path / "run", trial_id)
    assert kept_path(tmp_path / "run", "t2") == tmp_path / "run" / "weights" / "t2.pt"


# --- 8. ONNX at the weights' own resolution, judged relative to the logits -------------------

def test_onnx_exports_at_the_resolution_the_weights_were_trained_at(
        tiny_yaml: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ort = pytest.importorskip("onnxruntime")
    ckpt, onnx_file = tmp_path / "w.pt", tmp_path / "m.onnx"
    assert main(["train", str(tiny_yaml), "--save", str(ckpt), *QUICK]) == 0
    capsys.readouterr()
    assert main(["export", str(tiny_yaml), "--weights", str(ckpt), "--onnx",
                 str(onnx_file)]) == 0
    printed = capsys.readouterr().out
    assert "resolution 16 px: the weights were trained at it" in printed
    assert "relative" in printed and "max(1, max |torch|)" in printed and ": ok" in printed
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[1:] == [3, 16, 16]


def test_onnx_that_disagrees_with_torch_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime")
    monkeypatch.setattr(onnx_export, "onnxruntime_difference", lambda *a, **k: (12.7, 30.0))
    argv = ["export", "efficientnet-b0", "--onnx", str(tmp_path / "m.onnx"), "--resolution",
            "32", "--num-classes", "10"]
    assert main(argv) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "disagrees" in err[0] and "<= 0.001" in err[0]


def test_the_check_is_relative_to_the_logits_scale() -> None:
    assert onnx_export.agrees(12.7, 1.7e5)  # float32 rounding of logits near 170,000
    assert not onnx_export.agrees(12.7, 1.0)
    assert onnx_export.agrees(5e-4, 0.1)  # small logits: judged absolutely (max(1, ...))
    assert not onnx_export.agrees(float("nan"), 1.0)


def test_a_damaged_trained_resolution_names_the_table(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    save_weights(build_model(TINY, 10), TINY, tmp_path / "w.pt", {"proxy_resolution": "huge"})
    line = main_error(capsys, "export", str(tmp_path / "w.yaml"), "--weights",
                      str(tmp_path / "w.pt"), "--onnx", str(tmp_path / "m.onnx"))
    assert "w.yaml" in line and "proxy_resolution = 'huge'" in line and "--resolution" in line
