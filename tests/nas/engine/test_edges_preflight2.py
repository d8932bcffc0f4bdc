"""Bounds and preflight for latency, the supernet and tracking: each bad input is one line and
exit 2 before any timing, training or Ray, and before the run directory is created."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from edges_cli import cli_error, main_error, snapshot

from nas import load_config
from nas.engine.preflight import check_resources
from objectives.latency import LatencySetup
from objectives.latency_file import TABLE_VERSION
from objectives.latency_table import LatencyTable
from search_space import SpecError

CPUS = os.cpu_count() or 1
LATENCY = ["objective.metric=latency", "objective.target=10"]


def _run(capsys: pytest.CaptureFixture[str], out: Path, *overrides: str) -> str:
    """`run` with `overrides` must fail before its run directory `out` exists."""
    args = [arg for item in overrides for arg in ("--set", item)]
    line = main_error(capsys, "run", *args, "--output", str(out))
    assert not out.exists()
    return line


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- latency: flags and keys within bounds, checked before timing -----------------------------

@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--min-run-time", "1e9", "--min-run-time = 1000000000.0: must be in (0, 60]"),
    ("--resolution", "100000", "--resolution = 100000: must be <= 4,096"),
    ("--batch", "100000000", "--batch = 100000000: must be <= 16,384"),
    ("--device", "cuda:x", "--device = 'cuda:x': must be cpu, cuda or cuda:N"),
])
def test_latency_flags_are_bounded(flag: str, value: str, expected: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert expected in main_error(capsys, "latency", "efficientnet-b0", flag, value)


def test_a_latency_cache_that_cannot_hold_the_table(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "file"
    plain.write_text("mine")
    line = main_error(capsys, "latency", "--space", "b0-small", "--cache-dir", str(plain),
                      run_dir=tmp_path)
    assert f"--cache-dir = '{plain}': is not a folder" in line
    cache = tmp_path / "cache"
    LatencyTable(LatencySetup(), cache).path.mkdir(parents=True)  # a folder at the table's path
    line = main_error(capsys, "latency", "--space", "b0-small", "--cache-dir", str(cache),
                      run_dir=tmp_path)
    assert f"--cache-dir = '{cache}': holds " in line
    line = _run(capsys, tmp_path / "run", *LATENCY, "objective.latency.cache_dir=/dev/null")
    assert "objective.latency.cache_dir = '/dev/null': is not a folder" in line


def test_the_cache_dir_flag_through_a_process(tmp_path: Path) -> None:
    plain = tmp_path / "file"
    plain.write_text("mine")
    line = cli_error("latency", "--space", "b0-small", "--cache-dir", str(plain),
                     run_dir=tmp_path)
    assert "--cache-dir" in line and "is not a folder" in line


def _table_file(cache: Path, parts: dict, scales: dict) -> Path:
    """A latency table file of this machine's default setup, holding `parts` and `scales`."""
    table = LatencyTable(LatencySetup(), cache)
    cache.mkdir(exist_ok=True)
    table.path.write_text(json.dumps({"version": TABLE_VERSION, "fingerprint":
                                      table.fingerprint, "parts": parts, "scales": scales}))
    return table.path


@pytest.mark.parametrize(("parts", "scales", "key"), [
    ({"stem": 1e-9}, {"224px": 1.0}, "parts['stem'] = 1e-09"),
    ({"stem": 0.5}, {"224px": 1e300}, "scales['224px'] = 1e+300"),
    ({"stem": "fast"}, {}, "parts['stem'] = 'fast': must be a number"),
    ([1, 2], {}, "parts = [1, 2]: must be a mapping"),
])
def test_an_implausible_latency_table_is_refused_by_file_and_key(
        parts: object, scales: dict, key: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    path = _table_file(cache, parts, scales)
    line = main_error(capsys, "latency", "--space", "b0-small", "--validate", "2",
                      "--cache-dir", str(cache), run_dir=cache)
    assert f"{path}: {key}" in line
    line = _run(capsys, tmp_path / "run", *LATENCY, f"objective.latency.cache_dir={cache}")
    assert f"{path}: {key}" in line


def test_a_latency_device_that_is_not_here_leaves_no_run_directory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _run(capsys, tmp_path / "run", *LATENCY, "objective.latency.device=cuda:63")
    assert "objective.latency.device = 'cuda:63': " in line
    line = _run(capsys, tmp_path / "run", *LATENCY, "objective.latency.min_run_time=1000")
    assert "objective.latency.min_run_time = 1000.0: must be in (0, 60]" in line


# --- the supernet: epochs bounded, actors and workers within the machine ----------------------

def test_supernet_epochs_are_bounded_like_the_proxys(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    for key in ("supernet.epochs", "proxy.epochs"):
        line = _run(capsys, tmp_path / "run", f"{key}=1000000000000")
        assert f"{key} = 1000000000000: must be <= 10,000" in line


@pytest.mark.parametrize("key", ["supernet.actors", "supernet.workers"])
def test_supernet_actors_and_workers_must_fit_the_machine(
        key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _run(capsys, tmp_path / "run", "evaluator=supernet", f"{key}={CPUS + 1}")
    assert f"{key} = {CPUS + 1}: " in line and f"this machine has {CPUS}" in line


def test_supernet_actors_and_workers_must_fit_the_cluster() -> None:
    config = load_config("demo", ["evaluator=supernet", "supernet.actors=4",
                                  "supernet.workers=2", "resources.gpu=0.5"])
    check_resources(config, 4, 2, "the cluster")
    with pytest.raises(SpecError, match=r"supernet.actors = 4: .* need 4 CPUs; the cluster "
                                        r"has 3: at most 3 could start"):
        check_resources(config, 3, 2, "the cluster")
    with pytest.raises(SpecError, match=r"supernet.actors = 4: .* need 2 GPUs; the cluster"):
        check_resources(config, 8, 1, "the cluster")
    proxy = load_config("demo", ["supernet.actors=4"])  # not read by proxy trials
    check_resources(proxy, 1, 0, "the cluster")


# --- tracking: a store that cannot be reached or written, refused before Ray ------------------

def test_a_tracking_server_that_does_not_answer(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{_closed_port()}"
    line = cli_error("run", "--set", f'tracking={{mlflow: {{uri: "{uri}"}}}}', "--output",
                     str(tmp_path / "run"))
    assert f"tracking.mlflow.uri = '{uri}': cannot connect" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("options", "expected"), [
    ('{{uri: "sqlite:////proc/nope/x.db"}}', "no such folder: /proc/nope"),
    ('{{uri: "sqlite:///{tmp}/nonexistent-dir/x.db"}}', "no such folder: {tmp}/nonexistent-dir"),
    ('{{uri: "file://{tmp}/nonexistent-dir/mlruns"}}', "no such folder: {tmp}/nonexistent-dir"),
    ('{{experiment: ""}}', "tracking.mlflow.experiment = '': must be a non-empty string"),
])
def test_tracking_stores_that_cannot_be_written(options: str, expected: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    line = _run(capsys, tmp_path / "run", f"tracking={{mlflow: {options.format(tmp=tmp_path)}}}")
    assert expected.format(tmp=tmp_path) in line
    assert list(tmp_path.iterdir()) == []  # MLflow made no folder on its behalf


def test_a_local_tracking_store_in_an_existing_folder_passes(tmp_path: Path) -> None:
    from nas.config import check_reachable

    before = snapshot(tmp_path)
    check_reachable(load_config("demo", [f'tracking={{mlflow: {{uri: "sqlite:///'
                                         f'{tmp_path}/x.db"}}}}']))
    assert snapshot(tmp_path) == before
