"""`train --save`: a plain state dict + the block table beside it rebuild the trained model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from nas.cli import main
from objectives import ProxyConfig, load_dataset
from objectives.training import evaluate, make_runtime
from search_space import Arch, SpecError, Stage, build_model
from search_space.weights import load_weights, read_state_dict, save_weights

TINY = Arch(stages=(Stage("mbconv", 1, 3, 2, 8, 1, 0.25), Stage("mbconv", 3, 5, 2, 16, 2, 0.0)),
            stem=8, head=32, resolution=224, name="tiny")
RUN = ["--train-size", "128", "--val-size", "64", "--resolution", "16", "--threads", "1"]


def test_train_save_restores_the_model_that_scored_the_accuracy(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(TINY.to_yaml())
    ckpt = tmp_path / "out" / "tiny.pt"
    assert main(["train", str(tmp_path / "tiny.yaml"), "--json", "--save", str(ckpt), *RUN]) == 0
    accuracy = json.loads(capsys.readouterr().out)["accuracy"]
    state = torch.load(ckpt, weights_only=True)  # plain tensors only
    table = tmp_path / "out" / "tiny.yaml"
    assert Arch.from_yaml(table) == TINY and "# num_classes: 10" in table.read_text()
    model = build_model(Arch.from_yaml(table), num_classes=10)
    model.load_state_dict(state)  # the documented two-line restore
    cfg = ProxyConfig(train_size=128, val_size=64, resolution=16)
    rt = make_runtime(cfg)
    model = model.to(memory_format=torch.channels_last)
    assert evaluate(model, load_dataset(cfg).val, rt) == accuracy
    restored, arch = load_weights(ckpt)
    assert arch == TINY and not restored.training
    assert all(torch.equal(a, b) for a, b in zip(restored.state_dict().values(),
                                                 state.values()))


def test_weights_that_do_not_fit_are_one_error(tmp_path):
    ckpt = tmp_path / "m.pt"
    save_weights(build_model(TINY, 10), TINY, ckpt)
    other = TINY.replace(head=48)
    with pytest.raises(SpecError, match="do not fit the block table"):
        load_weights(ckpt, other)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SpecError, match="not a readable state dict"):
        read_state_dict(tmp_path / "junk.pt")
    torch.save({"w": Path("a pickled object")}, tmp_path / "pickle.pt")
    with pytest.raises(SpecError, match="not a readable state dict") as err:
        read_state_dict(tmp_path / "pickle.pt")
    assert "weights_only" not in str(err.value)  # never the advice to run the file's code
    with pytest.raises(SpecError, match="cannot create its folder"):
        save_weights(build_model(TINY, 10), TINY, Path("/proc/no-such/m.pt"))
    with pytest.raises(SpecError, match="block table's name"):
        save_weights(build_model(TINY, 10), TINY, tmp_path / "m.yaml")


def test_train_refuses_a_yaml_save_name_before_training(tmp_path, capsys):
    assert main(["train", "efficientnet-b0", "--save", str(tmp_path / "b0.yaml"), *RUN]) == 2
    assert "block table's name" in capsys.readouterr().err
