"""`nas-search export RUN_DIR --out FILE.yaml`: the block table of a finished trial."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write the block table of the best (or K-th best) trial as YAML"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--rank", type=int, default=1, help="1 = best reward (default)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.yaml")


def main(args: argparse.Namespace) -> int:
    from nas.export import block_strings, trial_arch, write_arch
    from nas.results import load_results

    arch, row = trial_arch(load_results(args.run_dir), args.rank)
    write_arch(arch, args.out, row, protect=Path(args.run_dir))
    print(f"trial {row['trial_id']} (rank {args.rank}): accuracy {row['accuracy']:.4f}, "
          f"reward {row['reward']:.4f}, {int(row['flops']):,} FLOPs (multiply-adds), "
          f"{int(row['params']):,} params")
    print("timm block strings:")
    for line in block_strings(arch):
        print(f"  {line}")
    print(f"wrote {args.out}")
    return 0
