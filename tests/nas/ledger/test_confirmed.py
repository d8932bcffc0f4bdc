"""Confirmation statistics on hand-made journal rows: mean, std, the t interval, the reward of
the mean, overlap, and search views that leave confirmation rows out."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nas.ledger.confirmed import (
    confirmed,
    export_order,
    interval,
    load_confirmed,
    overlapping,
    top_candidates,
)
from nas.ledger.results import load_results, pareto_front, ranked
from tests.confirmed_runs import OBJECTIVE, confirm_row, confirmed_run, search_and_confirm
from tests.run_dirs import row


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def test_interval_matches_scipy_t() -> None:
    values = [0.61, 0.64, 0.60, 0.66]
    got = interval(values)
    mean, sem = np.mean(values), stats.sem(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=sem)
    assert got["n"] == 4
    assert got["accuracy_mean"] == pytest.approx(mean)
    assert got["accuracy_std"] == pytest.approx(np.std(values, ddof=1))
    assert (got["ci95_low"], got["ci95_high"]) == pytest.approx((low, high))


def test_one_value_has_a_mean_but_no_interval() -> None:
    got = interval([0.5])
    assert got["n"] == 1 and got["accuracy_mean"] == 0.5
    assert math.isnan(got["accuracy_std"]) and math.isnan(got["ci95_low"])


def test_confirmed_ranks_by_the_reward_of_the_mean() -> None:
    table = confirmed(frame(search_and_confirm()), OBJECTIVE)
    assert list(table["tokens"]) == [(1, 1), (0, 0)]  # B beats the lucky A
    assert list(table["rank"]) == [1, 2]
    first = table.iloc[0]
    assert first["n"] == 3 and first["accuracy_mean"] == pytest.approx(0.64)
    assert first["reward"] == pytest.approx(OBJECTIVE.reward(0.64, 4e7))
    assert first["reward_low"] == pytest.approx(OBJECTIVE.reward(first["ci95_low"], 4e7))
    assert first["search_reward"] == 0.75 and first["search_trial_id"] == "b"
    assert first["name"] == "trial-b"


def test_failed_confirmations_do_not_count() -> None:
    rows = search_and_confirm() + [confirm_row("cb9", [1, 1], 0.9, 1009, status="failed",
                                               reward=None)]
    rows[-1]["accuracy"] = None
    assert confirmed(frame(rows), OBJECTIVE).iloc[0]["n"] == 3


def test_no_confirmation_is_an_empty_table() -> None:
    table = confirmed(frame(search_and_confirm()[:3]), OBJECTIVE)
    assert table.empty and "ci95_low" in table


def test_overlap_of_the_first_two_intervals() -> None:
    table = confirmed(frame(search_and_confirm()), OBJECTIVE)
    assert not overlapping(table)  # 0.64 +- ~0.025 vs 0.55 +- ~0.025
    rows = search_and_confirm()
    rows += [confirm_row("ca9", [0, 0], 0.70, 1009), confirm_row("cb9", [1, 1], 0.52, 1009)]
    assert overlapping(confirmed(frame(rows), OBJECTIVE))
    assert not overlapping(table.head(1))


def test_search_views_leave_confirmation_rows_out() -> None:
    df = frame(search_and_confirm())
    assert list(ranked(df)["trial_id"]) == ["a", "b", "c"]
    assert set(pareto_front(df)["trial_id"]) <= {"a", "b", "c"}
    assert list(top_candidates(df, 2)["trial_id"]) == ["a", "b"]


def test_top_candidates_are_distinct_by_tokens() -> None:
    df = frame([row("a", tokens=[0], reward=0.9), row("a2", tokens=[0], reward=0.8),
                row("b", tokens=[1], reward=0.7)])
    assert list(top_candidates(df, 2)["trial_id"]) == ["a", "b"]


def test_export_order_puts_confirmed_candidates_first() -> None:
    order = export_order(frame(search_and_confirm()), OBJECTIVE)
    assert list(order["trial_id"]) == ["b", "a", "c"]
    assert list(order["confirmed"]) == [True, True, False]
    assert order.iloc[0]["accuracy_mean"] == pytest.approx(0.64)
    assert order.iloc[0]["reward"] == 0.75  # the search row's own reward stays


def test_load_confirmed_reads_a_run(tmp_path: Path) -> None:
    run = confirmed_run(tmp_path / "run")
    table = load_confirmed(run.path)
    assert list(table["tokens"]) == [(1, 1), (0, 0)]
    assert len(load_results(run.path)) == 9  # every row stays in the trials table


def test_the_run_directory_holds_the_confirmed_table(tmp_path: Path) -> None:
    from nas.ledger.confirmed import CONFIRMED_FILE, write_confirmed

    run = confirmed_run(tmp_path / "run")
    write_confirmed(run, OBJECTIVE)
    saved = pd.read_csv(run.path / CONFIRMED_FILE)
    assert list(saved["n"]) == [3, 3] and saved["accuracy_mean"].iloc[0] == pytest.approx(0.64)
    empty = confirmed_run(tmp_path / "none", search_and_confirm()[:3])
    write_confirmed(empty, OBJECTIVE)
    assert not (empty.path / CONFIRMED_FILE).exists()


def test_compare_is_the_confirmed_table_and_the_reference_trained_alike() -> None:
    import json

    from nas.outputs.comparison import comparison, verdict

    rows = search_and_confirm() + [confirm_row(f"r{i}", [5, 5], acc, 1000 + i)
                                   for i, acc in enumerate((0.50, 0.501))]
    summary = comparison(frame(rows), OBJECTIVE, (5, 5), "efficientnet-b0")
    top1, top2, ref = summary["candidates"]
    assert (top1["candidate"], top1["tokens"], top1["n"]) == ("top1", [1, 1], 3)
    expected = interval([0.63, 0.65, 0.64])  # one statistic: confirmation's
    assert top1["ci95_low"] == pytest.approx(expected["ci95_low"])
    assert (ref["candidate"], ref["arch"], ref["n"]) == ("reference", "efficientnet-b0", 2)
    assert ref["search_reward"] is None  # the search never trained it
    assert summary["beats_reference"] == ["top1", "top2"]
    assert summary["clearly_beats_reference"] == ["top1", "top2"]  # intervals apart
    assert "beyond both 95% intervals: top1, top2" in verdict(summary)
    json.loads(json.dumps(summary, allow_nan=False))  # plain JSON: no NaN


def test_an_untrained_reference_beats_nothing() -> None:
    from nas.outputs.comparison import comparison, verdict

    summary = comparison(frame(search_and_confirm()), OBJECTIVE, (5, 5))
    assert summary["candidates"][-1]["n"] == 0 and not summary["any_beats_reference"]
    assert verdict(summary).startswith("no found architecture beats reference")


def test_rows_without_tokens_are_told_apart_by_their_block_table() -> None:
    other = row("x", tokens=[]).get("arch").replace("resolution: 32", "resolution: 40")
    rows = [row("s1", tokens=[], accuracy=0.6, reward=0.6),
            row("s2", tokens=[], accuracy=0.6, reward=0.5, arch=other),
            confirm_row("c1", [], 0.5, 1000), confirm_row("c2", [], 0.6, 1001),
            confirm_row("c3", [], 0.7, 1000, arch=other)]
    table = confirmed(frame(rows), OBJECTIVE)
    assert sorted(table["n"]) == [1, 2] and set(table["name"]) == {"trial-s1", "trial-s2"}


def test_a_reference_the_search_did_not_find_is_summed_up_apart() -> None:
    from nas.ledger.confirmed import reference_stats

    rows = search_and_confirm() + [confirm_row(f"r{i}", [5, 5], acc, 1000 + i)
                                   for i, acc in enumerate((0.58, 0.60))]
    table = confirmed(frame(rows), OBJECTIVE)
    assert list(table["tokens"]) == [(1, 1), (0, 0)]  # not a candidate of the search
    stats = reference_stats(frame(rows), OBJECTIVE, (5, 5))
    assert stats["n"] == 2 and stats["accuracy_mean"] == pytest.approx(0.59)
    assert math.isnan(stats["search_reward"]) and stats["tokens"] == (5, 5)
    found = reference_stats(frame(rows), OBJECTIVE, (1, 1))  # the search found this one
    assert found["n"] == 3 and found["search_trial_id"] == "b"
    assert reference_stats(frame(rows), OBJECTIVE, (9, 9)) is None
