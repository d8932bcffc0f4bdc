"""Checked before Ray starts, against the machine and the data; a search whose first trials all
fail alike stops early with that reason."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from edges_cli import cli_error, main_error

from nas import load_config, search
from nas.cli import main
from nas.engine.fail_fast import FailFast
from nas.engine.preflight import check_resources
from nas.ledger.run_dir import RunDir
from search_space import SpecError, preset
from search_space.bundled import bundled_space

TINY = ["proxy.resolution=16", "proxy.train_size=64", "proxy.val_size=32",
        "proxy.batch_size=32", "controller.name=random", "controller.options={}", "confirm.top=0"]
CPUS = os.cpu_count() or 1


def test_nan_resources_through_the_cli(tmp_path: Path) -> None:
    line = cli_error("run", "--set", "resources.cpu=.nan", "--output", str(tmp_path / "run"))
    assert "resources.cpu = nan" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("override", "expected"), [
    ("resources.cpu=-1", "resources.cpu = -1"),
    ("resources.gpu=-0.5", "resources.gpu = -0.5"),
    ("resources.gpu=.inf", "resources.gpu = inf"),
    (f"resources.cpu={CPUS + 1}", f"more than the {CPUS} CPUs this machine has"),
    ("resources.gpu=64", "GPUs this machine has"),
    ("proxy.val_size=5000", "proxy.val_size = 5000"),
    ("proxy.train_size=5000", "proxy.train_size = 5000"),
    ("proxy.resolution=1000000", "proxy.resolution = 1000000"),
    ("proxy.resolution=4096", "GiB of memory"),
    ("name=../../etc", "name = '../../etc'"),
    ("name=a/b", "name = 'a/b'"),
])
def test_run_refuses_before_ray_starts(override: str, expected: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    line = main_error(capsys, "run", "--set", override, "--output", str(out))
    assert expected in line
    assert not out.exists()


def test_a_dataset_that_cannot_be_loaded(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    (data / "cats").mkdir(parents=True)
    (data / "dogs").mkdir()
    for name in ("cats/a.png", "dogs/b.png"):
        (data / name).write_bytes(b"not a png")
    line = main_error(capsys, "run", "--set", f"proxy.dataset={data}", "--output",
                      str(tmp_path / "run"))
    assert "cannot decode image" in line and "a.png" in line
    (data / "dogs" / "b.png").unlink()
    assert "class folder holds no images" in main_error(
        capsys, "run", "--set", f"proxy.dataset={data}", "--output", str(tmp_path / "run"))


def test_absurd_repeats_and_resolutions(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(preset("efficientnet-b0").to_yaml().replace("repeats: 3", "repeats: "
                                                                 "1000000000", 1))
    assert "repeats = 1000000000: must be <= 100" in main_error(capsys, "flops", str(path))
    assert "resolution = 1000000" in main_error(capsys, "train", "efficientnet-b0",
                                                "--resolution", "1000000")
    assert "GiB of memory" in main_error(capsys, "train", "efficientnet-b0", "--resolution",
                                         "4096")
    space = tmp_path / "space.yaml"
    space.write_text(bundled_space("b0").read_text().replace(
        "layer_deltas: [-1, 0, 1]", "layer_deltas: [-1, 0, 1000000000]"))
    assert "choices.layer_deltas = 1000000001" in main_error(capsys, "space", str(space))
    assert "--resolution = 1000000" in main_error(capsys, "flops", "efficientnet-b0",
                                                  "--resolution", "1000000")


def test_a_cluster_too_small_for_one_trial() -> None:
    config = load_config("demo", ["resources.cpu=4", "resources.gpu=1"])
    check_resources(config, 4, 1, "the cluster")
    with pytest.raises(SpecError, match="resources.cpu = 4.0: more than the 2 CPUs the clus"):
        check_resources(config, 2, 1, "the cluster")
    with pytest.raises(SpecError, match="resources.gpu = 1.0: more than the 0 GPUs"):
        check_resources(config, 8, 0, "the cluster")


class _Ledger:
    def __init__(self, rows: list[dict], budget: int = 10):
        self.rows, self.budget = rows, budget
        self.run = RunDir("unused")


def _rows(*pairs: tuple[str, str]) -> list[dict]:
    return [{"status": status, "reason": reason} for status, reason in pairs]


def test_fail_fast_needs_the_first_trials_to_share_one_reason() -> None:
    boom = ("failed", "RuntimeError: boom")
    ledger = _Ledger(_rows(("ok", "")))  # before a resume: does not count
    stopper = FailFast(ledger)
    ledger.rows += _rows(("rejected", ""), boom, boom)
    assert not stopper.stop_all()  # two trained so far
    stopper.check()
    ledger.rows += _rows(boom)
    assert stopper.stop_all()
    with pytest.raises(SpecError, match="RuntimeError: boom"):
        stopper.check()
    for rows in (_rows(boom, ("failed", "OOM"), boom, boom), _rows(boom, ("ok", ""), boom)):
        ledger = _Ledger([])
        stopper = FailFast(ledger)
        ledger.rows += rows
        assert not stopper.stop_all()
        ledger.rows += _rows(boom, boom, boom)  # the first trials decided: later ones never stop
        assert not stopper.stop_all() and stopper.decided
    ledger = _Ledger([], budget=1)
    stopper = FailFast(ledger)
    ledger.rows += _rows(boom)
    assert stopper.stop_all()


def test_a_search_whose_trials_all_fail_alike_stops_early(ray_local, tmp_path: Path) -> None:
    config = load_config("demo", TINY + ["budget.num_samples=8", "budget.max_concurrent=1",
                                         "evaluate=tests.evaluators:broken"])
    with pytest.raises(SpecError, match="licence server unreachable"):
        search(config, tmp_path / "run", progress=lambda line: None)
    rows = [r for r in RunDir(tmp_path / "run").rows() if r["status"] != "rejected"]
    assert 3 <= len(rows) < 8 and {r["status"] for r in rows} == {"failed"}


def test_a_full_disk_mid_run_stops_with_exit_1_and_keeps_the_journal(
        ray_local, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    append = RunDir.append

    def fill_up_after_one(run: RunDir, row: dict, rows: list | None = None) -> None:
        if run.journal.exists():
            with run._writing(run.journal.name):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        append(run, row, rows)

    monkeypatch.setattr(RunDir, "append", fill_up_after_one)
    config = tmp_path / "tiny.yaml"
    config.write_text(load_config("demo", TINY + ["budget.num_samples=6",
                                                  "budget.max_concurrent=1"]).to_yaml())
    out = tmp_path / "run"
    assert main(["run", str(config), "--output", str(out)]) == 1
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("nas-search run: error: ") and "No space left on device" in last
    assert f"nas-search resume {out}" in last
    assert len(RunDir(out).rows()) == 1  # the journal is intact
    assert not [p for p in out.iterdir() if ".tmp" in p.suffixes]  # no stray temporary
