"""Every output ranks by confirmation: status, the end-of-run summary, pareto (--csv, --plot),
export --rank and report, on a hand-made run directory with confirmation rows, in-process
through `nas.cli.main` (no Ray)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nas.cli import main
from nas.ledger.confirmed import load_confirmed
from nas.ledger.run_dir import RunDir
from nas.outputs.summary import summarize
from tests.confirmed_runs import confirm_row, confirmed_run, search_and_confirm
from tests.run_dirs import fake_run


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return confirmed_run(tmp_path / "run").path


def test_status_shows_the_confirmed_table_and_one_winner(run: Path, capsys) -> None:
    assert main(["status", str(run)]) == 0
    out = capsys.readouterr().out
    assert "3 done" in out and "6 confirmation trainings" in out  # outside the budget
    assert "confirmed candidates (2" in out
    assert "0.6400 +- 0.0100" in out and "95% interval" in out
    assert "confirmed winner: trial-b" in out


def test_overlapping_intervals_name_both(tmp_path: Path, capsys) -> None:
    rows = search_and_confirm() + [confirm_row("ca9", [0, 0], 0.75, 1009),
                                   confirm_row("cb9", [1, 1], 0.50, 1009)]
    run = confirmed_run(tmp_path / "run", rows)
    assert main(["status", str(run.path)]) == 0
    out = capsys.readouterr().out
    assert "no single winner" in out
    assert "#1 trial-b and #2 trial-a overlap" in out


def test_status_without_confirmation_is_as_before(tmp_path: Path, capsys) -> None:
    run = fake_run(tmp_path / "run")
    assert main(["status", str(run.path)]) == 0
    out = capsys.readouterr().out
    assert "confirm" not in out.replace(str(tmp_path), "") and "best so far: trial t0" in out


def test_summary_exports_the_confirmed_winner(run: Path, capsys) -> None:
    from nas.ledger.run_dir import RunDir

    summarize(RunDir(run))
    out = capsys.readouterr().out
    assert "3 trials: 3 ok; 6 confirmation trainings" in out
    assert "best: trial b" in out and "(confirmed #1)" in out
    assert "confirmed winner" in out
    assert "# confirmed: accuracy 0.6400 +- 0.0100" in (run / "best.yaml").read_text()


def test_pareto_csv_marks_confirmed_points(run: Path, tmp_path: Path, capsys) -> None:
    csv = tmp_path / "front.csv"
    assert main(["pareto", str(run), "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "Pareto front of 3 trials" in out and "confirmed candidates" in out
    front = pd.read_csv(csv)
    assert "confirmed" in front
    marked = dict(zip(front["trial_id"], front["confirmed"]))
    assert marked.get("a") is True or marked.get("a") == True  # noqa: E712 - numpy bool
    assert not marked.get("c", False)
    assert set(front["trial_id"]) <= {"a", "b", "c"}  # confirmation rows are not points


def test_pareto_plot_draws_error_bars(run: Path, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("matplotlib")
    from nas.outputs import plots

    drawn = []
    original = plots.error_bars
    monkeypatch.setattr(plots, "error_bars", lambda ax, table, x, scale: (
        drawn.append(list(table["accuracy_mean"])), original(ax, table, x, scale)))
    png = tmp_path / "front.png"
    assert main(["pareto", str(run), "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert drawn == [pytest.approx([0.64, 0.55])]


def test_export_rank_1_picks_by_the_confirmed_mean(run: Path, tmp_path: Path,
                                                   capsys) -> None:
    out = tmp_path / "best.yaml"
    assert main(["export", str(run), "--rank", "1", "--out", str(out)]) == 0
    assert "trial b (rank 1)" in capsys.readouterr().out  # not the lucky search winner a
    header = out.read_text()
    table = load_confirmed(run).iloc[0]
    assert "# trial b:" in header
    assert (f"95% interval [{table['ci95_low']:.4f}, {table['ci95_high']:.4f}]" in header)
    assert "+- 0.0100 (mean +- std, n=3)" in header
    assert "# confirming recipe: the search's recipe" in header


def test_export_ranks_the_rest_by_search_reward(run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "third.yaml"
    assert main(["export", str(run), "--rank", "3", "--out", str(out)]) == 0
    assert "trial c (rank 3)" in capsys.readouterr().out
    assert "# confirmed" not in out.read_text()


def test_export_rank_beyond_the_candidates_is_one_line(run: Path, tmp_path: Path,
                                                       capsys) -> None:
    assert main(["export", str(run), "--rank", "4", "--out", str(tmp_path / "x.yaml")]) == 2
    assert "must be in 1..3" in capsys.readouterr().err


def test_confirm_recipe_names_the_overrides() -> None:
    from types import SimpleNamespace

    from nas.outputs.yaml_export import confirm_recipe

    config = SimpleNamespace(confirm=SimpleNamespace(set={"epochs": 6}))
    assert confirm_recipe(config) == "the search's recipe with proxy.epochs=6"
    assert confirm_recipe(SimpleNamespace()) == "the search's recipe"


def test_report_has_the_confirmed_section(run: Path, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("matplotlib")
    from nas.outputs import plots

    bars = []
    original = plots.error_bars
    monkeypatch.setattr(plots, "error_bars", lambda *a: (bars.append(1), original(*a)))
    out = tmp_path / "report.html"
    assert main(["report", str(run), "--out", str(out)]) == 0
    page = out.read_text()
    assert "<h2>Confirmed candidates</h2>" in page
    assert "[0.6152, 0.6648]" in page and "confirmed winner: trial-b" in page
    assert "finished: 3 of 3 trials" in page  # confirmation rows are not search trials
    assert bars  # the front figure's error bars


def test_status_summary_and_report_show_the_reference_trained_alike(tmp_path: Path,
                                                                    capsys) -> None:
    from nas.config import BudgetConfig, ConfirmConfig, SearchConfig
    from nas.ledger.confirmed import reference_key

    config = SearchConfig(name="confirmed", budget=BudgetConfig(num_samples=3),
                          confirm=ConfirmConfig(top=2, seeds=3, reference="efficientnet-b0"))
    key = list(reference_key(config))
    rows = search_and_confirm() + [confirm_row(f"r{i}", key, acc, 1000 + i)
                                   for i, acc in enumerate((0.50, 0.52))]
    run = confirmed_run(tmp_path / "run", rows, config).path
    lines = ("reference efficientnet-b0, trained alike: n 2, accuracy 0.5100 +- 0.0141",
             "found architectures that beat efficientnet-b0 at no more FLOPs: top1, top2")
    assert main(["status", str(run)]) == 0
    out = capsys.readouterr().out
    assert all(line in out for line in lines) and "confirmed candidates (2;" in out
    summarize(RunDir(run))
    out = capsys.readouterr().out
    assert all(line in out for line in lines)
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    assert all(line in (tmp_path / "r.html").read_text() for line in lines)


def test_tracking_tells_a_confirmation_training_apart() -> None:
    from nas.outputs.tracking import final_metrics

    rows = search_and_confirm()
    confirm = final_metrics(rows, "cb1")["final"]
    assert confirm["stage"] == "confirm" and confirm["confirm_seed"] == 1001.0
    assert final_metrics(rows, "a")["final"]["stage"] == "search"
