"""`nas-search export RUN_DIR_OR_ARCH [--rank K] [--weights CKPT] (--out FILE.yaml | --onnx FILE)`.

From a run directory: the block table of its best (or K-th best) trial, with the weights
`keep_weights` kept for it when there are any. From an ARCH (preset or YAML): that table.
``--out`` writes the YAML block table, ``--onnx`` the model as ONNX (`nas.outputs.onnx_export`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write the block table of a trial as YAML, or a trial/ARCH with its weights as ONNX"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="RUN_DIR_OR_ARCH",
                        help="run directory, preset name or block-table YAML path")
    parser.add_argument("--rank", type=int, default=1, help="1 = best reward (default)")
    parser.add_argument("--out", type=Path, metavar="FILE.yaml", help="write the block table")
    parser.add_argument("--onnx", type=Path, metavar="FILE.onnx", help="write the model as ONNX")
    parser.add_argument("--weights", type=Path, metavar="CKPT",
                        help="state dict to export (from `train --save` or keep_weights; "
                        "default: the run's kept weights of that trial, else random init)")
    parser.add_argument("--resolution", type=int,
                        help="ONNX input side in px (default: the architecture's own)")
    parser.add_argument("--num-classes", type=int, default=1000,
                        help="classifier size without --weights (default: 1000)")


def main(args: argparse.Namespace) -> int:
    from search_space.errors import SpecError

    if args.out is None and args.onnx is None:
        raise SpecError("--out/--onnx", None, "give --out FILE.yaml, --onnx FILE.onnx or both")
    arch, row, weights = _source(args)
    protect = Path(args.source) if row is not None else None  # the run's own files
    if args.out is not None:
        from nas.outputs.yaml_export import write_arch

        write_arch(arch, args.out, row, protect=protect)
        print(f"wrote {args.out}")
    if args.onnx is not None:
        _onnx(args, arch, args.weights or weights, protect)
    return 0


def _source(args: argparse.Namespace):
    """(block table, its trial row or None, weights the run kept or None); prints the trial."""
    from nas.outputs.yaml_export import block_strings, kept_weights, trial_arch
    from search_space import load_arch

    if not Path(args.source).is_dir():
        return load_arch(args.source), None, None
    from nas.ledger.results import load_results

    arch, row = trial_arch(load_results(args.source), args.rank)
    print(f"trial {row['trial_id']} (rank {args.rank}): accuracy {row['accuracy']:.4f}, "
          f"reward {row['reward']:.4f}, {int(row['flops']):,} FLOPs (multiply-adds), "
          f"{int(row['params']):,} params")
    print("timm block strings:")
    for line in block_strings(arch):
        print(f"  {line}")
    return arch, row, kept_weights(args.source, row)


def _onnx(args: argparse.Namespace, arch, weights: Path | None, protect: Path | None) -> None:
    from nas.outputs.onnx_export import OPSET, export_onnx, onnxruntime_difference
    from search_space import build_model
    from search_space.errors import SpecError
    from search_space.weights import load_weights

    res = arch.resolution if args.resolution is None else args.resolution
    if res < 8:
        raise SpecError("--resolution", res, "must be >= 8 px")
    if weights is not None:
        model, _ = load_weights(weights, arch)
    else:
        if args.num_classes < 1:
            raise SpecError("--num-classes", args.num_classes, "must be >= 1")
        model = build_model(arch, args.num_classes)
        print("no weights given: exporting a randomly initialised model")
    export_onnx(model, args.onnx, res, protect)
    print(f"wrote {args.onnx}: opset {OPSET}, input 'images' [batch, 3, {res}, {res}] "
          f"(dynamic batch), output 'logits'" + (f", weights {weights}" if weights else ""))
    try:
        diff = onnxruntime_difference(args.onnx, model, res)
    except SpecError:
        print("onnxruntime is not installed: not checked (pip install 'nas-search[onnx]')")
        return
    print(f"checked in onnxruntime: max |onnx - torch| = {diff:.2e} on a random batch of 3")
