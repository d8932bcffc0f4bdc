"""From a finished trial back to its block table: YAML that rebuilds the model, block strings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nas.config import ObjectiveConfig
from nas.ledger.confirmed import export_order
from nas.ledger.kept_weights import kept_path
from nas.ledger.results import ranked
from nas.ledger.run_dir import RunDir
from nas.outputs.files import write_output
from search_space import Arch
from search_space.errors import SpecError

SEARCH_RECIPE = "the search's recipe"


def trial_arch(df: pd.DataFrame, rank: int = 1, by: str = "reward",
               objective: ObjectiveConfig | None = None) -> tuple[Arch, pd.Series]:
    """The block table of the `rank`-th best scored trial (1 = best) and its row; with the
    run's `objective`, confirmed candidates rank first (`export_order`), by their mean."""
    order = ranked(df, by) if objective is None else export_order(df, objective)
    if not 1 <= rank <= len(order):
        raise SpecError("--rank", rank, f"must be in 1..{len(order)} (scored trials)"
                        if len(order) else "the run has no scored trial yet")
    row = order.iloc[rank - 1]
    try:
        arch = Arch.from_yaml(row["arch"])
    except SpecError as err:
        raise SpecError(f"trial {row['trial_id']}: arch.{err.field}", err.value,
                        f"the journal's block table is damaged ({err.reason})") from None
    return arch.replace(name=arch.name or f"trial-{row['trial_id']}"), row


def block_strings(arch: Arch) -> list[str]:
    """timm-style `arch_def` strings, one per stage."""
    return [stage.block_string() for stage in arch.stages]


def write_arch(arch: Arch, out: str | Path, row: pd.Series | None = None,
               protect: Path | None = None, recipe: str = "") -> Path:
    """Write the block table, with a comment header saying where it came from (and, for a
    confirmed candidate, its statistics and the confirming `recipe`); `protect`: a run
    directory whose files it must not replace."""
    header = ""
    if row is not None:
        header = (f"# trial {row['trial_id']}: accuracy {row['accuracy']:.4f} (proxy), "
                  f"reward {row['reward']:.4f}, {int(row['flops']):,} FLOPs (multiply-adds), "
                  f"{int(row['params']):,} params\n")
        if pd.notna(row.get("latency_ms")):  # objective.metric: latency
            header += (f"# latency {row['latency_ms']:.3f} ms (per-block table) measured under "
                       f"{row.get('latency_fingerprint')}\n")
        if row.get("confirmed") in (True,):  # a bool, numpy's too; NaN or absent: not
            header += confirmed_header(row, recipe)
    text = header + arch.to_yaml()
    return write_output(out, lambda p: p.write_text(text), "--out", protect)


def confirmed_header(row: pd.Series, recipe: str) -> str:
    """The comment lines of a confirmed candidate: mean +- std, n, the 95% interval, recipe."""
    std = "n/a" if pd.isna(row["accuracy_std"]) else f"{row['accuracy_std']:.4f}"
    ci = ("n/a (one training)" if pd.isna(row["ci95_low"])
          else f"[{row['ci95_low']:.4f}, {row['ci95_high']:.4f}]")
    return (f"# confirmed: accuracy {row['accuracy_mean']:.4f} +- {std} (mean +- std, "
            f"n={int(row['n'])}), 95% interval {ci}, reward of the mean "
            f"{row['confirmed_reward']:.4f}\n"
            f"# confirming recipe: {recipe or SEARCH_RECIPE}\n")


def confirm_recipe(config: object) -> str:
    """The confirming trainings' recipe in words: the `confirm.set` overrides of the search's
    proxy recipe, or "the search's recipe" (also for a config without a confirm section)."""
    overrides = getattr(getattr(config, "confirm", None), "set", None) or {}
    if not overrides:
        return SEARCH_RECIPE
    return "the search's recipe with " + ", ".join(
        f"proxy.{key}={value}" for key, value in sorted(overrides.items()))


def kept_weights(run_dir: str | Path, row: pd.Series) -> Path | None:
    """The weights `keep_weights` kept for this trial (RUN_DIR/weights/TRIAL_ID.pt), if any;
    a trial id that would lead elsewhere is a `SpecError` naming it and the journal."""
    try:
        path = kept_path(run_dir, row["trial_id"])
    except SpecError as err:
        raise err.with_source(str(RunDir(run_dir).journal)) from None
    return path if path.is_file() else None
