"""Proxy training: it measures accuracy (a label-free control stays at chance), is seeded,
reports per epoch, survives divergence, and validates its config."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from objectives import ProxyConfig, ProxyData, load_dataset, train_proxy
from objectives.data import TensorSplit
from objectives.training import lr_at, make_optimizer, make_runtime, recalibrate_bn, trained_arch
from search_space import Arch, SpecError, Stage, build_model, preset, scale_by

# B0's seven stages at half width, one layer each: B0-like, trains in ~2 s on one core
B0_LIKE = scale_by(preset("efficientnet-b0"), width=0.5, depth=0.25, name="b0-like")
TINY = Arch(stages=(Stage("mbconv", 1, 3, 2, 8, 1, 0.0), Stage("mbconv", 3, 3, 2, 16, 1, 0.0)),
            stem=8, head=32, name="tiny")
SHORT = ProxyConfig(epochs=1, resolution=32, train_size=960, val_size=320, threads=1,
                    lr=0.05, batch_size=64)  # one short epoch: the fast, noisy recipe
FAST = ProxyConfig(epochs=2, resolution=16, train_size=256, val_size=128, threads=1,
                   batch_size=32)


def _scrambled(split: TensorSplit, seed: int) -> TensorSplit:
    """Images shuffled against their labels: the input carries no label information."""
    perm = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))
    return TensorSplit(split.images[perm], split.labels)


def test_one_short_epoch_is_above_chance_and_a_label_free_control_is_not():
    data = load_dataset(SHORT)
    learned = train_proxy(B0_LIKE, SHORT, data=data)
    control_data = ProxyData(_scrambled(data.train, 1), _scrambled(data.val, 2),
                             data.num_classes, "control", data.resolution)
    control = train_proxy(B0_LIKE, SHORT, data=control_data)
    chance = 1 / data.num_classes
    assert learned.status == control.status == "ok"
    assert learned.accuracy >= 2 * chance  # 320 held-out images: chance is 0.10 +- 0.017
    assert control.accuracy <= chance + 0.08


def test_result_history_and_callbacks_report_every_epoch():
    epochs, steps = [], []
    result = train_proxy(TINY, FAST, on_epoch=epochs.append, on_step=steps.append)
    assert result.status == "ok" and result.reason == "" and result.epochs == 2
    assert [m["epoch"] for m in epochs] == [1, 2] and result.history == epochs
    for m in epochs:
        assert {"epoch", "accuracy", "loss", "seconds", "lr"} <= set(m)
        assert 0.0 <= m["accuracy"] <= 1.0 and math.isfinite(m["loss"]) and m["seconds"] > 0
    assert result.accuracy == epochs[-1]["accuracy"] and result.resolution == 16
    assert result.train_seconds >= sum(m["seconds"] for m in epochs)
    assert epochs[1]["lr"] < epochs[0]["lr"]  # cosine decay
    assert [(s["epoch"], s["step"], s["steps"]) for s in steps] == [(1, 8, 8), (2, 8, 8)]


def test_training_is_seeded_and_leaves_global_state_alone():
    threads, rng_state = torch.get_num_threads(), torch.get_rng_state()
    first = train_proxy(TINY, FAST)
    again = train_proxy(TINY, FAST)
    other = train_proxy(TINY, dataclasses.replace(FAST, seed=1))
    assert [h["loss"] for h in first.history] == [h["loss"] for h in again.history]
    assert first.accuracy == again.accuracy
    assert [h["loss"] for h in first.history] != [h["loss"] for h in other.history]
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.get_rng_state(), rng_state)


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop"])
def test_a_huge_learning_rate_diverges_into_a_result_not_an_exception(optimizer):
    cfg = dataclasses.replace(FAST, lr=1e6, optimizer=optimizer)
    result = train_proxy(TINY, cfg)
    assert result.status == "diverged"
    assert "training loss" in result.reason and "epoch 1" in result.reason
    assert result.accuracy == 0.0 and result.epochs == 0 and result.history == []


def test_exponential_schedule_and_rmsprop_train():
    cfg = dataclasses.replace(FAST, optimizer="rmsprop", schedule="exponential", lr=0.01,
                              warmup_epochs=0.5, label_smoothing=0.1)
    result = train_proxy(TINY, cfg)
    assert result.status == "ok" and result.epochs == 2


def test_gradient_clipping_bounds_every_step():
    # a huge lr diverges unclipped; with the step's norm clipped to 1e-3 the weights barely move
    cfg = dataclasses.replace(FAST, lr=1e3, clip_grad=1e-3, epochs=1)
    clipped = train_proxy(TINY, cfg)
    assert train_proxy(TINY, dataclasses.replace(cfg, clip_grad=None)).status == "diverged"
    assert clipped.status == "ok"


def test_regularisation_overrides_reach_the_trained_model_and_adamw_trains():
    cfg = dataclasses.replace(FAST, optimizer="adamw", lr=1e-3, dropout=0.0, drop_path=0.0)
    b0 = preset("efficientnet-b0")
    kinds = {type(m).__name__ for m in build_model(b0).modules()}
    assert "DropPath" in kinds  # B0's own drop_path 0.2 ...
    modules = list(build_model(trained_arch(b0, cfg)).modules())
    assert not any(type(m).__name__ == "DropPath" for m in modules)  # ... off while proxying
    assert [m.p for m in modules if isinstance(m, torch.nn.Dropout)] == [0.0]
    assert trained_arch(b0, FAST) is b0  # None: the arch's own
    optimizer = make_optimizer(build_model(TINY, 10), cfg)
    assert isinstance(optimizer, torch.optim.AdamW)
    assert optimizer.param_groups[0]["betas"][0] == cfg.momentum
    seen = []
    result = train_proxy(TINY, cfg, on_trained=seen.append)
    assert result.status == "ok" and result.epochs == 2
    assert [m.p for m in seen[0].modules() if isinstance(m, torch.nn.Dropout)] == [0.0]


@pytest.mark.parametrize("channels_last, bf16", [(False, False), (True, True)])
def test_memory_format_and_bf16_autocast_paths_train(channels_last, bf16):
    cfg = dataclasses.replace(FAST, channels_last=channels_last, bf16=bf16)
    result = train_proxy(TINY, cfg)
    assert result.status == "ok" and 0.0 <= result.accuracy <= 1.0


def test_lr_schedule_warms_up_then_decays():
    cos = ProxyConfig(lr=1.0, epochs=4, warmup_epochs=1.0)
    lrs = [lr_at(cos, step, 10) for step in range(40)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0) and lrs[-1] < 0.01
    assert all(a >= b for a, b in zip(lrs[10:-1], lrs[11:], strict=True))
    exp = ProxyConfig(lr=1.0, epochs=10, schedule="exponential", decay_rate=0.5, decay_epochs=2)
    assert lr_at(exp, 40, 10) == pytest.approx(0.25)


def test_bn_recalibration_sets_exact_statistics_of_the_training_images():
    torch.manual_seed(0)
    model = build_model(TINY, 10)
    rt = make_runtime(ProxyConfig(device="cpu", channels_last=False))
    images = torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8)
    split = TensorSplit(images, torch.zeros(64, dtype=torch.int64))
    recalibrate_bn(model, split, rt, images=48, batch_size=16)
    stem_conv, stem_bn = model.stem[0], model.stem[1]
    with torch.no_grad():
        features = stem_conv(rt.prepare(images[:48]))
    assert torch.allclose(stem_bn.running_mean, features.mean((0, 2, 3)), atol=1e-5)
    assert stem_bn.momentum == 0.1 and model.training


@pytest.mark.parametrize("field, value", [
    ("epochs", 0), ("resolution", 4), ("batch_size", 1.5), ("lr", 0.0), ("lr", float("nan")),
    ("optimizer", "adam"), ("schedule", "step"), ("warmup_epochs", 1.0),
    ("label_smoothing", 1.0), ("weight_decay", -1.0), ("train_size", 0), ("val_size", 0),
    ("val_size", 1.0), ("val_size", True), ("threads", 0), ("device", "tpu"),
    ("num_workers", -1), ("channels_last", "yes"), ("dataset", ""), ("decay_rate", 0.0),
    ("clip_grad", 0.0), ("dropout", 1.5), ("drop_path", -0.1),
])
def test_bad_config_fields_are_spec_errors(field, value):
    with pytest.raises(SpecError) as err:
        ProxyConfig(**{field: value})
    assert err.value.field == field


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_it_is_a_spec_error():
    with pytest.raises(SpecError, match="CUDA is not available"):
        train_proxy(TINY, dataclasses.replace(FAST, device="cuda"))
