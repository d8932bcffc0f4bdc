"""Hostile input to `fidelity` and `compare` (issue 24): every setting is checked before Ray,
a folder holding another search or study is refused by name, study files and checkpoints are
validated where read, a flag's value is blamed on the flag, and a study whose jobs all failed
exits 1. Studies are made by hand (the ledger, no Ray), so these run in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import yaml
from edges_cli import cli_error, main_error
from run_dirs import ARCH, fake_run

import controllers
from nas.cli import main
from nas.config import load_config
from nas.ledger.ledger import Ledger
from nas.ledger.run_dir import RunDir
from nas.studies.enumerated import EnumeratedSpace
from nas.studies.fidelity import STUDY_FILE, study_from_source
from nas.studies.study_run import run_config
from objectives.supernet_training import load_checkpoint
from search_space.errors import SpecError

REASON = "licence server unreachable"


def failed_study(folder: Path) -> Path:
    """A finished fidelity study of demo (2 archs, 1 seed) whose 4 jobs all failed alike,
    journaled through the ledger as its driver would have (no Ray)."""
    study, reference, _ = study_from_source("demo", 2, 1, ["proxy.epochs=3"], [])
    jobs = study.specs(folder)
    config = run_config(study.config, f"fidelity-{study.config.name}", len(jobs))
    run = RunDir.create(folder, config.to_yaml(), {"reference.yaml": reference.to_yaml(),
                                                   STUDY_FILE: study.to_yaml()})
    space = EnumeratedSpace(jobs, reference, study.config.proxy)
    ledger = Ledger(controllers.make("grid", space), space, run, len(jobs), config.objective,
                    (1.0, 0.0))
    for i in range(len(jobs)):
        ledger.propose(f"t{i}")
        ledger.complete(f"t{i}", {"status": "failed", "reason": f"RuntimeError: {REASON}"})
    run.write_tables()
    return folder


@pytest.fixture(scope="module")
def made_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return failed_study(tmp_path_factory.mktemp("made") / "study")


@pytest.fixture
def study(made_study: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(made_study, tmp_path / "study"))


def edit_yaml(path: Path, **changes) -> None:
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, **changes}, sort_keys=False))


# --- 1. every setting is checked before Ray; a study whose jobs all failed exits 1 ----------


def test_a_long_setting_that_cannot_run_is_refused_before_ray(tmp_path: Path) -> None:
    out = tmp_path / "out"
    line = cli_error("fidelity", "demo", "--long", "proxy.dataset=[1, 2", "--output", str(out))
    assert "--long proxy.dataset = " in line and "[1, 2" in line and "no such folder" in line
    assert not out.exists()


def test_a_recorded_setting_that_cannot_run_is_refused(study: Path, capsys) -> None:
    path = study / STUDY_FILE
    data = yaml.safe_load(path.read_text())
    data["long_proxy"]["dataset"] = str(study / "gone")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    line = main_error(capsys, "fidelity", str(study), run_dir=study)
    assert "proxy.dataset" in line and "gone" in line and "no such folder" in line


def test_a_study_whose_jobs_all_failed_exits_1_with_their_reason(study: Path, capsys) -> None:
    journal = (study / "trials.jsonl").read_bytes()
    assert main(["fidelity", str(study)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "every one of the 4 fidelity jobs" in err and REASON in err
    assert (study / "trials.jsonl").read_bytes() == journal
    assert not (study / "fidelity.json").exists()  # no kendall_tau '-' as if it were a result


# --- 2. --output holding another search or study ---------------------------------------------


def test_output_holding_another_search_is_refused_by_name(tmp_path: Path, capsys) -> None:
    run = fake_run(tmp_path / "run").path
    line = main_error(capsys, "fidelity", "demo", "--long", "proxy.epochs=3", "--output",
                      str(run), run_dir=run)
    assert f"--output = '{run}'" in line and "holds another search ('fake')" in line


def test_compare_of_a_fidelity_study_is_refused(study: Path, tmp_path: Path,
                                                capsys) -> None:
    reference = tmp_path / "ref.yaml"
    reference.write_text(ARCH.to_yaml())
    line = main_error(capsys, "compare", str(study), "--reference", str(reference), "--top",
                      "1", run_dir=study)
    assert "is a fidelity study" in line and str(study) in line


# --- 3. study files: seeds -----------------------------------------------------------------


def test_fidelity_study_file_with_negative_seeds(study: Path, capsys) -> None:
    edit_yaml(study / STUDY_FILE, seeds=-1)
    line = main_error(capsys, "fidelity", str(study), run_dir=study)
    assert f"{study / STUDY_FILE}: seeds = -1: must be >= 1" in line


def test_an_earlier_versions_comparison_folder_is_left_as_it_is(tmp_path: Path,
                                                                 capsys) -> None:
    folder = fake_run(tmp_path / "compare").path  # `compare` made its own study folder then
    (folder / "compare-study.yaml").write_text("seeds: 2\n")
    line = main_error(capsys, "compare", str(folder), "--reference", "efficientnet-b0",
                      run_dir=folder)
    assert "earlier nas-search" in line and "compare the search's own run directory" in line


# --- 4. a flag's value is blamed on the flag, not on the config file ----------------------


@pytest.mark.parametrize("args, expected", [
    (["fidelity", "demo", "--long", "proxy.epochs=0"], "--long proxy.epochs = 0: must be >= 1"),
    (["fidelity", "demo", "--long", "proxy.epochs=3", "--set", "proxy.lr=-1"],
     "--set proxy.lr = -1"),
    (["run", "demo", "--set", "proxy={epochs: 0}"], "--set proxy.epochs = 0"),
])
def test_a_flag_value_names_the_flag(args: list[str], expected: str, tmp_path: Path,
                                     capsys) -> None:
    out = tmp_path / "out"
    line = main_error(capsys, *args, "--output", str(out))
    assert expected in line and ".yaml" not in line
    assert not out.exists()


def test_a_config_file_value_still_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("proxy: {epochs: 0}\n")
    with pytest.raises(SpecError, match=f"{path}: proxy.epochs = 0"):
        load_config(str(path), ["proxy.lr=0.1", ("--long", "supernet.epochs=2")])


# --- 7. a supernet checkpoint's plain data ---------------------------------------------------


def bad_checkpoint(path: Path, **changes) -> Path:
    torch.save({"supernet": {}, "optimizer": {}, "epoch": 1, "space": "b0", "num_classes": 10,
                "history": [], **changes}, path)
    return path


@pytest.mark.parametrize("changes, expected", [
    ({"epoch": "x"}, "epoch = 'x': must be an integer"),
    ({"epoch": -3}, "epoch = -3: must be >= 0"),
    ({"num_classes": 2.5}, "num_classes = 2.5"),
    ({"history": "none"}, "history = 'none'"),
])
def test_checkpoint_fields_are_validated(changes: dict, expected: str, tmp_path: Path) -> None:
    path = bad_checkpoint(tmp_path / "supernet.pt", **changes)
    with pytest.raises(SpecError) as err:
        load_checkpoint(path)
    assert str(err.value).startswith(f"{path}: {expected}")


def test_resume_with_a_damaged_supernet_leaves_the_run_as_it_was(tmp_path: Path) -> None:
    config = load_config("oneshot-demo", ["budget.num_samples=2", "confirm.top=2"])
    run = RunDir.create(tmp_path / "run", config.to_yaml())
    bad_checkpoint(run.path / "supernet.pt", epoch="x")
    line = cli_error("resume", str(run.path), run_dir=run.path)
    assert f"{run.path / 'supernet.pt'}: epoch = 'x'" in line


def test_archs_beyond_any_study_end_at_once_in_a_process(tmp_path: Path) -> None:
    line = cli_error("fidelity", "demo", "--archs", "100000000", "--output", str(tmp_path / "o"))
    assert "--archs = 100000000: must be <= 1,000" in line and not (tmp_path / "o").exists()


def test_seeds_beyond_any_study_are_refused(tmp_path: Path, capsys) -> None:
    line = main_error(capsys, "fidelity", "demo", "--seeds", "1000", "--output",
                      str(tmp_path / "o"))
    assert "--seeds = 1000: must be <= 100" in line and not (tmp_path / "o").exists()
