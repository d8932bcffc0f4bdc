"""`nas-search export RUN_DIR_OR_ARCH [--rank K] [--weights CKPT] (--out FILE.yaml | --onnx FILE)`.

From a run directory: the block table of its best (or K-th best) trial, with the weights
`keep_weights` kept for it when there are any; confirmed candidates rank first, and the header
of a confirmed one records its mean +- std, n, 95% interval and the confirming recipe.
From an ARCH (preset or YAML): that table.
``--out`` writes the YAML block table, ``--onnx`` the model as ONNX (`nas.outputs.onnx_export`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write the block table of a trial as YAML, or a trial/ARCH with its weights as ONNX"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="RUN_DIR_OR_ARCH",
                        help="run directory, preset name or block-table YAML path")
    parser.add_argument("--rank", type=int, default=1,
                        help="1 = best (default): confirmed candidates first, by the reward "
                        "of their mean accuracy, then the other trials by search reward")
    parser.add_argument("--out", type=Path, metavar="FILE.yaml", help="write the block table")
    parser.add_argument("--onnx", type=Path, metavar="FILE.onnx", help="write the model as ONNX")
    parser.add_argument("--weights", type=Path, metavar="CKPT",
                        help="state dict to export (from `train --save` or keep_weights; "
                        "default: the run's kept weights of that trial, else random init)")
    parser.add_argument("--resolution", type=int,
                        help="ONNX input side in px (default: the resolution the weights "
                        "were trained at, from their table's header; else the architecture's "
                        "own)")
    parser.add_argument("--num-classes", type=int, default=1000,
                        help="classifier size without --weights (default: 1000)")


def main(args: argparse.Namespace) -> int:
    from search_space.errors import SpecError

    if args.out is None and args.onnx is None:
        raise SpecError("--out/--onnx", None, "give --out FILE.yaml, --onnx FILE.onnx or both")
    _check_sizes(args)
    arch, row, weights = _source(args)
    protect = Path(args.source) if row is not None else None  # the run's own files
    _check_targets(args, protect)  # before anything is written
    if args.out is not None:
        from nas.outputs.yaml_export import confirm_recipe, write_arch

        recipe = confirm_recipe(_run_config(args.source)) if row is not None else ""
        write_arch(arch, args.out, row, protect=protect, recipe=recipe)
        print(f"wrote {args.out}")
    if args.onnx is not None:
        _onnx(args, arch, args.weights or weights, protect)
    return 0


def _check_sizes(args: argparse.Namespace) -> None:
    """The bounds configs have, so a typo cannot allocate a terabyte."""
    from search_space.arch import MAX_CLASSES, MAX_RESOLUTION
    from search_space.validators import integer

    if args.resolution is not None:
        integer("--resolution", args.resolution, 8, MAX_RESOLUTION)
    integer("--num-classes", args.num_classes, 1, MAX_CLASSES)


def _check_targets(args: argparse.Namespace, protect: Path | None) -> None:
    from nas.outputs.files import check_output

    if args.out is not None:
        check_output(args.out, "--out", protect)
    if args.onnx is not None:  # a device or pipe: onnxruntime must read the file back
        check_output(args.onnx, "--onnx", protect, special=False)


def _source(args: argparse.Namespace):
    """(block table, its trial row or None, weights the run kept or None); prints the trial."""
    from nas.outputs.yaml_export import block_strings, kept_weights, trial_arch
    from search_space import load_arch

    if not Path(args.source).is_dir():
        return load_arch(args.source), None, None
    from nas.ledger.results import load_results

    objective = _run_config(args.source).objective  # confirmed candidates rank first
    arch, row = trial_arch(load_results(args.source), args.rank, objective=objective)
    print(f"trial {row['trial_id']} (rank {args.rank}): accuracy {row['accuracy']:.4f}, "
          f"reward {row['reward']:.4f}, {int(row['flops']):,} FLOPs (multiply-adds), "
          f"{int(row['params']):,} params")
    if row["confirmed"]:
        print(f"confirmed: accuracy {row['accuracy_mean']:.4f} (mean of {int(row['n'])} "
              f"seeds), reward of the mean {row['confirmed_reward']:.4f}")
    print("timm block strings:")
    for line in block_strings(arch):
        print(f"  {line}")
    return arch, row, kept_weights(args.source, row)


def _run_config(run_dir: str):
    from nas.config import load_config
    from nas.ledger.run_dir import RunDir

    return load_config(str(RunDir.open(run_dir).path / "config.yaml"))


def _onnx(args: argparse.Namespace, arch, weights: Path | None, protect: Path | None) -> None:
    from nas.outputs.onnx_export import OPSET, export_onnx
    from search_space import build_model
    from search_space.weights import load_weights

    res, why = _resolution(args, arch, weights)
    if weights is not None:
        model, _ = load_weights(weights, arch)
    else:
        model = build_model(arch, args.num_classes)
        print("no weights given: exporting a randomly initialised model")
    export_onnx(model, args.onnx, res, protect)
    print(f"wrote {args.onnx}: opset {OPSET}, input 'images' [batch, 3, {res}, {res}] "
          f"(dynamic batch), output 'logits'" + (f", weights {weights}" if weights else ""))
    print(f"resolution {res} px: {why}")
    _check_in_onnxruntime(args.onnx, model, res)


def _resolution(args: argparse.Namespace, arch, weights: Path | None) -> tuple[int, str]:
    """The input side to export at, and why: --resolution, else the resolution the weights
    were trained at (their table's header says), else the architecture's own."""
    from search_space.arch import MAX_RESOLUTION
    from search_space.errors import SpecError
    from search_space.validators import integer
    from search_space.weights import arch_path, weights_info

    if args.resolution is not None:
        return args.resolution, "given by --resolution"
    trained = weights_info(weights).get("proxy_resolution") if weights is not None else None
    if trained is None:
        return arch.resolution, "the architecture's own (--resolution R to choose)"
    table = arch_path(weights, "--weights")
    try:
        res = integer("proxy_resolution", _as_int(trained), 8, MAX_RESOLUTION)
    except SpecError as err:
        raise SpecError(err.field, err.value, f"{err.reason}; or give --resolution",
                        str(table)) from None
    return res, f"the weights were trained at it ({table}; --resolution R to choose)"


def _as_int(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text  # the validator names it


def _check_in_onnxruntime(path: Path, model, res: int) -> None:
    """Run the file in onnxruntime; logits that disagree with torch's are a `RunFailed`."""
    from nas.outputs.onnx_export import RULE, agrees, onnxruntime_difference, relative_difference
    from search_space.errors import RunFailed, SpecError

    try:
        diff, peak = onnxruntime_difference(path, model, res)
    except SpecError:
        print("onnxruntime is not installed: not checked (pip install 'nas-search[onnx]')")
        return
    found = (f"max |onnx - torch| = {diff:.2e}, max |torch| = {peak:.3g} on a random batch of "
             f"3: relative {relative_difference(diff, peak):.2e} (the rule: {RULE})")
    if not agrees(diff, peak):
        raise RunFailed(f"{path}: onnxruntime disagrees with torch, do not use this file: "
                        f"{found}")
    print(f"checked in onnxruntime: {found}: ok")
