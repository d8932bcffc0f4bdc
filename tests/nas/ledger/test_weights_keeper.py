"""`keep_weights: K`: trials save weights, the driver keeps the K best by reward (no Ray here)."""

from __future__ import annotations

import pytest

from nas.config import load_config
from nas.engine.trial import TrialSetup, evaluate_arch
from nas.ledger.kept_weights import WeightsKeeper, trial_weights
from objectives import ProxyConfig
from search_space import Arch, SpecError, Stage
from search_space.weights import load_weights

TINY = Arch(stages=(Stage("mbconv", 1, 3, 2, 8, 1, 0.0),), stem=8, head=16, name="tiny")


def _saved(run, trial_id: str) -> None:
    path = trial_weights(run, trial_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".pt", ".yaml"):
        path.with_suffix(suffix).write_text(trial_id)


def _row(trial_id: str, reward: float | None, status: str = "ok") -> dict:
    return {"trial_id": trial_id, "reward": reward, "status": status}


def _kept(run) -> list[str]:
    return sorted(p.name for p in (run / "weights").glob("*.*"))


def test_only_the_top_k_by_reward_stay(tmp_path):
    keeper = WeightsKeeper(tmp_path, k=2)
    for trial_id, reward in (("a", 0.3), ("b", 0.5), ("c", 0.1), ("d", 0.6)):
        _saved(tmp_path, trial_id)
        keeper.offer(_row(trial_id, reward))
    assert _kept(tmp_path) == ["b.pt", "b.yaml", "d.pt", "d.yaml"]
    assert not list((tmp_path / "weights" / "trials").iterdir())  # losers deleted
    _saved(tmp_path, "e")
    assert not keeper.offer(_row("e", None, "diverged"))
    assert not trial_weights(tmp_path, "e").exists()
    resumed = WeightsKeeper(tmp_path, k=2, rows=[_row("b", 0.5), _row("d", 0.6)])
    _saved(tmp_path, "f")
    assert resumed.offer(_row("f", 0.55))
    assert _kept(tmp_path) == ["d.pt", "d.yaml", "f.pt", "f.yaml"]


def test_a_trial_saves_the_weights_it_was_scored_with(tmp_path):
    proxy = ProxyConfig(resolution=16, train_size=64, val_size=32, threads=1)
    setup = TrialSetup(proxy, load_config("demo").objective, weights_dir=str(tmp_path))
    out = trial_weights(tmp_path, "t1")
    final = evaluate_arch(TINY, setup, lambda metrics: None, str(out))
    assert final["status"] == "ok"
    model, arch = load_weights(out)
    assert arch == TINY and model.classifier.out_features == 10


def test_keep_weights_is_checked():
    assert load_config("demo", ["keep_weights=3"]).keep_weights == 3
    with pytest.raises(SpecError, match="keep_weights"):
        load_config("demo", ["keep_weights=-1"])
    with pytest.raises(SpecError, match="custom evaluator"):
        load_config("demo", ["keep_weights=2", "evaluate=tests.evaluators:flaky"])
