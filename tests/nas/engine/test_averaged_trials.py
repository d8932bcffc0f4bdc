"""`proxy.seeds: k`: a trial trains k seeds and reports their mean and std; k = 1 is as before;
a diverged seed ends the trial; bad values are one line naming proxy.seeds."""

from __future__ import annotations

import dataclasses
import json
import statistics

import pytest

from nas.cli import main
from nas.config import load_config
from nas.engine.averaged import averaged_evaluate, seed_proxies
from nas.engine.trial import TrialSetup, evaluate_arch
from nas.ledger.run_dir import RunDir
from nas.ledger.trial_outcome import trial_outcome
from nas.studies.fidelity import study_from_source
from nas.studies.rank_agreement import Job
from objectives import ProxyConfig, train_proxy
from search_space import Arch, SpecError, Stage
from tests.edges_cli import main_error

TINY = Arch(stages=(Stage("mbconv", 1, 3, 2, 8, 1, 0.0),), stem=8, head=16, name="tiny")
PROXY = ProxyConfig(epochs=2, resolution=16, train_size=64, val_size=32, threads=1,
                    bn_calibration=0, seed=3)


def _trial(proxy: ProxyConfig) -> tuple[dict, list[dict]]:
    reports: list[dict] = []
    setup = TrialSetup(proxy, load_config("demo").objective)
    return evaluate_arch(TINY, setup, reports.append), reports


def test_two_seeds_report_the_mean_and_std_of_two_trainings():
    final, reports = _trial(dataclasses.replace(PROXY, seeds=2))
    runs = [train_proxy(TINY, dataclasses.replace(PROXY, seed=s)) for s in (3, 4)]
    accuracies = [r.accuracy for r in runs]
    assert final["status"] == "ok" and final["seeds"] == 2 and final["epochs"] == 2
    assert final["accuracy"] == pytest.approx(statistics.fmean(accuracies))
    assert final["accuracy_std"] == pytest.approx(statistics.stdev(accuracies))
    # only the last seed reports, each epoch averaged over both seeds (what ASHA compares)
    assert [r["epoch"] for r in reports] == [1, 2]
    for report, epoch in zip(reports, (0, 1)):
        mean = statistics.fmean(r.history[epoch]["accuracy"] for r in runs)
        assert report["accuracy"] == pytest.approx(mean) and report["seeds"] == 2
    row = trial_outcome({**final, "epoch": 2}, error=False)
    assert row["accuracy_std"] == final["accuracy_std"] and row["seeds"] == 2


def test_one_seed_leaves_the_trial_as_it_was():
    final, reports = _trial(PROXY)
    single = train_proxy(TINY, PROXY)
    assert final["accuracy"] == single.accuracy and final["status"] == "ok"
    assert "seeds" not in final and "accuracy_std" not in final
    assert [r["accuracy"] for r in reports] == [h["accuracy"] for h in single.history]
    assert "seeds" not in reports[-1]


def _fake(outcomes: dict[int, dict]):
    """An evaluator per seed index giving `outcomes[seed]`, recording the recipes it got."""
    seen: list[ProxyConfig] = []

    def evaluator(i: int):
        def evaluate(arch, proxy, report):
            seen.append(proxy)
            report({"epoch": 1, "accuracy": outcomes[proxy.seed]["accuracy"]})
            return outcomes[proxy.seed]
        return evaluate
    return evaluator, seen


def test_a_diverged_seed_ends_the_trial_with_its_reason():
    evaluator, seen = _fake({
        5: {"accuracy": 0.5, "epochs": 1, "train_seconds": 1.0},
        6: {"status": "diverged", "reason": "non-finite loss", "accuracy": 0.1, "epochs": 0,
            "train_seconds": 0.5}})
    final = averaged_evaluate(evaluator, TINY, ProxyConfig(seed=5, seeds=4), lambda m: None)
    assert [p.seed for p in seen] == [5, 6] and {p.seeds for p in seen} == {1}
    assert final["status"] == "diverged" and final["reason"] == "seed 6: non-finite loss"
    assert final["seeds"] == 2 and final["epochs"] == 0 and final["train_seconds"] == 1.5


def test_seeds_are_consecutive_and_each_trains_once():
    assert [(p.seed, p.seeds) for p in seed_proxies(ProxyConfig(seed=7, seeds=3))] == \
        [(7, 1), (8, 1), (9, 1)]


@pytest.mark.parametrize("value", ["0", "17", "1.5", ".nan", "two"])
def test_bad_seeds_are_one_line_naming_proxy_seeds(capsys, tmp_path, value):
    line = main_error(capsys, "run", "demo", "--set", f"proxy.seeds={value}", "--output",
                      str(tmp_path / "run"))
    assert "proxy.seeds" in line and not (tmp_path / "run").exists()
    with pytest.raises(SpecError, match="seeds"):
        ProxyConfig(seeds=json.loads(value) if value[0].isdigit() else value)


def test_fidelity_long_may_average_seeds_and_its_jobs_keep_their_seeds_apart():
    study, _, _ = study_from_source("demo", 2, 3, ["proxy.seeds=3"], [])
    assert study.long_proxy.seeds == 3 and study.config.proxy.seeds == 1
    base = study.config.proxy.seed
    assert [study.proxy(Job(0, "long", s)).seed for s in range(3)] == \
        [base, base + 3, base + 6]
    assert [study.proxy(Job(0, "short", s)).seed for s in range(3)] == \
        [base, base + 1, base + 2]


def test_fidelity_long_proxy_seeds_runs_end_to_end(ray_local, tmp_path):
    out = tmp_path / "study"
    assert main(["fidelity", "demo", "--archs", "2", "--seeds", "2", "--long",
                 "proxy.seeds=2", "--set", "evaluate=tests.evaluators:seeded_score",
                 "--output", str(out)]) == 0
    rows = RunDir(out).rows()
    long = [r for r in rows if r["setting"] == "long"]
    assert len(long) == 4 and {r["seeds"] for r in long} == {2}
    assert all(r["accuracy_std"] == pytest.approx(0.01 / 2 ** 0.5) for r in long)
    assert not any("seeds" in r for r in rows if r["setting"] == "short")
    # seeded_score adds 0.01 x the proxy seed: long job 1 averages the two seeds after job 0's
    acc = {(r["setting"], r["arch_id"], r["seed"]): r["accuracy"] for r in rows}
    for arch_id in (0, 1):
        assert acc["long", arch_id, 1] - acc["long", arch_id, 0] == pytest.approx(0.02)
        assert acc["short", arch_id, 1] - acc["short", arch_id, 0] == pytest.approx(0.01)
