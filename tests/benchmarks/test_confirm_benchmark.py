"""benchmarks/confirm.py is written against the confirmation contract; here only its
command line is checked (a real run takes 10-15 minutes: benchmarks/results/confirm.md)."""

from __future__ import annotations

import pytest

from benchmarks import confirm


def test_help_describes_the_benchmark(capsys):
    with pytest.raises(SystemExit) as done:
        confirm.parse_args(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--searches", "--trials", "--true-seeds", "--true-epochs", "--out", "--quick"):
        assert flag in out
    assert "winner" in out


def test_defaults_and_quick_defaults():
    args = confirm.parse_args([])
    assert (args.searches, args.trials, args.true_seeds, args.true_epochs) == (4, 12, 4, 6)
    assert not args.quick and args.out is None
    quick = confirm.parse_args(["--quick", "--searches", "3"])
    assert (quick.searches, quick.trials, quick.true_seeds, quick.true_epochs) == (3, 4, 2, 1)


@pytest.mark.parametrize("argv", [["--searches", "0"], ["--trials", "x"],
                                  ["--true-seeds", "-1"], ["--bogus"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as done:
        confirm.parse_args(argv)
    assert done.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_each_search_has_its_own_seeds_and_confirms():
    args = confirm.parse_args(["--trials", "10"])
    first, second = confirm.overrides(args, 0), confirm.overrides(args, 1)
    assert "seed=0" in first and "proxy.seed=1" in second
    assert "budget.num_samples=10" in first and "confirm.top=3" in first
    assert "confirm.seeds=2" in first
    more = confirm.overrides(confirm.parse_args(["--confirm-top", "4", "--confirm-seeds", "5"]), 0)
    assert "confirm.top=4" in more and "confirm.seeds=5" in more
    assert not any(o.startswith("confirm.set") for o in more)  # the search's recipe
    longer = confirm.overrides(confirm.parse_args(["--confirm-epochs", "6"]), 0)
    assert "confirm.set={epochs: 6}" in longer
    assert confirm.TRUE_SEED_BASE > 1000 + args.searches  # apart from search and confirmation


def test_the_verdict_weighs_the_gain_against_the_seed_noise():
    assert confirm.verdict([0.02, -0.01, 0.03, 0.0], noise=0.02).startswith("goal met")
    assert confirm.verdict([0.05, -0.04, 0.03, 0.0], noise=0.02).startswith("goal NOT met")
    assert confirm.verdict([0.0, 0.0], noise=0.02).startswith("goal NOT met")
    assert "+- 0.0100 (s.e.)" in confirm.verdict([0.01, 0.03], noise=0.02)
