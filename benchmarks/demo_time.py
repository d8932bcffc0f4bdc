"""Wall time of the bundled demo (`nas-search run`), with its confirmation and without it.

Each run is the whole command as a user types it, in a fresh process: Python and torch import,
Ray's start, the 16 trials, the confirmation (3 candidates x 2 seeds) or not, and the summary.
The two are run in turn, `--repeats` times each, and the fastest of each is kept, so a burst of
other work on the machine hits both alike.

    python benchmarks/demo_time.py --out benchmarks/results/demo_time.md
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results_page import save  # noqa: E402

SETTINGS = {"with confirmation": [], "without (confirm.top=0)": ["--set", "confirm.top=0"]}


def wall_seconds(extra: list[str], folder: Path) -> float:
    """One `nas-search run` of the demo into a new folder under `folder`, timed end to end."""
    out = folder / f"run-{time.monotonic_ns()}"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nas", "run", "--output", str(out), *extra],
                   cwd=ROOT, check=True, capture_output=True, timeout=900)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs of each (default 2)")
    parser.add_argument("--out", type=Path, help="also save the output as a results page")
    args = parser.parse_args()
    best = {name: float("inf") for name in SETTINGS}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeats):
            for name, extra in SETTINGS.items():
                best[name] = min(best[name], wall_seconds(extra, Path(folder)))
    base = best["without (confirm.top=0)"]
    lines = [f"demo, fastest of {args.repeats} run(s) each, Ray start included"]
    lines += [f"{name:<26}{seconds:6.1f} s  {seconds / base:.2f}x" for name, seconds in
              best.items()]
    print("\n".join(lines))
    if args.out:
        save(args.out, "demo_time: the demo's wall time, with and without confirmation",
             "benchmarks/demo_time.py", lines)


if __name__ == "__main__":
    main()
