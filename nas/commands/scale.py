"""`nas-search scale ARCH`: compound-scale a block table and report what it costs."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "compound-scale a block table (depth alpha^phi, width beta^phi, resolution gamma^phi)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from search_space.scaling import ALPHA, BETA, GAMMA

    parser.add_argument("arch", metavar="ARCH", help="preset name or block-table YAML path")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--phi", type=float, help="compound coefficient")
    how.add_argument("--preset", metavar="bN",
                     help="the official EfficientNet multipliers of b0..b7 (hand-tuned table)")
    parser.add_argument("--alpha", type=float, default=ALPHA, help="depth base (default 1.2)")
    parser.add_argument("--beta", type=float, default=BETA, help="width base (default 1.1)")
    parser.add_argument("--gamma", type=float, default=GAMMA,
                        help="resolution base (default 1.15)")
    parser.add_argument("--out", type=Path, help="write the scaled block table here")


def scaled(arch, args: argparse.Namespace):
    from search_space import SpecError, scale, scale_by
    from search_space.presets import EFFICIENTNET_PARAMS

    if args.phi is not None:
        return scale(arch, args.phi, args.alpha, args.beta, args.gamma)
    variant = args.preset.lower().removeprefix("efficientnet-")
    if variant not in EFFICIENTNET_PARAMS:
        raise SpecError("--preset", args.preset, f"must be one of {', '.join(EFFICIENTNET_PARAMS)}")
    width, depth, res, dropout = EFFICIENTNET_PARAMS[variant]
    # the official resolutions are for a 224 px base; keep the ratio for other bases
    resolution = int(round(arch.resolution * res / 224))
    name = f"{arch.name or 'arch'}-{variant}"
    return scale_by(arch, width, depth, resolution, dropout, name=name)


def main(args: argparse.Namespace) -> int:
    from nas.table import format_table
    from objectives import FLOPS_CONVENTION, analytic_counts
    from search_space import load_arch

    base = load_arch(args.arch)
    new = scaled(base, args)
    rows = []
    for label, arch in (("input", base), ("scaled", new)):
        counts = analytic_counts(arch)
        rows.append((label, arch.name, arch.resolution, arch.num_blocks, counts.params,
                     counts.flops, counts.flops / analytic_counts(base).flops))
    print(format_table(("", "name", "res", "blocks", "params", "FLOPs", "FLOPs ratio"), rows))
    print(f"FLOPs = {FLOPS_CONVENTION}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(new.to_yaml())
        print(f"wrote {args.out}")
    else:
        print(new.to_yaml(), end="")
    return 0
