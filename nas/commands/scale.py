"""`nas-search scale ARCH`: compound-scale a block table (or a family) and report the cost."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "compound-scale a block table (depth alpha^phi, width beta^phi, resolution gamma^phi)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", metavar="ARCH", help="preset name or block-table YAML path")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--phi", type=float, help="compound coefficient")
    how.add_argument("--family", metavar="A..B",
                     help="every integer phi from A to B, e.g. 1..7 (--out is a folder)")
    how.add_argument("--preset", metavar="bN",
                     help="the official EfficientNet multipliers of b0..b7 (hand-tuned table)")
    parser.add_argument("--coefficients", type=Path, metavar="FILE",
                        help="alpha, beta, gamma from a YAML file (as `nas-search grid` writes)")
    parser.add_argument("--alpha", type=float, help="depth base (default 1.2)")
    parser.add_argument("--beta", type=float, help="width base (default 1.1)")
    parser.add_argument("--gamma", type=float, help="resolution base (default 1.15)")
    parser.add_argument("--out", type=Path, help="write the scaled block table (or family) here")


def coefficients(args: argparse.Namespace) -> tuple[float, float, float]:
    """--coefficients FILE, then explicit --alpha/--beta/--gamma, then the paper's values."""
    from nas.outputs.coefficients import read_coefficients
    from search_space.scaling import ALPHA, BETA, GAMMA

    base = read_coefficients(args.coefficients) if args.coefficients else (ALPHA, BETA, GAMMA)
    given = (args.alpha, args.beta, args.gamma)
    return tuple(b if g is None else g for b, g in zip(base, given))  # type: ignore[return-value]


def phis(family: str) -> list[int]:
    from search_space import SpecError

    low, sep, high = family.partition("..")
    if not sep or not low.isdigit() or not high.isdigit() or int(low) > int(high):
        raise SpecError("--family", family, "must be A..B with integers 0 <= A <= B, e.g. 1..7")
    return list(range(int(low), int(high) + 1))


def by_preset(arch, variant: str):
    from search_space import SpecError, scale_by
    from search_space.presets import EFFICIENTNET_PARAMS

    variant = variant.lower().removeprefix("efficientnet-")
    if variant not in EFFICIENTNET_PARAMS:
        raise SpecError("--preset", variant, f"must be one of {', '.join(EFFICIENTNET_PARAMS)}")
    width, depth, res, dropout = EFFICIENTNET_PARAMS[variant]
    # the official resolutions are for a 224 px base; keep the ratio for other bases
    resolution = int(round(arch.resolution * res / 224))
    name = f"{arch.name or 'arch'}-{variant}"
    return scale_by(arch, width, depth, resolution, dropout, name=name)


def main(args: argparse.Namespace) -> int:
    from nas.outputs.table import format_table
    from objectives import FLOPS_CONVENTION, analytic_counts
    from search_space import load_arch, scale

    base = load_arch(args.arch)
    alpha, beta, gamma = coefficients(args)
    if args.preset:
        family = [("", by_preset(base, args.preset))]
    else:
        steps = phis(args.family) if args.family else [args.phi]
        family = [(f"{phi:g}", scale(base, phi, alpha, beta, gamma)) for phi in steps]
    base_flops = analytic_counts(base).flops
    rows, prev = [("base", base.name, base.resolution, base.num_blocks,
                   analytic_counts(base).params, base_flops, 1.0, "")], base_flops
    for phi, arch in family:
        counts = analytic_counts(arch)
        rows.append((phi or "scaled", arch.name, arch.resolution, arch.num_blocks, counts.params,
                     counts.flops, counts.flops / base_flops, f"{counts.flops / prev:.3f}"))
        prev = counts.flops
    if not args.preset:
        print(f"alpha {alpha:g} (depth), beta {beta:g} (width), gamma {gamma:g} (resolution); "
              f"alpha*beta^2*gamma^2 = {alpha * beta**2 * gamma**2:.3f}")
    print(format_table(("phi", "name", "res", "blocks", "params", "FLOPs", "x base",
                        "x previous"), rows))
    print(f"FLOPs = {FLOPS_CONVENTION}")
    _write(family, args.out, bool(args.family))
    return 0


def _write(family, out: Path | None, many: bool) -> None:
    if out is None and many:
        return
    if out is None:
        print(family[0][1].to_yaml(), end="")
        return
    from nas.outputs.files import make_folder, write_output

    if many:
        make_folder(out, "--out")
        for _, arch in family:
            text = arch.to_yaml()
            write_output(out / f"{arch.name}.yaml", lambda p, text=text: p.write_text(text),
                         "--out")
        print(f"wrote {len(family)} block tables to {out}/")
        return
    text = family[0][1].to_yaml()
    write_output(out, lambda p: p.write_text(text), "--out")
    print(f"wrote {out}")
