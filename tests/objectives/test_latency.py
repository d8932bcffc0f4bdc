"""Measured latency: the verb against an independent timing, the per-block table (sums, cache,
fingerprint), the latency rewards and the verb's bad input."""

from __future__ import annotations

import dataclasses
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nas.config import ObjectiveConfig
from objectives import absolute_reward, latency, mnas_reward
from objectives.latency import (
    Latency,
    LatencySetup,
    fingerprint,
    measure_arch,
    measure_archs,
)
from objectives.latency_table import (
    LatencyTable,
    Rotation,
    arch_parts,
    space_parts,
)
from search_space import Arch, SpecError, Stage, build_model, load_space, preset

ROOT = Path(__file__).resolve().parents[2]

TINY_SPACE = """\
name: tiny
reference:
  name: tiny-ref
  resolution: 16
  stem: 8
  head: 16
  act: relu
  dropout: 0.0
  drop_path: 0.0
  stages:
  - {block: mbconv, expand: 1, kernel: 3, stride: 1, out: 8, repeats: 1, se: 0.0, skip: id}
  - {block: mbconv, expand: 6, kernel: 3, stride: 2, out: 16, repeats: 1, se: 0.0, skip: id}
choices:
  op: [conv, mbconv1, mbconv6]
  kernel: [3, 5]
  se: [0.0, 0.25]
  skip: [id, none]
  width_multipliers: [0.5, 1.0]
  layer_deltas: [0, 1]
"""

TOY = Arch(stages=(Stage("mbconv", 1, 3, 1, 8, 1, 0.25, "id"),
                   Stage("mbconv", 6, 5, 2, 16, 1, 0.0, "id")),
           stem=8, head=32, resolution=16, act="relu", dropout=0.0, drop_path=0.0)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nas", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


SWEEPS = LatencySetup().sweeps  # a table times each part this many times


class CountingTimer:
    """Stands in for `measure_module`: a fixed time per input shape, and a call count."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, module, shape, setup) -> Latency:
        self.calls += 1
        ms = 0.001 * float(np.prod(shape)) + 0.01 * len(list(module.modules()))
        return Latency(ms, ms, 1, fingerprint(setup), ms)


# --- measuring ---------------------------------------------------------------------------------

def _careful_torch_ms(model: torch.nn.Module, x: torch.Tensor, calls: int = 25) -> float:
    """An independent timing: one thread, eval, no grad, warm-up, median of single calls."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            for _ in range(5):
                model(x)
            times = []
            for _ in range(calls):
                start = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return 1e3 * statistics.median(times)


def test_cli_agrees_with_independent_timing():
    model = build_model(preset("efficientnet-b0")).eval()
    x = torch.randn(1, 3, 64, 64)
    ratios = []
    for _ in range(3):  # other work shares this CPU: interleave, and retry a noisy round
        before = _careful_torch_ms(model, x)
        out = _cli("latency", "efficientnet-b0", "--device", "cpu", "--threads", "1",
                   "--resolution", "64", "--min-run-time", "0.3", "--json")
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        independent = min(before, _careful_torch_ms(model, x))
        ratios.append(result["median_ms"] / independent)
        if abs(ratios[-1] - 1) <= 0.25:
            break
    assert abs(ratios[-1] - 1) <= 0.25, ratios
    assert {"median_ms", "p90_ms", "runs", "device", "batch", "threads", "backend",
            "fingerprint"} <= set(result)
    assert result["p90_ms"] >= result["median_ms"] >= result["min_ms"] > 0
    assert result["estimate"] == "min" and result["ms"] == result["min_ms"]
    assert (result["device"], result["batch"], result["threads"], result["backend"]) == (
        "cpu", 1, 1, "torch")
    assert result["fingerprint"]["torch"] == torch.__version__


def test_one_arch_is_timed_to_the_tables_standard(monkeypatch):
    """`latency ARCH`, a table's calibration and the benchmarks all time whole networks through
    `measure_archs`: every sweep builds and times the net once, the fastest is kept."""
    class Bursty(CountingTimer):  # other work slows the very first timing tenfold
        def __call__(self, module, shape, setup) -> Latency:
            ms = super().__call__(module, shape, setup).ms * (10 if self.calls == 1 else 1)
            return Latency(ms, ms, 1, fingerprint(setup), ms)

    quiet, bursty = CountingTimer(), Bursty()
    fast = measure_archs([TOY], LatencySetup(), timer=quiet)[0]
    assert measure_archs([TOY], LatencySetup(), timer=bursty)[0].ms == fast.ms
    assert bursty.calls == SWEEPS
    built = []
    monkeypatch.setattr(latency, "build_model", lambda *a: built.append(a) or build_model(*a))
    measure_arch(TOY, LatencySetup(min_run_time=0.01, warmup=1, sweeps=3))
    assert len(built) == 3


