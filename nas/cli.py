"""The `nas-search` console script: glue from argv to one verb module under `nas.commands`.

Each verb module defines `HELP`, `add_arguments(parser)` and `main(args) -> int`; heavy imports
(torch, ray) happen inside `main`, so `nas-search --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from search_space.errors import RunFailed, SpecError

# in the order `--help` lists them
VERBS = ("run", "resume", "status", "pareto", "export", "grid", "flops", "scale", "space",
         "train", "prepare-data", "latency", "report", "fidelity", "compare", "confirm")

EPILOG = """examples:
  nas-search run                          # the bundled offline demo
  nas-search run b0-cifar10 --set proxy.epochs=3 --output runs/
  nas-search flops efficientnet-b0
  nas-search scale efficientnet-b0 --phi 1 --out b1ish.yaml
  nas-search export runs/demo --out best.yaml
  nas-search latency efficientnet-b0 --threads 1 --json
  nas-search report runs/demo --out report.html
"""


def _parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = argparse.ArgumentParser(
        prog="nas-search", description="Hardware-aware neural architecture search (MnasNet / "
        "EfficientNet style). FLOPs are multiply-adds.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    modules = {}
    for verb in VERBS:
        module = importlib.import_module(f"nas.commands.{verb.replace('-', '_')}")
        verb_parser = sub.add_parser(verb, help=module.HELP, description=module.HELP)
        module.add_arguments(verb_parser)
        modules[verb] = module
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    parser, modules = _parser()
    args = parser.parse_args(argv)
    try:
        return modules[args.verb].main(args)
    except SpecError as err:
        print(f"nas-search {args.verb}: error: {err}", file=sys.stderr)
        return 2
    except RunFailed as err:
        print(f"nas-search {args.verb}: error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `nas-search ... | head` closed our stdout: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print(f"nas-search {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
