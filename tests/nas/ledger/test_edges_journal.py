"""Journal fields the verbs read are validated where the journal is read (issue 24): a bad value
is one line naming trials.jsonl, the line, the field and the value, whatever the verb; and what
else a verb reads from the run directory (fidelity.csv) never ends in a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from edges_cli import main_error, snapshot
from run_dirs import fake_run

from nas.cli import main


def damage(run: Path, line: int, **fields) -> None:
    """Set (value) or drop (None) `fields` of the journal's row on `line` (1-based)."""
    journal = run / "trials.jsonl"
    rows = [json.loads(text) for text in journal.read_text().splitlines()]
    for key, value in fields.items():
        if value is None:
            rows[line - 1].pop(key)
        else:
            rows[line - 1][key] = value
    journal.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return fake_run(tmp_path / "run").path


def verbs(run: Path, out: Path) -> dict[str, list[str]]:
    return {"report": ["report", str(run), "--out", str(out / "r.html")],
            "pareto": ["pareto", str(run)],
            "export": ["export", str(run), "--rank", "2", "--out", str(out / "b.yaml")],
            "status": ["status", str(run)]}


@pytest.mark.parametrize("field, value", [
    ("finished_at", "yesterday"),
    ("latency_ms", "fast"),
    ("trial_id", "../../planted"),
    ("epochs", [1]),
    ("arch_id", "x"),
])
@pytest.mark.parametrize("verb", ["report", "pareto", "export", "status"])
def test_a_bad_journal_field_is_one_line_for_every_verb(
        verb: str, field: str, value, run: Path, tmp_path: Path, capsys) -> None:
    damage(run, 2, **{field: value})
    line = main_error(capsys, *verbs(run, tmp_path)[verb], run_dir=run)
    assert f"{run / 'trials.jsonl'}: line 2: {field} = {value!r}" in line


def test_a_planted_trial_id_is_refused_by_export_onnx(run: Path, tmp_path: Path,
                                                      capsys) -> None:
    damage(run, 1, trial_id="../../planted")
    line = main_error(capsys, "export", str(run), "--onnx", str(tmp_path / "m.onnx"),
                      run_dir=run)
    assert "line 1: trial_id = '../../planted': must be a plain name" in line
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("args", [["fidelity", "{run}", "--long", "proxy.epochs=3"],
                                  ["resume", "{run}"]])
def test_rows_without_tokens_are_refused_where_they_are_replayed(
        args: list[str], run: Path, capsys) -> None:
    damage(run, 3, tokens=None)
    line = main_error(capsys, *(a.format(run=run) for a in args), run_dir=run)
    assert f"{run / 'trials.jsonl'}: line 3: tokens = None: missing" in line


def test_rows_without_tokens_still_read_where_they_are_not_needed(run: Path, capsys) -> None:
    damage(run, 3, tokens=None)
    assert main(["pareto", str(run)]) == 0


def test_a_fidelity_table_with_text_in_accuracy_is_left_out_with_a_note(
        run: Path, tmp_path: Path) -> None:
    (run / "fidelity.csv").write_text("arch_id,setting,seed,status,accuracy\n"
                                      "0,short,0,ok,0.5\n0,long,0,ok,high\n")
    before = snapshot(run)
    page = tmp_path / "r.html"
    assert main(["report", str(run), "--out", str(page)]) == 0
    text = page.read_text()
    assert "left out:" in text and "column accuracy holds &#x27;high&#x27;" in text
    assert snapshot(run) == before
