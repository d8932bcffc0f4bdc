"""`nas-search train ARCH`: proxy-train one architecture and print its accuracy and reward.

Exit status: 0 when training finished, 1 when it diverged (the result is still printed),
2 for bad input (one line naming the file, field and value).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nas.commands.arguments import count_or_fraction

HELP = "proxy-train one preset or YAML block table and print accuracy, FLOPs, params, reward"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", metavar="ARCH", help="preset name or block-table YAML path")
    parser.add_argument("--dataset", default="synthetic", metavar="NAME_OR_PATH",
                        help="'synthetic' (bundled, offline), a CIFAR-10 python-batches folder "
                        "an ImageFolder tree or a prepare-data cache (default: synthetic)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--resolution", type=int, default=32,
                        help="proxy training resolution in px (FLOPs stay at the arch's own)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.01, help="peak learning rate")
    parser.add_argument("--optimizer", choices=("sgd", "rmsprop", "adamw"),  # proxy.OPTIMIZERS
                        default="sgd")
    parser.add_argument("--train-size", type=int, help="training images to use (default: all)")
    parser.add_argument("--val-size", type=count_or_fraction, default=0.2,
                        help="held-out images carved from the training data: a count or a "
                        "fraction (default: 0.2)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-classes", type=int, default=1000,
                        help="deployment classes the reward's FLOPs are counted for")
    parser.add_argument("--target", type=float,
                        help="reward target T in multiply-adds (default: 400M)")
    parser.add_argument("--w", type=float, help="reward exponent (default: -0.07)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--save", metavar="CKPT",
                        help="write the trained weights (a plain state dict, CKPT) and the "
                        "block table beside it (CKPT with .yaml); see docs/data-and-export.md")


def main(args: argparse.Namespace) -> int:
    from objectives import analytic_counts, check_dataset, load_dataset, mnas_reward, train_proxy
    from search_space import load_arch

    arch = load_arch(args.arch)
    if args.save:
        _check_save(args.save)
    cfg = _recipe(args)
    counts = analytic_counts(arch, arch.resolution, args.num_classes)  # deployment, not proxy
    _reward_settings(args, counts.flops)  # bad target or w: exit before training
    check_dataset(cfg.data)  # sizes and memory, before decoding anything
    data = load_dataset(cfg.data)
    _say(f"training {arch.name or args.arch} on {data.name}: {len(data.train)} train / "
         f"{len(data.val)} held-out images, {data.num_classes} classes, {cfg.resolution} px, "
         f"{cfg.epochs} epoch(s)")
    trained = []
    with _Progress(cfg.epochs) as progress:
        result = train_proxy(arch, cfg, data=data, on_epoch=progress.epoch,
                             on_step=progress.step, on_trained=trained.append)
    if args.save and trained:
        _save(trained[0], arch, args.save, data.name, cfg, result.accuracy)
    reward = mnas_reward(result.accuracy, counts.flops, args.target, args.w)
    summary = {
        "arch": arch.name or args.arch, "dataset": data.name, "status": result.status,
        "reason": result.reason, "accuracy": result.accuracy, "flops": counts.flops,
        "params": counts.params, "flops_resolution": arch.resolution,
        "num_classes": args.num_classes, "proxy_resolution": result.resolution,
        "reward": reward, "target": args.target, "w": args.w, "epochs": result.epochs,
        "seconds": result.train_seconds, "device": result.device, "history": result.history,
    }
    print(json.dumps(summary) if args.json else _text(summary))
    return 0 if result.status == "ok" else 1


def _recipe(args: argparse.Namespace):
    from objectives import ProxyConfig

    return ProxyConfig(dataset=args.dataset, epochs=args.epochs, resolution=args.resolution,
                       batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                       train_size=args.train_size, val_size=args.val_size, device=args.device,
                       threads=args.threads, seed=args.seed)


def _reward_settings(args: argparse.Namespace, flops: int) -> None:
    """Fill in the default target and exponent, and check them on `flops`."""
    from objectives import mnas_reward
    from objectives.reward import TARGET_FLOPS, W

    args.target = TARGET_FLOPS if args.target is None else args.target
    args.w = W if args.w is None else args.w
    mnas_reward(1.0, flops, args.target, args.w)


def _check_save(path: str) -> None:
    """Both files --save writes (weights and table), checked before training: never a folder,
    a device, a missing folder that cannot be made, or a run directory's own file."""
    from nas.outputs.files import refuse_run_files
    from search_space.weights import weights_targets

    for target in weights_targets(path, "--save"):
        refuse_run_files(target, "--save")


def _save(model, arch, path: str, dataset: str, cfg, accuracy: float) -> None:
    from search_space.weights import save_weights

    info = {"dataset": dataset, "proxy_resolution": cfg.resolution,
            "accuracy": f"{accuracy:.4f} (held-out top-1)", "epochs": cfg.epochs}
    for written in save_weights(model, arch, path, info, "--save"):
        _say(f"wrote {written}")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class _Progress:
    """Training's progress on stderr (stdout stays clean for --json): the epoch lines, and a
    live line over all the steps on a terminal (`nas.outputs.progress.Progress`)."""

    def __init__(self, epochs: int):
        from nas.outputs.progress import Progress

        self.epochs, self.note = epochs, ""
        self.line = Progress(None, "train", "steps", stream=sys.stderr, status=lambda: self.note)

    def step(self, m: dict[str, Any]) -> None:
        self.note = f"epoch {m['epoch']}/{self.epochs}, loss {m['loss']:.3f}"
        self.line.update((m["epoch"] - 1) * m["steps"] + m["step"], self.epochs * m["steps"])

    def epoch(self, m: dict[str, Any]) -> None:
        self.line.write(f"epoch {m['epoch']}/{self.epochs}  loss {m['loss']:.3f}  "
                        f"held-out top-1 {m['accuracy']:.4f}  lr {m['lr']:.4g}  "
                        f"{m['images_per_second']:.0f} img/s  {m['seconds']:.1f} s")

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.line.close()


def _text(s: dict[str, Any]) -> str:
    lines = [
        f"status:   {s['status']}" + (f" ({s['reason']})" if s["reason"] else ""),
        f"accuracy: {s['accuracy']:.4f} (top-1 on the held-out split, {s['proxy_resolution']} "
        f"px proxy)",
        f"FLOPs:    {s['flops']:,} multiply-adds ({s['flops'] / 1e6:.1f}M at "
        f"{s['flops_resolution']} px, {s['num_classes']} classes: the deployed model)",
        f"params:   {s['params']:,} (deployed model)",
        f"reward:   {s['reward']:.4f} = ACC x (FLOPs / {s['target'] / 1e6:g}M) ^ {s['w']:g}",
        f"seconds:  {s['seconds']:.1f} ({s['epochs']} epoch(s) on {s['device']})",
    ]
    return "\n".join(lines)