def test_steady_allocator_changes_nothing_without_glibc(monkeypatch):
    def no_glibc(name):
        raise OSError(f"{name}: cannot open shared object file")

    latency.steady_allocator.cache_clear()
    monkeypatch.setattr(latency.ctypes, "CDLL", no_glibc)
    try:
        assert latency.steady_allocator() is False
        result = measure_arch(TOY, LatencySetup(min_run_time=0.01, warmup=1))
        assert result.min_ms > 0  # timing goes on with the default allocator
    finally:
        latency.steady_allocator.cache_clear()


def test_the_estimate_picks_the_statistic_and_keys_the_table(tmp_path):
    times = {"min": 1.0, "median": 2.0}
    for estimate, expected in times.items():
        fp = fingerprint(LatencySetup(estimate=estimate))
        assert Latency(2.0, 3.0, 10, fp, 1.0).ms == expected
    # a table timed under one estimate is not reused under the other
    paths = {LatencyTable(LatencySetup(estimate=e), tmp_path).path for e in times}
    assert len(paths) == 2


def test_onnxruntime_backend_times_the_exported_model():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    setup = LatencySetup(backend="onnxruntime", min_run_time=0.05, warmup=1)
    result = measure_arch(TOY, setup)
    assert result.median_ms > 0 and result.runs >= 1
    assert result.fingerprint["onnxruntime"] and result.fingerprint["backend"] == "onnxruntime"


def test_a_missing_optional_backend_is_one_spec_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(SpecError, match=r"backend = 'onnxruntime': is not installed: pip"):
        measure_arch(TOY, LatencySetup(backend="onnxruntime", min_run_time=0.01, warmup=1))


# --- the per-block table -----------------------------------------------------------------------

def test_toy_prediction_is_the_sum_of_stem_blocks_and_head(tmp_path):
    timer = CountingTimer()
    table = LatencyTable(LatencySetup(), tmp_path, timer=timer)
    parts = table.parts(TOY)
    assert [p.kind for p in parts] == ["stem", "block", "block", "head"]
    predicted = table.predict(TOY)
    assert timer.calls == 4 * SWEEPS
    assert predicted == pytest.approx(sum(table.entries[p.key] for p in parts))


def test_each_part_keeps_its_fastest_sweep(tmp_path):
    class Bursty(CountingTimer):  # other work slows the very first timing tenfold
        def __call__(self, module, shape, setup) -> Latency:
            ms = super().__call__(module, shape, setup).ms * (10 if self.calls == 1 else 1)
            return Latency(ms, ms, 1, fingerprint(setup), ms)

    quiet = LatencyTable(LatencySetup(), timer=CountingTimer(), persist=False)
    bursty = LatencyTable(LatencySetup(), timer=Bursty(), persist=False)
    one_sweep = LatencyTable(LatencySetup(sweeps=1), timer=Bursty(), persist=False)
    assert bursty.predict(TOY) == pytest.approx(quiet.predict(TOY))
    assert one_sweep.predict(TOY) > quiet.predict(TOY)


def test_calibration_scales_a_skeletons_sums_to_its_whole_networks(tmp_path):
    timer = CountingTimer()
    table = LatencyTable(LatencySetup(), tmp_path, timer=timer)
    total = table.predict(TOY)  # uncalibrated: the plain sum
    whole = timer(build_model(TOY), (1, 3, TOY.resolution, TOY.resolution), table.setup).ms
    reports: list[tuple[int, int]] = []
    scales = table.calibrate([TOY], lambda done, of: reports.append((done, of)))
    assert scales == {table.skeleton(TOY): pytest.approx(whole / total)}
    sweeps = table.setup.sweeps  # each sweep times the network once, and says so
    assert reports == [(i, sweeps) for i in range(1, sweeps + 1)]
    assert table.predict(TOY) == pytest.approx(whole)
    # kept on disk with the parts; another skeleton (input side) is not scaled
    reread = LatencyTable(LatencySetup(), tmp_path, timer=CountingTimer())
    assert reread.lookup(TOY) == pytest.approx(whole)
    bigger = dataclasses.replace(TOY, resolution=32)
    assert table.skeleton(bigger) != table.skeleton(TOY)
    assert table.predict(bigger) == pytest.approx(sum(table.entries[p.key]
                                                      for p in table.parts(bigger)))


