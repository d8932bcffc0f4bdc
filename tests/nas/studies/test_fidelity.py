"""Fidelity agreement figures (Ray-free): scipy's tau from the CSV, monotone and reversed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nas.studies.rank_agreement import (
    agreement,
    fidelity_figure,
    fidelity_table,
    make_jobs,
    reading,
    spread_ranks,
)
from nas.studies.study_run import write_study_files
from search_space.errors import SpecError


def _rows(long_of, archs: int = 8, seeds: int = 2, noise: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for job in make_jobs(archs, seeds):
        short = 0.1 + 0.1 * job.arch_id + noise * rng.normal()
        accuracy = short if job.setting == "short" else long_of(short)
        rows.append({"arch_id": job.arch_id, "setting": job.setting, "seed": job.seed,
                     "status": "ok", "accuracy": accuracy,
                     "train_seconds": 1.0 if job.setting == "short" else 4.0,
                     "flops": 1e6, "params": 1e3, "tokens": "[0]"})
    return pd.DataFrame(rows)


def test_jobs_cover_every_arch_setting_and_seed():
    jobs = make_jobs(3, 2)
    assert len(jobs) == 12 and len(set(jobs)) == 12
    assert [j.arch_id for j in jobs[:4]] == [0, 0, 0, 0]  # arch-major


def test_spread_ranks_takes_best_worst_and_between():
    assert spread_ranks(10, 4) == [0, 3, 6, 9]
    assert spread_ranks(3, 5) == [0, 1, 2]
    assert spread_ranks(5, 1) == [0]


@pytest.mark.parametrize("long_of, tau", [(lambda a: a ** 2 + 0.3, 1.0), (lambda a: 1 - a, -1.0)])
def test_monotone_long_gives_tau_one_and_reversed_minus_one(long_of, tau):
    figures = agreement(_rows(long_of))
    assert figures["kendall_tau"] == tau and figures["spearman"] == tau
    assert figures["seed_tau_short"] == 1.0 and figures["seed_tau_long"] == 1.0
    assert figures["seed_gap_long"] == 0.0  # both seeds score alike here
    verdict = "not the short setting" if tau > 0 else "evaluating as the long one does"
    assert verdict in reading(figures)[1]
    assert figures["top_k_overlap"] == (1.0 if tau > 0 else 0.0)
    assert figures["cost_ratio"] == 0.25


def test_json_tau_is_scipys_tau_recomputed_from_the_csv(tmp_path):
    rows = _rows(lambda a: a, noise=0.2)
    figures = agreement(rows)
    write_study_files(tmp_path, "fidelity", fidelity_table(rows), figures,
                      fidelity_figure(rows, figures))
    csv = pd.read_csv(tmp_path / "fidelity.csv")
    means = csv[csv.status == "ok"].groupby(["setting", "arch_id"])["accuracy"].mean()
    expected = stats.kendalltau(means["short"], means["long"]).statistic
    saved = json.loads((tmp_path / "fidelity.json").read_text())
    assert saved["kendall_tau"] == pytest.approx(expected, abs=1e-12)
    seeds = csv[csv.setting == "long"].pivot(index="arch_id", columns="seed", values="accuracy")
    gap = (seeds[0] - seeds[1]).abs().median()
    assert gap > 0 and saved["seed_gap_long"] == pytest.approx(gap, abs=1e-12)
    low, high = saved["kendall_tau_ci95"]
    assert -1.0 <= low <= saved["kendall_tau"] <= high <= 1.0
    assert (tmp_path / "fidelity.png").stat().st_size > 0


def test_failed_jobs_leave_their_arch_out():
    rows = _rows(lambda a: a)
    rows.loc[(rows.arch_id == 0) & (rows.setting == "long"), "status"] = "diverged"
    figures = agreement(rows)
    assert figures["archs_compared"] == 7 and figures["failed_jobs"] == 2


def test_each_job_carries_its_seed_and_setting_to_the_trial(tmp_path):
    from nas.studies.enumerated import EnumeratedSpace
    from nas.studies.fidelity import study_from_source

    study, reference, _ = study_from_source("demo", 2, 2, ["proxy.epochs=3"], [])
    assert study.supernets(tmp_path) == {}  # both settings train standalone
    space = EnumeratedSpace(study.specs(tmp_path), reference, study.config.proxy)
    configs = {(j.fields["arch_id"], j.fields["setting"], j.fields["seed"]):
               space.trial_config([i]) for i, j in enumerate(space.entries)}
    assert configs[(0, "short", 0)] == {"proxy": {}}
    assert configs[(1, "short", 1)] == {"proxy": {"seed": 1}}
    assert configs[(1, "long", 1)] == {"proxy": {"epochs": 3, "seed": 1}}
    for i, job in enumerate(space.entries):  # one decision: which job, and back
        assert space.encode(space.decode([i])) == [i]
        assert space.row_fields([i])["arch_id"] == job.fields["arch_id"]


def test_a_supernet_setting_scores_against_one_supernet_per_seed(tmp_path):
    from nas.studies.enumerated import EnumeratedSpace
    from nas.studies.fidelity import study_from_source

    study, reference, _ = study_from_source("oneshot-demo", 2, 2, ["evaluator=proxy"],
                                            ["supernet.epochs=2"])
    assert (study.evaluator("short"), study.evaluator("long")) == ("supernet", "proxy")
    checkpoints = study.supernets(tmp_path)
    assert sorted(checkpoints) == [("short", 0), ("short", 1)]
    space = EnumeratedSpace(study.specs(tmp_path), reference, study.config.proxy)
    for i, job in enumerate(space.entries):
        config = space.trial_config([i])
        setting, seed = job.fields["setting"], job.fields["seed"]
        if setting == "long":
            assert "supernet" not in config
            continue
        assert config["supernet"]["checkpoint"] == str(checkpoints[("short", seed)])
        assert config["supernet"]["space"] == "b0" and config["supernet"]["epochs"] == 2
    with pytest.raises(SpecError, match="supernet.workers"):
        study_from_source("oneshot-demo", 2, 1, ["evaluator=proxy"], ["supernet.workers=2"])
    with pytest.raises(SpecError, match="--long"):
        study_from_source("demo", 2, 1, ["space=b0-small"], [])
    for source, long in (("oneshot-demo", "proxy.epochs=6"), ("demo", "proxy.epochs=2"),
                         ("oneshot-demo", "supernet.actors=2"), ("demo", "proxy.threads=1")):
        with pytest.raises(SpecError, match="evaluating alike"):  # nothing would differ
            study_from_source(source, 2, 1, [long], [])


@pytest.mark.parametrize("text", ["", "config: {}\n", "[1, 2]\n", "archs: 3\nconfig: x\n"])
def test_a_damaged_study_file_is_one_error_naming_it(text, tmp_path):
    from nas.studies.fidelity import Study
    from search_space import SpecError

    path = tmp_path / "fidelity-study.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        Study.from_yaml(path)
    assert str(path) in str(err.value)


def test_tied_scores_give_no_figure_and_no_warning():
    import warnings

    rows = _rows(lambda a: 0.1)
    rows["accuracy"] = 0.1  # every training at chance: no rank to correlate
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figures = agreement(rows)
    assert figures["kendall_tau"] is None and figures["spearman"] is None
    assert not caught, [str(w.message) for w in caught]
