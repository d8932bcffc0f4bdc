"""A damaged run directory: `status`, `pareto`, `export` and `resume` name the file and line.

Each case damages one file of a hand-made run directory; every verb that reads that file must
answer with one error line, exit 2, and leave the directory exactly as it was.
"""

from __future__ import annotations

import fractions
import json
import shutil
from pathlib import Path

import pytest
import torch
from edges_cli import cli_error, main_error
from run_dirs import fake_run, row

from nas.cli import main

EVERY = ("status", "pareto", "export", "resume")


def _journal_line(number: int, text: str):
    def damage(run: Path) -> None:
        lines = (run / "trials.jsonl").read_text().splitlines()
        lines[number - 1] = text
        (run / "trials.jsonl").write_text("\n".join(lines) + "\n")
    return damage


def _write(name: str, content: bytes):
    return lambda run: (run / name).write_bytes(content)


def _untrusted_state(run: Path) -> None:
    torch.save({"controller": fractions.Fraction(1, 2), "in_flight": [], "told": 3},
               run / "search.pt")


def _journal_folder(run: Path) -> None:
    (run / "trials.jsonl").unlink()
    (run / "trials.jsonl").mkdir()


# case: (damage, verbs that read the damaged file, what the error line must say)
CASES = {
    "garbage search.pt": (_write("search.pt", b"\x00garbage" * 50), ("status", "resume"),
                          "search.pt"),
    "empty search.pt": (_write("search.pt", b""), ("status", "resume"), "search.pt"),
    "search.pt with objects": (_untrusted_state, ("status", "resume"), "untrusted or damaged"),
    "garbage config.yaml": (_write("config.yaml", b"\x89PNG\x00\xff"), ("status", "pareto",
                            "resume"), "config.yaml"),
    "empty config.yaml": (_write("config.yaml", b""), EVERY, "config.yaml"),
    "garbage driver.json": (_write("driver.json", b"{pid"), ("status", "resume"),
                            "driver.json"),
    "empty driver.json": (_write("driver.json", b""), ("status", "resume"), "driver.json"),
    "journal line not JSON": (_journal_line(2, '{"trial_id": "t1", "sta'), EVERY,
                              "trials.jsonl: line 2"),
    "journal line not an object": (_journal_line(1, "[1, 2, 3]"), EVERY,
                                   "trials.jsonl: line 1"),
    "journal line lacks a field": (_journal_line(2, json.dumps(
        {k: v for k, v in row("t1").items() if k != "flops"})), EVERY, "line 2: flops"),
    "non-numeric accuracy": (_journal_line(3, json.dumps(row("t2", accuracy="high"))), EVERY,
                             "line 3: accuracy = 'high'"),
    "NaN accuracy": (_journal_line(1, json.dumps(row("t0", accuracy=float("nan")))), EVERY,
                     "line 1: accuracy"),
    "trials.jsonl is a folder": (_journal_folder, EVERY, "trials.jsonl"),
    "damaged block table": (_journal_line(3, json.dumps(row("t2", reward=0.9, arch="["))),
                            ("export",), "trial t2: arch.line 1"),
}


def _args(verb: str, run: Path) -> list[str]:
    return [verb, str(run)] + (["--out", str(run.parent / "best.yaml")] if verb == "export"
                               else [])


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = fake_run(tmp_path_factory.mktemp("pristine") / "run")
    return run.path


def _damaged(pristine: Path, tmp_path: Path, case: str) -> Path:
    run = tmp_path / "run"
    shutil.copytree(pristine, run)
    CASES[case][0](run)
    return run


def test_the_undamaged_run_reads(pristine: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    for verb in ("status", "pareto", "export"):
        assert main(_args(verb, pristine)) == 0, capsys.readouterr().err
    assert "trials: 3 done, 0 failed" in capsys.readouterr().out
    assert (pristine.parent / "best.yaml").is_file()


@pytest.mark.parametrize("case", CASES)
def test_every_verb_names_the_damaged_file(case: str, pristine: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    run = _damaged(pristine, tmp_path, case)
    for verb in CASES[case][1]:
        line = main_error(capsys, *_args(verb, run), run_dir=run)
        assert CASES[case][2] in line, (verb, line)
        assert "weights_only=False" not in line


@pytest.mark.parametrize(("verb", "case"), [  # the rest run in-process above
    ("status", "search.pt with objects"), ("resume", "journal line not JSON")])
def test_through_the_cli(verb: str, case: str, pristine: Path, tmp_path: Path) -> None:
    run = _damaged(pristine, tmp_path, case)
    assert CASES[case][2] in cli_error(*_args(verb, run), run_dir=run)


def test_a_torn_last_line_is_skipped_but_not_one_in_the_middle(
        pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _damaged(pristine, tmp_path, "garbage search.pt")
    (run / "search.pt").unlink()
    with (run / "trials.jsonl").open("a") as f:
        f.write('{"trial_id": "t3", "sta')  # the driver died writing it
    assert main(["status", str(run)]) == 0
    assert "trials: 3 done" in capsys.readouterr().out
    with (run / "trials.jsonl").open("a") as f:
        f.write("\n" + json.dumps(row("t4")) + "\n")  # something wrote after it
    assert "line 4" in main_error(capsys, "status", str(run))


def test_a_new_run_directory_writes_config_yaml_last(tmp_path: Path, monkeypatch) -> None:
    # a kill while creating must never leave a config.yaml without the files beside it (a
    # fidelity study file, reference.yaml): config.yaml is what marks a run resumable
    import nas.ledger.run_dir as run_dir

    written = []
    real = run_dir.atomic_write
    monkeypatch.setattr(run_dir, "atomic_write",
                        lambda path, write: (written.append(path.name), real(path, write)))
    run = run_dir.RunDir.create(tmp_path / "run", "name: x\n",
                                {"fidelity-study.yaml": "s\n", "reference.yaml": "r\n"})
    assert written[-1] == "config.yaml" and set(written) == {
        "config.yaml", "fidelity-study.yaml", "reference.yaml"}
    assert (run.path / "fidelity-study.yaml").read_text() == "s\n"
