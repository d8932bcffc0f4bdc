"""A run directory made before `nas/` was split into rooms still opens with every verb.

`tests/fixtures/old_run/` was written by the code at db381c3 (see tests/fixtures/README.md); the
verbs run in-process on a copy, so the committed files stay as they were made.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nas.cli import main

OLD_RUN = Path(__file__).resolve().parents[1] / "fixtures" / "old_run"
BEST = "3b0f433a"  # the old run's best trial


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    return Path(shutil.copytree(OLD_RUN, tmp_path / "old_run"))


def test_status_reads_the_old_journal(old_run: Path, capsys) -> None:
    assert main(["status", str(old_run)]) == 0
    out = capsys.readouterr().out
    assert "trials: 3 done, 0 failed, 0 running, budget 3" in out
    assert f"best so far: trial {BEST}" in out


def test_pareto_lists_the_old_front(old_run: Path, capsys) -> None:
    assert main(["pareto", str(old_run)]) == 0
    assert BEST in capsys.readouterr().out


def test_report_writes_a_page(old_run: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    assert main(["report", str(old_run), "--out", str(page)]) == 0
    assert "old-run" in page.read_text()


def test_export_writes_the_best_block_table(old_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "best.yaml"
    assert main(["export", str(old_run), "--out", str(out)]) == 0
    assert f"trial {BEST} (rank 1)" in capsys.readouterr().out
    assert out.read_text() == (OLD_RUN / "best.yaml").read_text()


def test_resume_of_the_finished_run_trains_nothing(old_run: Path, capsys) -> None:
    journal = (old_run / "trials.jsonl").read_text()
    assert main(["resume", str(old_run)]) == 0
    assert "resuming 'old-run': 3 trials done" in capsys.readouterr().out
    assert (old_run / "trials.jsonl").read_text() == journal
