"""`nas-search space SPACE`: the decisions, size, reference and a few samples of a search space."""

from __future__ import annotations

import argparse

HELP = "show a search space: decisions per stage, size, reference arch and sampled candidates"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", metavar="SPACE", help="bundled space name (b0, mnasnet) or "
                        "space YAML path")
    parser.add_argument("--samples", type=int, default=5, help="candidates to sample (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--min-flops", type=float, help="FLOPs band: least multiply-adds")
    parser.add_argument("--max-flops", type=float, help="FLOPs band: most multiply-adds")


def _decision_rows(space) -> list[tuple[object, ...]]:
    """One row per stage: its stride, then each decision's choices."""
    width = len(space.decisions) // len(space.reference.stages)
    rows = []
    for i, stage in enumerate(space.reference.stages):
        decisions = space.decisions[width * i:width * (i + 1)]
        cells = ["/".join(f"{c:g}" if isinstance(c, float) else str(c) for c in d.choices)
                 for d in decisions]
        rows.append((f"stage{i + 1}", stage.stride, *cells))
    return rows


def _tokens(space, arch) -> str:
    """Tokens grouped per stage; digits run together when every token is one digit."""
    tokens = space.encode(arch)
    width = len(space.decisions) // len(space.reference.stages)
    sep = "" if max(space.cardinalities) <= 10 else ","
    return " ".join(sep.join(map(str, tokens[i:i + width])) for i in range(0, len(tokens), width))


def _arch_rows(space, archs) -> list[tuple[object, ...]]:
    from nas.outputs.table import millions
    from objectives import analytic_counts

    rows = []
    for arch in archs:
        counts = analytic_counts(arch)
        rows.append((arch.name, _tokens(space, arch), counts.params, millions(counts.flops)))
    return rows


def _reference_rows(arch) -> list[tuple[object, ...]]:
    return [(f"stage{i}", s.op, s.kernel, s.stride, s.out, s.repeats, f"{s.se:g}", s.skip)
            for i, s in enumerate(arch.stages, 1)]


def _band(space) -> str:
    low, high = space.flops_band
    if low is None and high is None:
        return "none"
    return f"[{'-' if low is None else f'{low:,.0f}'}, {'-' if high is None else f'{high:,.0f}'}]"


def main(args: argparse.Namespace) -> int:
    import numpy as np

    from nas.outputs.table import format_table
    from objectives import FLOPS_CONVENTION, analytic_flops
    from search_space import SpecError, load_space

    space = load_space(args.space, counter=analytic_flops)
    if args.min_flops is not None or args.max_flops is not None:
        space = space.with_band(args.min_flops, args.max_flops)
    if args.samples < 0:
        raise SpecError("--samples", args.samples, "must be >= 0")
    rng = np.random.default_rng(args.seed)
    samples = [space.sample(rng) for _ in range(args.samples)]  # before printing: may fail
    ref = space.reference
    print(f"space {space.name}: {len(space.decisions)} decisions, size {space.size:,} "
          f"(10^{space.log10_size:.1f}), FLOPs band {_band(space)}")
    print(f"skeleton: {ref.resolution} px, stem {ref.stem} (stride {ref.stem_stride}), "
          f"head {ref.head}, act {ref.act}, dropout {ref.dropout:g}, drop_path {ref.drop_path:g}")
    print(format_table(("stage", "s", "op", "kernel", "se", "skip", "width", "layers"),
                       _decision_rows(space)))
    print(f"\nreference {ref.name}:")
    print(format_table(("stage", "op", "k", "s", "out", "n", "se", "skip"), _reference_rows(ref)))
    print(f"\nreference and {args.samples} samples (seed {args.seed}), tokens per stage in "
          "the order op kernel se skip width layers:")
    print(format_table(("name", "tokens", "params", "FLOPs"), _arch_rows(space, [ref, *samples])))
    print(f"FLOPs = {FLOPS_CONVENTION}, at each arch's resolution, 1000 classes")
    return 0
