"""How long `nas-search report` takes, and how big its HTML is, as a run grows.

Writes run directories of N journaled trials (b0 space samples, 10% failed, one rejected
proposal in 20; FLOPs counted analytically, accuracies made up: no training) and times
`nas.outputs.report.write_report` on each. Prints trials, seconds, images and megabytes.

Run from the repository root::

    python3 -m benchmarks.report_size [--trials 100 1000 8000]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from nas import load_config
from nas.ledger.run_dir import RunDir
from nas.outputs.report import write_report
from objectives import analytic_counts
from search_space import load_space


def journal(path: Path, n: int) -> RunDir:
    config = load_config("demo", [f"budget.num_samples={n}"])
    run = RunDir.create(path, config.to_yaml())
    space = load_space(config.space)
    (run.path / "reference.yaml").write_text(space.reference.to_yaml())
    rng = np.random.default_rng(0)
    rows, trained = [], 0
    while trained < n:
        arch = space.sample(rng)
        counts = analytic_counts(arch)
        status = "rejected" if rng.random() < 0.05 else "failed" if rng.random() < 0.1 else "ok"
        accuracy = float(rng.uniform(0.3, 0.8)) if status == "ok" else None
        rows.append({"trial_id": f"t{len(rows):05d}", "status": status, "reason": "",
                     "accuracy": accuracy, "flops": counts.flops, "params": counts.params,
                     "reward": None if accuracy is None else
                     accuracy * (counts.flops / 400e6) ** -0.07,
                     "train_seconds": 30.0, "epochs": 1, "proxy_resolution": 32, "cpus": 1.0,
                     "gpus": 0.0, "tokens": space.encode(arch), "arch": arch.to_yaml(),
                     "finished_at": 1.7e9 + 10 * len(rows)})
        trained += status != "rejected"
    run.journal.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[100, 1000, 8000])
    args = parser.parse_args()
    print(f"{'trials':>7}  {'seconds':>7}  {'images':>6}  {'MB':>5}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.trials:
            run = journal(Path(tmp) / f"run{n}", n)
            start = time.perf_counter()
            page = write_report(run.path).read_text()
            seconds = time.perf_counter() - start
            images = len(re.findall("data:image/png;base64,", page))
            print(f"{n:>7}  {seconds:>7.1f}  {images:>6}  {len(page) / 1e6:>5.2f}")


if __name__ == "__main__":
    main()
