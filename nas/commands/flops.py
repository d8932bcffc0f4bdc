"""`nas-search flops ARCH`: params, FLOPs and a per-stage table of one block table."""

from __future__ import annotations

import argparse

HELP = "count params and FLOPs (multiply-adds) of a preset or YAML block table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", metavar="ARCH", help="preset name or block-table YAML path")
    parser.add_argument("--resolution", type=int, help="input side in px (default: the arch's)")
    parser.add_argument("--num-classes", type=int, default=1000)
    parser.add_argument("--fvcore", action="store_true",
                        help="also trace the built model with fvcore and show both counts")


def main(args: argparse.Namespace) -> int:
    from nas.outputs.table import format_table, millions
    from objectives import FLOPS_CONVENTION, analytic_counts, fvcore_flops
    from search_space import load_arch
    from search_space.arch import MAX_CLASSES, MAX_RESOLUTION
    from search_space.validators import integer

    arch = load_arch(args.arch)
    res = arch.resolution if args.resolution is None else args.resolution
    integer("--resolution", res, 8, MAX_RESOLUTION)
    integer("--num-classes", args.num_classes, 1, MAX_CLASSES)
    counts = analytic_counts(arch, res, args.num_classes)
    rows = [("stem", "conv", 3, arch.stem_stride, arch.stem, 1, "", "",
             millions(counts.parts[0][1]), counts.parts[0][2])]
    for stage, (label, flops, params) in zip(arch.stages, counts.parts[1:-1]):
        rows.append((label, stage.op, stage.kernel, stage.stride, stage.out, stage.repeats,
                     f"{stage.se:g}", stage.skip, millions(flops), params))
    label, flops, params = counts.parts[-1]
    rows.append(("head", "conv1x1+fc", 1, 1, arch.head, 1, "", "", millions(flops), params))
    print(f"{arch.name or args.arch} at {res} px, {args.num_classes} classes")
    print(format_table(("part", "op", "k", "s", "out", "n", "se", "skip", "FLOPs", "params"),
                       rows))
    print(f"params: {counts.params:,}")
    print(f"FLOPs:  {counts.flops:,} ({counts.flops / 1e9:.3f} G) = {FLOPS_CONVENTION}")
    if args.fvcore:
        traced = fvcore_flops(arch, res, args.num_classes)
        verdict = "agrees" if traced == counts.flops else "DIFFERS"
        print(f"fvcore: {traced:,} ({verdict} with the analytic count)")
    return 0
