"""Experiment configs: bundled ones load, overrides apply, bad ones fail in one line before Ray."""

from __future__ import annotations

import socket

import pytest

from nas.cli import main
from nas.config import apply_override, check_reachable, load_config
from objectives import analytic_flops
from search_space import preset
from search_space.errors import SpecError


@pytest.mark.parametrize("name", ["demo", "scaling-grid"])
def test_bundled_configs_load_by_name(name):
    assert load_config(name).name == name


@pytest.mark.parametrize("name", ["b0-cifar10", "b0-imagenet", "reproduce-b0-small"])
def test_real_data_configs_need_their_dataset(name, tmp_path):
    with pytest.raises(SpecError, match="proxy.dataset"):
        check_reachable(load_config(name))
    config = load_config(name, [f"proxy.dataset={tmp_path}"])
    check_reachable(config)
    assert config.objective.w == -0.07
    if name != "b0-imagenet":  # the small-image reference sits at the target (README)
        target = analytic_flops(preset("efficientnet-b0-small"), 32, config.objective.num_classes)
        assert (config.space, config.objective.target) == ("b0-small", target)
    else:
        assert config.objective.target == 400e6


def test_relative_paths_are_made_absolute(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)  # Ray runs trials in their own folders: cwd must not matter
    config = load_config("demo", ["proxy.dataset=data", "space=my-space.yaml"])
    assert config.proxy.dataset == str(tmp_path / "data")
    assert config.space == str(tmp_path / "my-space.yaml")


@pytest.mark.parametrize("override,field", [
    ("objective.w=.nan", "objective.w"), ("objective.target=.inf", "objective.target"),
    ("proxy.device=cuda", "proxy.device"),
    ("early_stopping={asha: true, grace_period: 3}", "early_stopping.grace_period")])  # > 2 epochs
def test_values_no_trial_could_use_are_rejected(override, field):
    with pytest.raises(SpecError, match=field.split(".")[-1]):
        load_config("demo", [override])


def test_overrides_are_typed_and_nested():
    config = load_config("demo", ["proxy.epochs=3", "objective.target=3e8", "seed=7",
                                  "controller.options={population_size: 4}",
                                  "flops_band=[1.0e8, 4.0e8]"])
    assert config.proxy.epochs == 3 and config.seed == 7
    assert config.objective.target == 3e8  # YAML 1.1 reads 3e8 as text; it is a number here
    assert config.controller.options == {"population_size": 4}
    assert config.flops_band == (1e8, 4e8)


def test_config_round_trips_through_its_yaml(tmp_path):
    config = load_config("demo", ["proxy.lr=0.05"])
    path = tmp_path / "c.yaml"
    path.write_text(config.to_yaml())
    assert load_config(str(path)) == config


def test_override_into_plain_value_is_an_error():
    with pytest.raises(SpecError, match="plain value"):
        apply_override({"seed": 1}, "seed.x=2")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when we return: nothing listens there


BAD = [
    ("unknown key", "demo", ["proxy.epoks=3"], "proxy.epoks"),
    ("wrong type", "demo", ["budget.num_samples=many"], "budget.num_samples"),
    ("bad value", "demo", ["objective.kind=medium"], "objective.kind"),
    ("non-finite override", "demo", ["proxy.drop_path=nan"], "proxy.drop_path"),
    ("unknown optimizer", "demo", ["proxy.optimizer=adam"], "proxy.optimizer"),
    ("missing dataset", "demo", ["proxy.dataset=/no/such/folder"], "proxy.dataset"),
    ("unreachable address", "demo", ["address=127.0.0.1:{port}"], "address"),
    ("unknown controller", "demo", ["controller.name=bayes"], "controller"),
    ("impossible FLOPs band", "demo", ["flops_band=[1.0e12, 2.0e12]"], "flops_band"),
    ("no such config", "nope.yaml", [], "config"),
]


@pytest.mark.parametrize("what,config,overrides,field", BAD, ids=[b[0] for b in BAD])
def test_bad_config_is_one_line_and_exit_2(what, config, overrides, field, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", config, "--output", str(out)]
    for item in overrides:
        args += ["--set", item.format(port=_closed_port())]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err, err
    assert "Traceback" not in err
    assert not out.exists()  # failed before a run directory (or Ray) was started


def test_malformed_config_file_names_the_file(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("budget: {num_samples: [1, 2\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and len(err.strip().splitlines()) == 1


def test_the_latency_section_is_the_measuring_setup():
    from objectives.latency import LatencySetup, fingerprint

    config = load_config("demo", ["objective.latency.warmup=2", "objective.latency.dtype=bfloat16",
                                  "objective.latency.cache_dir=/somewhere"])
    latency = config.objective.latency
    assert isinstance(latency, LatencySetup) and latency.cache_dir == "/somewhere"
    assert fingerprint(latency) == fingerprint(LatencySetup(warmup=2, dtype="bfloat16"))
    with pytest.raises(SpecError, match="objective.latency.sweeps"):
        load_config("demo", ["objective.latency.sweeps=0"])


def _unknown_keys():
    import controllers
    from nas.outputs.tracking import tracking_backends
    from search_space import Arch, load_space

    table = preset("efficientnet-b0").to_dict()
    yield lambda: load_config("demo", ["proxy.epoks=3"])
    yield lambda: controllers.make("evolution", load_space("b0"), popsize=3)
    yield lambda: tracking_backends({"mlflow": {"urn": "x"}})
    yield lambda: Arch.from_dict({**table, "widht": 1.1})
    yield lambda: Arch.from_dict({**table, "stages": [{**table["stages"][0], "kernal": 3}]})


def test_every_unknown_key_is_worded_alike():
    for make in _unknown_keys():
        with pytest.raises(SpecError, match=r" = .*: unknown key \(known: \w+"):
            make()
