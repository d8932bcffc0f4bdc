"""Trained weights on disk: a plain state dict plus the block table that rebuilds its model.

``save_weights(model, arch, "b0.pt")`` writes

- ``b0.pt``: ``model.state_dict()`` as CPU tensors with `torch.save`: nothing but tensors, so
  ``torch.load(path, weights_only=True)`` reads it (no code is unpickled);
- ``b0.yaml`` beside it: the block table (`Arch.to_yaml`), with a comment header saying what
  the weights are (classes, accuracy, ...). Every verb that takes ARCH accepts this file.

``load_weights("b0.pt")`` is ``build_model(Arch.from_yaml("b0.yaml"), num_classes)`` +
``load_state_dict``, the classifier size read from the weights themselves. It also reads the
state dict of a timm EfficientNet (renamed by `search_space.timm_format`) given its table.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from search_space.arch import Arch
from search_space.atomic_file import check_target, write_together
from search_space.builder import build_model
from search_space.errors import SpecError
from search_space.timm_format import from_timm_state_dict, is_timm_state_dict


def arch_path(ckpt: str | Path, option: str = "--save") -> Path:
    """The block table beside a weights file: ``NAME.pt`` -> ``NAME.yaml``."""
    ckpt = Path(ckpt)
    if ckpt.suffix in (".yaml", ".yml"):
        raise SpecError(option, str(ckpt), "is the block table's name; use e.g. NAME.pt")
    return ckpt.with_suffix(".yaml")


def weights_targets(ckpt: str | Path, option: str = "--save") -> tuple[Path, Path]:
    """The two files `save_weights` writes (weights, table), checked before any training:
    each a regular file or new, in a folder that exists or can be made."""
    targets = Path(ckpt), arch_path(ckpt, option)
    for path in targets:
        check_target(path, option, special=False, make_parents=True)
    return targets


def save_weights(model: nn.Module, arch: Arch, ckpt: str | Path,
                 info: dict[str, Any] | None = None, option: str = "path") -> tuple[Path, Path]:
    """Write the state dict and its block table, both or neither; returns their paths.

    Args:
        model: the trained model (any device or memory format).
        arch: its block table.
        ckpt: the weights file; the table goes to `arch_path(ckpt)`.
        info: what to say in the table's comment header (e.g. accuracy, dataset).
        option: what errors name (the flag the user gave, e.g. ``--save``).
    """
    ckpt, table = weights_targets(ckpt, option)
    try:
        ckpt.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SpecError(option, str(ckpt), f"cannot create its folder ({err.strerror or err})") \
            from None
    state = {k: v.detach().to("cpu", memory_format=torch.contiguous_format).clone()
             for k, v in model.state_dict().items()}
    header = "".join(f"# {k}: {v}\n" for k, v in {
        "weights": ckpt.name, "num_classes": _num_classes(state), **(info or {})}.items())
    write_together({ckpt: lambda tmp: torch.save(state, tmp),
                    table: lambda tmp: tmp.write_text(header + arch.to_yaml())}, option)
    return ckpt, table


def weights_info(ckpt: str | Path) -> dict[str, str]:
    """What `save_weights` said about the weights in their table's ``# key: value`` header
    (e.g. ``proxy_resolution``); empty when there is no table beside them."""
    table = arch_path(ckpt, "weights")
    if not table.is_file():
        return {}
    info = {}
    with open(table, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.startswith("# "):
                break  # the header ends where the table starts
            key, sep, value = line[2:].partition(": ")
            if sep:
                info[key.strip()] = value.strip()
    return info


def _num_classes(state: dict[str, torch.Tensor]) -> int:
    return int(state["classifier.weight"].shape[0])


def load_weights(ckpt: str | Path, arch: Arch | None = None) -> tuple[nn.Module, Arch]:
    """Rebuild the model `save_weights` saved: (model in eval mode, its block table).

    Args:
        ckpt: the weights file.
        arch: the block table (default: the YAML beside `ckpt`).
    """
    ckpt = Path(ckpt)
    if not ckpt.is_file():
        raise SpecError("weights", str(ckpt), "no such file")
    arch = Arch.from_yaml(arch_path(ckpt)) if arch is None else arch
    state = read_state_dict(ckpt)
    if is_timm_state_dict(state):  # a timm EfficientNet's weights: rename to ours
        state = from_timm_state_dict(state, arch)
    if "classifier.weight" not in state:
        raise SpecError("weights", str(ckpt), "not a nas-search state dict (no classifier)")
    model = build_model(arch, _num_classes(state))
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).splitlines()[1].strip() if "\n" in str(err) else str(err)
        raise SpecError("weights", str(ckpt), f"do not fit the block table ({first})") from None
    return model.eval(), arch


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict file, read with ``weights_only=True``; anything else is a SpecError."""
    try:
        with warnings.catch_warnings():  # torch warns about a foreign pickle before refusing it
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as err:
        raise SpecError("weights", str(path), f"cannot read it ({err.strerror or err})") from None
    except Exception:  # noqa: BLE001 - pickle/zip errors all mean "not weights"
        # torch's own text advises weights_only=False, i.e. running the file's code: not repeated
        raise SpecError("weights", str(path), "not a readable state dict (a torch.save file "
                        "of tensors; nas-search never unpickles anything else)") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # the common {"state_dict": ...} training checkpoint
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise SpecError("weights", str(path), "not a state dict (name -> tensor)")
    return state
