"""`nas-search report`: a self-contained HTML page from a run directory's journal."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nas import load_config
from nas.ledger.run_dir import RunDir
from nas.outputs.report import write_report
from objectives import analytic_counts
from search_space import load_space

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[3]


def _row(trial_id, arch, tokens, status, accuracy, finished_at, **extra):
    counts = analytic_counts(arch, arch.resolution, 1000)
    reward = None if accuracy is None or status not in ("ok", "early_stopped") else \
        accuracy * (counts.flops / 400e6) ** -0.07
    return {"trial_id": trial_id, "status": status, "reason": "", "accuracy": accuracy,
            "flops": counts.flops, "params": counts.params, "reward": reward,
            "train_seconds": 3.0, "epochs": 1, "proxy_resolution": 32, "cpus": 2.0,
            "gpus": 0.0, "tokens": tokens, "arch": arch.to_yaml(), "finished_at": finished_at,
            **extra}


def journal_run(path: Path, n: int = 12, latency: bool = False, overrides=()) -> RunDir:
    """A search's run directory written row by row, as the driver writes it (no Ray)."""
    config = load_config("demo", [f"budget.num_samples={n - 1}", *overrides])
    run = RunDir.create(path, config.to_yaml())
    space = load_space(config.space)
    (run.path / "reference.yaml").write_text(space.reference.to_yaml())
    rng = np.random.default_rng(0)
    archs = [space.reference] + [space.sample(rng) for _ in range(n)]
    statuses = ["ok"] * (n - 3) + ["failed", "diverged", "rejected"]
    for i, (arch, status) in enumerate(zip(archs, statuses)):
        accuracy = 0.3 + 0.04 * i if status == "ok" else None
        extra = {"latency_ms": 2.0 + i} if latency else {}
        run.append(_row(f"t{i:02d}", arch, space.encode(arch), status, accuracy,
                        1_700_000_000.0 + 30 * i, **extra))
    run.write_tables()
    return run


def images(page: str) -> list[str]:
    return re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)


def test_report_of_a_finished_search(tmp_path):
    run = journal_run(tmp_path / "run", latency=True)
    page = write_report(run.path, tmp_path / "out" / "report.html", top_k=5).read_text()
    assert len(images(page)) >= 5  # two fronts, best so far, rewards over time, decisions
    assert all(len(img) > 1000 for img in images(page))
    assert 'src="http' not in page and "<script" not in page  # nothing to fetch
    assert "Top 5 by reward" in page and page.count("<tr><td>") >= 5
    assert re.search(r"<code>[^<]*ir_r\d_k\d_s\d_e\d_c\d+", page)  # timm block strings
    assert "finished: 11 of 11 trials" in page  # the rejected proposal is not a trial
    assert "status failed</td><td>1" in page
    assert "proposals rejected (FLOPs outside the band, not trained)</td><td>1<" in page
    assert "CPU-seconds (training time x CPUs per trial)</td><td>66<" in page  # 11 x 3 s x 2
    assert "space: b0" in page  # the config


def test_report_of_a_killed_run_says_how_to_continue(tmp_path):
    run = journal_run(tmp_path / "run", n=12)
    rows = run.rows()[:5]
    run.journal.write_text("")
    for row in rows:
        run.append(row)
    page = write_report(run.path).read_text()  # default: RUN_DIR/report.html
    assert "stopped (killed or interrupted) after 5 of 11" in page
    assert "nas-search resume" in page and len(images(page)) >= 4


def test_report_adds_a_fidelity_study(tmp_path):
    run = journal_run(tmp_path / "run")
    study = run.path / "fidelity"
    study.mkdir()
    lines = ["arch_id,setting,seed,status,accuracy"] + [
        f"{a},{setting},{seed},ok,{0.3 + 0.1 * a + (0.05 if setting == 'long' else 0)}"
        for a in range(4) for setting in ("short", "long") for seed in (0, 1)]
    (study / "fidelity.csv").write_text("\n".join(lines) + "\n")
    (study / "fidelity.json").write_text('{"kendall_tau": 1.0, "archs": 4}')
    page = write_report(run.path).read_text()
    assert "Proxy fidelity" in page and "<td>kendall_tau</td><td>1.0</td>" in page
    (study / "fidelity.json").write_text('{"kendall_tau": "x"}')  # hand-edited: still a page
    assert "Proxy fidelity" in write_report(run.path).read_text()
    (study / "fidelity.csv").write_bytes(b"\xff\xfe\x00binary")  # damaged: section left out
    assert "Proxy fidelity" not in write_report(run.path).read_text()
    assert len(images(page)) >= 5


def test_report_of_a_grid_run(tmp_path):
    from nas.api import budget
    from nas.studies.grid import grid_parts

    config = load_config("scaling-grid", ["grid.tolerance=0.3"])
    space, _ = grid_parts(config.grid)
    run = RunDir.create(tmp_path / "grid", config.to_yaml())
    (run.path / "reference.yaml").write_text(space.reference.to_yaml())
    for i in range(3):
        run.append(_row(f"g{i}", space.decode([i]), [i], "ok", 0.5 + 0.1 * i, 1e9 + i,
                        **space.row_fields([i])))
    page = write_report(run.path, budget_of=budget).read_text()
    assert "Grid points" in page and "What the controller learned" not in page
    assert "<th>alpha</th>" in page and len(images(page)) >= 4


def test_report_without_finished_trials_is_one_line_exit_2(tmp_path):
    run = RunDir.create(tmp_path / "empty", load_config("demo").to_yaml())
    proc = subprocess.run([sys.executable, "-m", "nas", "report", str(run.path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no finished trial" in proc.stderr
    assert "Traceback" not in proc.stderr and not (run.path / "report.html").exists()
