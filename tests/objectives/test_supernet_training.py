"""Supernet training: SPOS / sandwich steps, per-epoch checkpoints, exact resume, scoring."""

import dataclasses

import numpy as np
import pytest
import torch

from objectives import (
    ProxyConfig,
    SupernetConfig,
    load_dataset,
    load_supernet,
    score_candidates,
    train_supernet,
)
from objectives.supernet_training import extremes, sample_paths
from objectives.training import evaluate, make_runtime, recalibrate_bn
from search_space import load_space
from search_space.errors import SpecError

PROXY = ProxyConfig(resolution=16, batch_size=32, train_size=64, val_size=64, device="cpu")


def test_resume_continues_from_the_last_epoch(tmp_path):
    space = load_space("mnasnet")
    cfg = SupernetConfig(epochs=2)
    straight = train_supernet(space, PROXY, cfg, tmp_path / "a.pt")
    epochs = []

    def killed(entry):
        raise KeyboardInterrupt  # the process dies right after epoch 1's checkpoint

    with pytest.raises(KeyboardInterrupt):
        train_supernet(space, PROXY, cfg, tmp_path / "b.pt", on_epoch=killed)
    resumed = train_supernet(space, PROXY, cfg, tmp_path / "b.pt",
                             on_epoch=lambda e: epochs.append(e["epoch"]))
    assert epochs == [2]  # epoch 1 came from the checkpoint
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    loaded = load_supernet(space, tmp_path / "b.pt")
    assert [h["epoch"] for h in loaded.history] == [1, 2]


def test_sandwich_steps_train_largest_smallest_and_random():
    space = load_space("b0")
    large, small = extremes(space)
    paths = sample_paths(space, "sandwich", 0, 5, (large, small))
    assert paths[:2] == [large, small] and len(paths) == 3
    assert sample_paths(space, "uniform", 0, 5) == sample_paths(space, "uniform", 0, 5)
    assert large.stages[0].out >= small.stages[0].out
    supernet = train_supernet(space, PROXY, SupernetConfig(epochs=1, sampling="sandwich"))
    assert len(supernet.history) == 1


def test_the_recipes_dropout_reaches_every_path():
    space = load_space("b0")
    arch = space.sample(np.random.default_rng(0))
    supernet = train_supernet(space, PROXY, SupernetConfig(epochs=1)).train()
    x = torch.randn(4, 3, 16, 16)
    torch.manual_seed(0)
    assert torch.equal(supernet(x, arch, 0.0), supernet(x, arch, 0.0))  # BN alone: no noise
    assert not torch.equal(supernet(x, arch), supernet(x, arch))  # the skeleton's 0.2
    trained = {p: train_supernet(space, dataclasses.replace(PROXY, dropout=p),
                                 SupernetConfig(epochs=1)).state_dict()
               for p in (None, 0.2, 0.0)}
    weights = [s["classifier.weight"] for s in trained.values()]
    assert torch.equal(weights[0], weights[1])  # b0 fixes 0.2: the same training
    assert not torch.equal(weights[0], weights[2])  # the recipe's 0 trains without it


def test_the_recipes_gradient_clipping_reaches_the_supernet():
    space = load_space("mnasnet")
    trained = {c: train_supernet(space, dataclasses.replace(PROXY, clip_grad=c),
                                 SupernetConfig(epochs=1)).state_dict()
               for c in (None, 1e9, 1e-3)}
    weights = [s["classifier.weight"] for s in trained.values()]
    assert torch.equal(weights[0], weights[1])  # a bound never reached: the same training
    assert not torch.equal(weights[0], weights[2])


def test_scores_are_accuracies_from_inherited_weights():
    space = load_space("b0")
    supernet = train_supernet(space, PROXY, SupernetConfig(epochs=1))
    archs = [space.sample(np.random.default_rng(i)) for i in range(2)]
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    scores = score_candidates(supernet, archs, PROXY, SupernetConfig(calibration=32))
    assert all(0.0 <= s["accuracy"] <= 1.0 and s["seconds"] > 0 for s in scores)
    for name, tensor in supernet.state_dict().items():  # BN statistics put back
        assert torch.equal(tensor, before[name]), name
    data = load_dataset(PROXY)  # the path inside the supernet scores as the standalone copy
    rt = make_runtime(PROXY)
    for arch, score in zip(archs, scores, strict=True):
        model = supernet.subnet(arch)
        recalibrate_bn(model, data.train, rt, 32)
        assert evaluate(model, data.val, rt) == score["accuracy"]
    [half] = score_candidates(supernet, archs[:1], PROXY, SupernetConfig(calibration=32,
                                                                         holdout=16))
    assert half["accuracy"] * 16 == round(half["accuracy"] * 16)  # top-1 over 16 images


def test_bad_settings_and_foreign_checkpoints_are_refused(tmp_path):
    with pytest.raises(SpecError):
        SupernetConfig(sampling="greedy")
    for bad_setting in ({"epochs": 0}, {"holdout": -1}, {"retrain_top": -1},
                        {"distill": "yes"}, {"distill": True, "sampling": "uniform"}):
        with pytest.raises(SpecError):
            SupernetConfig(**bad_setting)
    bad = tmp_path / "supernet.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(SpecError):
        load_supernet(load_space("b0"), bad)
