"""The GPU proof never rots: its CPU smoke run finishes without Ray, fvcore or pandas (a GPU
machine may lack them), and gpu_proof.json holds exactly the keys docs/gpu-proof.md documents
(the page is the key list, so the two cannot drift apart)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "gpu-proof.md"
ROW = re.compile(r"^\| `([\w*{},]+)\.([\w{},]+)` \|", re.MULTILINE)
BRACES = re.compile(r"\{([\w,]+)\}")


def expand(section: str, key: str) -> list[tuple[str, str]]:
    """`throughput_{small,b0}` -> both sections; `*` stays for every section."""
    found = BRACES.search(section)
    sections = [section] if not found else [section.replace(found.group(0), choice)
                                            for choice in found.group(1).split(",")]
    found = BRACES.search(key)
    keys = [key] if not found else [key.replace(found.group(0), choice)
                                     for choice in found.group(1).split(",")]
    return [(s, k) for s in sections for k in keys]


def documented_keys() -> set[str]:
    """Every `section.key` of the page's tables, `*.key` given to every section but meta."""
    page = PAGE.read_text(encoding="utf-8")
    rows = [pair for section, key in ROW.findall(page) for pair in expand(section, key)]
    sections = {s for s, _ in rows if s != "*"}
    common = [k for s, k in rows if s == "*"]
    return ({f"{s}.{k}" for s, k in rows if s != "*"}
            | {f"{s}.{k}" for s in sections - {"meta"} for k in common})


def test_the_page_documents_each_section():
    keys = documented_keys()
    assert {k.split(".")[0] for k in keys} == {
        "meta", "throughput_small", "throughput_b0", "candidates", "supernet", "latency", "ray"}
    assert "ray.shared_trials_per_hour" in keys and "latency.skipped" in keys


def without(tmp_path: Path, *modules: str) -> dict[str, str]:
    """An environment where importing `modules` fails, as on a GPU machine that lacks them."""
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    for name in modules:
        (blocked / f"{name}.py").write_text(f"raise ImportError('{name} is blocked')\n")
    path = os.pathsep.join(p for p in (str(blocked), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


@pytest.mark.slow
def test_the_cpu_quick_run_writes_every_documented_key(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "benchmarks/gpu_proof.py", "--device", "cpu", "--quick", "--skip", "ray",
         "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env=without(tmp_path, "ray", "fvcore", "pandas"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((out / "gpu_proof.json").read_text())
    written = {f"{section}.{key}" for section, values in results.items() for key in values}
    assert written == documented_keys()
    for section in ("throughput_small", "throughput_b0", "candidates", "supernet", "latency"):
        assert results[section]["skipped"] is None and results[section]["error"] is None
    assert results["ray"]["skipped"] == "--skip ray"
    assert results["throughput_small"]["ours_img_s"] > 0 < results["latency"]["project_ms"]
    assert len(results["supernet"]["scores"]) == len(results["candidates"]["accuracies"])
    assert results["meta"]["util_source"].startswith("not sampled")