def test_calibration_keeps_each_whole_networks_fastest_sweep():
    class BurstyWhole(CountingTimer):  # other work slows the first whole-network timing
        def __call__(self, module, shape, setup) -> Latency:
            ms = super().__call__(module, shape, setup).ms
            if not isinstance(module, Rotation) and not hasattr(self, "hit"):  # parts rotate
                self.hit, ms = True, 10 * ms
            return Latency(ms, ms, 1, fingerprint(setup), ms)

    quiet = LatencyTable(LatencySetup(), timer=CountingTimer(), persist=False)
    bursty = LatencyTable(LatencySetup(), timer=BurstyWhole(), persist=False)
    one_sweep = LatencyTable(LatencySetup(sweeps=1), timer=BurstyWhole(), persist=False)
    assert bursty.calibrate([TOY]) == pytest.approx(quiet.calibrate([TOY]))
    assert one_sweep.calibrate([TOY])[one_sweep.skeleton(TOY)] > quiet.scales[
        quiet.skeleton(TOY)]


def test_cached_table_is_reused_and_dropped_when_the_fingerprint_changes(tmp_path):
    first = CountingTimer()
    LatencyTable(LatencySetup(), tmp_path, timer=first).predict(TOY)
    assert first.calls == 4 * SWEEPS and len(list(tmp_path.glob("*.json"))) == 1
    again = CountingTimer()
    reused = LatencyTable(LatencySetup(), tmp_path, timer=again)
    reused.predict(TOY)
    assert again.calls == 0  # read from disk, nothing re-timed
    other = CountingTimer()
    LatencyTable(LatencySetup(threads=2), tmp_path, timer=other).predict(TOY)
    assert other.calls == 4 * SWEEPS  # another fingerprint: another table
    # a file whose recorded fingerprint does not match is not trusted
    path = reused.path
    data = json.loads(path.read_text())
    data["fingerprint"]["torch"] = "0.0"
    path.write_text(json.dumps(data))
    stale = CountingTimer()
    LatencyTable(LatencySetup(), tmp_path, timer=stale).predict(TOY)
    assert stale.calls == 4 * SWEEPS


def test_space_parts_cover_every_sample(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPACE)
    for space in (load_space(path), load_space("b0")):
        keys = {p.key for p in space_parts(space)}
        rng = np.random.default_rng(0)
        for _ in range(50):
            assert {p.key for p in arch_parts(space.sample(rng))} <= keys


