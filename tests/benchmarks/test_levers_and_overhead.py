"""The command lines of benchmarks/cpu_levers.py (its section 4: allocator and trial layout) and
the switch of Tune's default loggers that a search and benchmarks/trial_overhead.py share; real
runs take minutes (benchmarks/results/)."""

from __future__ import annotations

import os

import pytest

from benchmarks import cpu_levers
from nas.engine import tuning


def test_sections_are_selectable_and_quick_is_small():
    args = cpu_levers.parse_args(["--quick", "--only", "trials", "fixed"])
    assert args.only == ["trials", "fixed"] and args.repeats == 1
    assert cpu_levers.parse_args([]).only == list(cpu_levers.SECTIONS)
    with pytest.raises(SystemExit) as done:
        cpu_levers.parse_args(["--only", "bogus"])
    assert done.value.code == 2


def test_layouts_compare_each_allocator_and_both_thread_layouts():
    layouts = set(cpu_levers.LAYOUTS)
    for steady in (False, True):
        assert {cpu_levers.Layout(1, 1, steady), cpu_levers.Layout(2, 1, steady),
                cpu_levers.Layout(1, 2, steady)} <= layouts
    both = cpu_levers.Speed(40.0, 20.0, 10.0) + cpu_levers.Speed(30.0, 30.0, 20.0)
    assert both == cpu_levers.Speed(70.0, 25.0, 15.0)  # img/s add up, per-image costs average


@pytest.mark.parametrize("before", [None, "0"])
def test_bare_tune_loggers_are_switched_for_one_fit_only(monkeypatch, before):
    key = "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"
    if before is None:
        monkeypatch.delenv(key, raising=False)
    else:
        monkeypatch.setenv(key, before)
    with tuning.tune_loggers(default=False):
        assert os.environ[key] == "1"
    with tuning.tune_loggers(default=True):
        assert key not in os.environ
    assert os.environ.get(key) == before
