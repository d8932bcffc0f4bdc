"""`nas-search latency`: measured latency of one arch, or a space's per-block table checked."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator

HELP = "measure inference latency of an arch, or build/validate a space's per-block table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", metavar="ARCH", nargs="?",
                        help="preset name or block-table YAML path")
    parser.add_argument("--space", help="bundled space name or space YAML: time every block it "
                        "can make (the table), or check the table with --validate")
    parser.add_argument("--validate", type=int, metavar="N",
                        help="with --space: time N seeded samples end to end against the table")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed for --validate")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--batch", type=int, default=1, help="images per call (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--resolution", type=int, help="input side in px (default: the arch's)")
    parser.add_argument("--backend", default="torch", help="torch or onnxruntime")
    parser.add_argument("--dtype", default="float32", help="float32, bfloat16 or float16")
    parser.add_argument("--channels-last", action="store_true", help="NHWC model and input")
    parser.add_argument("--clock", default="wall",
                        help="wall (default) or cpu: the timing thread's CPU time, for one "
                        "thread on a CPU shared with other work")
    parser.add_argument("--estimate", default="min",
                        help="min (default) or median of the timed blocks: the latency a "
                        "table stores and a search uses (min: steadier on a busy machine)")
    parser.add_argument("--sweeps", type=int, default=2,
                        help="time the arch (or every part and whole network of --space) this "
                        "many times over, keeping its fastest (default 2)")
    parser.add_argument("--min-run-time", type=float, default=0.5,
                        help="seconds of timed calls per measurement (default 0.5)")
    parser.add_argument("--cache-dir", help="latency table folder (default "
                        "~/.cache/nas-search/latency or $NAS_SEARCH_CACHE/latency)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _setup(args: argparse.Namespace):
    from objectives.latency import LatencySetup
    from search_space.arch import MAX_RESOLUTION
    from search_space.validators import integer

    if args.resolution is not None:  # the bound of configs and block tables
        integer("--resolution", args.resolution, 8, MAX_RESOLUTION)
    with _flags():
        return LatencySetup(device=args.device, batch=args.batch, threads=args.threads,
                            backend=args.backend, dtype=args.dtype,
                            channels_last=args.channels_last, clock=args.clock,
                            min_run_time=args.min_run_time, estimate=args.estimate,
                            sweeps=args.sweeps)


@contextlib.contextmanager
def _flags() -> Iterator[None]:
    """A setup's field (``min_run_time``) named as its flag (``--min-run-time``)."""
    from search_space import SpecError

    try:
        yield
    except SpecError as err:
        if err.source:  # a file's own key (a latency table's): not a flag
            raise
        raise SpecError(f"--{err.field.replace('_', '-')}", err.value, err.reason) from None


def main(args: argparse.Namespace) -> int:
    from search_space import SpecError

    if (args.arch is None) == (args.space is None):
        raise SpecError("ARCH", args.arch, "give either an ARCH or --space SPACE")
    if args.validate is not None and (args.space is None or args.validate < 1):
        raise SpecError("--validate", args.validate, "needs --space and N >= 1")
    setup = _setup(args)
    return _arch(args, setup) if args.arch else _space(args, setup)


def _arch(args: argparse.Namespace, setup) -> int:
    from objectives.latency import measure_arch
    from search_space import load_arch

    arch = load_arch(args.arch)
    with _flags():  # e.g. --device cuda where none is visible
        result = measure_arch(arch, setup, args.resolution)
    res = arch.resolution if args.resolution is None else args.resolution
    if args.json:
        print(json.dumps({"arch": arch.name or args.arch, "resolution": res,
                          **result.to_dict()}))
        return 0
    fp = result.fingerprint
    print(f"{arch.name or args.arch} at {res} px, batch {setup.batch}, {setup.threads} "
          f"thread(s), {setup.backend} on {fp['device']} ({fp['device_name']})")
    print(f"min {result.min_ms:.3f} ms  median {result.median_ms:.3f} ms  p90 "
          f"{result.p90_ms:.3f} ms  ({result.runs} timed runs, the fastest of {setup.sweeps} "
          f"sweep(s), {setup.clock} clock; the latency: {setup.estimate})")
    print("fingerprint: " + ", ".join(f"{k}={v}" for k, v in fp.items()))
    return 0


def _space(args: argparse.Namespace, setup) -> int:
    from objectives.latency_table import LatencyTable, validate
    from search_space import load_space

    space = load_space(args.space)
    with _flags():  # the device and the cache folder, checked before any timing
        table = LatencyTable(setup, args.cache_dir, args.resolution)
    start = time.perf_counter()
    with _Stages(quiet=args.json) as progress:
        if args.validate is None:
            built = _build(args, space, table, progress)
        else:
            result = validate(space, args.validate, table, args.seed, progress)
    seconds = time.perf_counter() - start
    if args.validate is None:
        _print_built(args, space, table, *built, seconds)
    else:
        _print_validation(args, table, result, seconds)
    return 0


class _Stages:
    """`progress(what, done, total)` for a table's stages (parts, calibration archs, archs):
    one transient line per stage on stderr, on a terminal and without --json."""

    def __init__(self, quiet: bool):
        self.quiet, self.lines = quiet, {}

    def __call__(self, what: str, done: int, total: int) -> None:
        from nas.outputs.progress import Progress

        if what not in self.lines:
            self.lines[what] = Progress(total, f"timing {what}", what.split()[-1][:-1],
                                        stream=sys.stderr, live=False if self.quiet else None,
                                        leave=False)
        self.lines[what].update(done, total)

    def __enter__(self) -> _Stages:
        return self

    def __exit__(self, *exc: object) -> None:
        for line in self.lines.values():
            line.close()


def _build(args: argparse.Namespace, space, table, progress: _Stages) -> tuple[int, dict]:
    """Time every part of `space` into the table and calibrate it: (parts timed, scales)."""
    from objectives.latency_table import calibration_archs, space_parts

    timed = table.fill(space_parts(space, args.resolution),
                       lambda done, total: progress("parts", done, total))
    scales = table.calibrate(calibration_archs(space, args.seed),
                             lambda done, total: progress("calibration archs", done, total))
    return timed, scales


def _print_built(args: argparse.Namespace, space, table, timed: int, scales: dict,
                 seconds: float) -> None:
    summary = {"space": space.name, "parts": len(table.entries), "timed": timed,
               "scales": scales, "seconds": seconds, "table": str(table.path),
               "fingerprint": table.fingerprint}
    print(json.dumps(summary) if args.json else
          f"{space.name}: {timed} parts timed in {seconds:.1f} s, {len(table.entries)} "
          f"in the table {table.path}; whole networks / sum of parts: "
          + ", ".join(f"{v:.3f}" for v in scales.values()))


def _print_validation(args: argparse.Namespace, table, result, seconds: float) -> None:
    if args.json:
        print(json.dumps({**result.to_dict(), "seconds": seconds,
                          "fingerprint": table.fingerprint}))
        return
    from nas.outputs.table import format_table

    rows = [(name, p, m, f"{100 * (p / m - 1):+.1f}%") for name, p, m in result.rows]
    print(format_table(("arch", "predicted ms", "measured ms", "error"), rows))
    print(f"{round(result.within_10pct * result.n)}/{result.n} within +-10% "
          f"({100 * result.within_10pct:.0f}%), mean |error| {result.mean_abs_error_pct:.1f}%, "
          f"{seconds:.0f} s; sums scaled by "
          + ", ".join(f"{v:.3f}" for v in result.scales.values()))