def test_validate_verb_on_a_tiny_space(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPACE)
    out = _cli("latency", "--space", str(path), "--validate", "2", "--min-run-time", "0.02",
               "--cache-dir", str(tmp_path / "cache"), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["n"] == 2 and 0.0 <= result["within_10pct"] <= 1.0
    assert result["mean_abs_error_pct"] >= 0 and len(result["archs"]) == 2
    assert len(result["scales"]) == 1 and list(result["scales"].values())[0] > 0
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1


# --- rewards -----------------------------------------------------------------------------------

def test_latency_rewards_follow_their_kind():
    acc, target = 0.7, 5.0
    soft = ObjectiveConfig(metric="latency", target=target, kind="soft")
    hard = ObjectiveConfig(metric="latency", target=target, kind="hard")
    absolute = ObjectiveConfig(metric="latency", target=target, kind="absolute", beta=-0.2)
    assert soft.reward(acc, 10.0) == pytest.approx(acc * 2 ** -0.07)
    assert hard.reward(acc, 4.0) == acc and hard.reward(acc, 10.0) == pytest.approx(acc / 2)
    assert absolute.reward(acc, 6.0) == pytest.approx(acc - 0.2 * 0.2)
    assert absolute.reward(acc, 4.0) == absolute.reward(acc, 6.0)  # both sides of the target
    assert absolute_reward(acc, target, target) == acc
    assert mnas_reward(acc, 10.0, target) == soft.reward(acc, 10.0)
    assert soft.column == "latency_ms" and ObjectiveConfig().column == "flops"


@pytest.mark.parametrize("changes, field", [
    ({"metric": "latency"}, "target"),        # 400e6 is a FLOPs target, not milliseconds
    ({"metric": "time"}, "metric"),
    ({"kind": "absolute", "beta": 0.1}, "beta"),
])
def test_objective_rejects_bad_latency_settings(changes, field):
    with pytest.raises(SpecError) as err:
        ObjectiveConfig(**changes)
    assert err.value.field == field


def test_latency_setup_rejects_bad_values():
    for kwargs, field in (({"backend": "tflite"}, "backend"), ({"threads": 0}, "threads"),
                          ({"clock": "cpu", "threads": 2}, "clock"),
                          ({"estimate": "mean"}, "estimate"), ({"sweeps": 0}, "sweeps"),
                          ({"backend": "onnxruntime", "channels_last": True}, "backend")):
        with pytest.raises(SpecError) as err:
            LatencySetup(**kwargs)
        assert err.value.field == field


# --- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("efficientnet-b0", "--threads", "0"),
    ("no-such-arch",),
    ("--space", "b0", "--validate", "0"),
    ("efficientnet-b0", "--resolution", "4"),
    ("efficientnet-b0", "--sweeps", "0"),
    ("efficientnet-b0", "--estimate", "foo"),
    (),
])
def test_bad_input_is_one_error(args, capsys):
    from nas.cli import main

    assert main(["latency", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nas-search latency: error:") and len(err.strip().splitlines()) == 1


def test_bad_input_is_one_line_exit_2_in_a_process():
    out = _cli("latency", "efficientnet-b0", "--backend", "tflite")
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == ("nas-search latency: error: --backend = 'tflite': must be one "
                                  "of torch, onnxruntime")
    out = _cli("latency", "efficientnet-b0", "--min-run-time", "inf")  # would time forever
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == ("nas-search latency: error: --min-run-time = inf: must be a "
                                  "finite number")


# --- a search on latency -----------------------------------------------------------------------

MICRO_SPACE = TINY_SPACE.replace("op: [conv, mbconv1, mbconv6]", "op: [mbconv1, mbconv6]") \
    .replace("kernel: [3, 5]", "kernel: [3]").replace("se: [0.0, 0.25]", "se: [0.0]") \
    .replace("skip: [id, none]", "skip: [id]").replace("width_multipliers: [0.5, 1.0]",
                                                       "width_multipliers: [1.0]") \
    .replace("layer_deltas: [0, 1]", "layer_deltas: [0]")


def test_search_on_latency_scores_rows_by_their_table_latency(ray_local, tmp_path, capsys):
    from nas import load_config, load_results, search
    from nas.cli import main

    space = tmp_path / "micro.yaml"
    space.write_text(MICRO_SPACE)
    cache = tmp_path / "cache"
    config = load_config("demo", [
        f"space={space}", "controller.name=random", "controller.options={}",
        "budget.num_samples=2", "budget.max_concurrent=2", "proxy.resolution=16", "confirm.top=0",
        "proxy.train_size=64", "proxy.val_size=32", "proxy.batch_size=32",
        "objective.metric=latency", "objective.target=0.5", "objective.kind=absolute",
        "objective.beta=-0.2", "objective.latency.min_run_time=0.01",
        f"objective.latency.cache_dir={cache}"])
    lines: list[str] = []
    run = search(config, tmp_path / "run", progress=lines.append)
    assert any(line.startswith("timing 6 blocks") for line in lines)  # the actor's build

    df = load_results(run.path)
    assert len(df) == 2 and set(df["status"]) == {"ok"}
    table = LatencyTable(config.objective.latency, cache)
    assert len(table.entries) == 6  # the whole micro space, built once, on disk
    for row in df.itertuples():
        assert row.latency_ms == pytest.approx(table.lookup(Arch.from_yaml(row.arch)))
        assert row.reward == pytest.approx(row.accuracy - 0.2 * abs(row.latency_ms / 0.5 - 1))
        assert json.loads(row.latency_fingerprint) == table.fingerprint

    capsys.readouterr()
    assert main(["pareto", str(run.path), "--x", "latency_ms"]) == 0
    assert "latency ms" in capsys.readouterr().out
    out = tmp_path / "best.yaml"
    assert main(["export", str(run.path), "--out", str(out)]) == 0
    header = out.read_text().splitlines()[1]
    assert header.startswith("# latency ") and '"threads": 1' in header
