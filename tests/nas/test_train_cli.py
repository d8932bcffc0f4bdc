"""`nas-search train ARCH`: the printed figures, --json, progress, and bad dataset paths."""

from __future__ import annotations

import json

import pytest

from nas.cli import main
from objectives import analytic_counts, mnas_reward
from search_space import Arch, Stage

TINY = Arch(stages=(Stage("mbconv", 1, 3, 2, 8, 1, 0.0), Stage("mbconv", 3, 3, 2, 16, 1, 0.0)),
            stem=8, head=32, resolution=224, name="tiny")
SMALL_RUN = ["--train-size", "128", "--val-size", "64", "--resolution", "16", "--threads", "1"]


@pytest.fixture
def tiny_yaml(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.to_yaml())
    return str(path)


def test_json_reports_deployment_flops_and_the_reward(tiny_yaml, capsys):
    assert main(["train", tiny_yaml, "--json", *SMALL_RUN]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    counts = analytic_counts(TINY, 224, 1000)  # the arch's own 224 px, not the 16 px proxy
    assert result["flops"] == counts.flops and result["params"] == counts.params
    assert result["flops_resolution"] == 224 and result["proxy_resolution"] == 16
    assert 0.0 <= result["accuracy"] <= 1.0 and result["status"] == "ok"
    assert result["reward"] == pytest.approx(mnas_reward(result["accuracy"], counts.flops))
    assert result["seconds"] > 0 and len(result["history"]) == result["epochs"] == 1
    assert "epoch 1/1" in err  # progress goes to stderr, stdout stays one JSON object


def test_text_output_names_each_figure(tiny_yaml, capsys):
    args = ["train", tiny_yaml, *SMALL_RUN, "--epochs", "2", "--target", "1e6", "--w", "-0.5"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    for label in ("accuracy:", "FLOPs:", "params:", "reward:", "seconds:"):
        assert label in out
    assert "multiply-adds" in out and "(FLOPs / 1M) ^ -0.5" in out
    assert "epoch 1/2" in err and "epoch 2/2" in err


def test_diverged_training_prints_the_result_and_exits_1(tiny_yaml, capsys):
    assert main(["train", tiny_yaml, "--json", "--lr", "1e6", *SMALL_RUN]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "diverged" and "loss" in result["reason"]


def test_missing_dataset_is_one_line_and_exit_2(tiny_yaml, tmp_path, capsys):
    missing = tmp_path / "no-such-data"
    assert main(["train", tiny_yaml, "--dataset", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(missing) in err and "Traceback" not in err


def test_malformed_dataset_is_one_line_naming_the_file(tiny_yaml, tmp_path, capsys):
    folder = tmp_path / "cifar"
    folder.mkdir()
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(b"garbage")
    assert main(["train", tiny_yaml, "--dataset", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(folder / "data_batch_1") in err
