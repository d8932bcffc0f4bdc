"""The compound-scaling coefficients file: what `nas-search grid` chose, what `scale` reads.

A small YAML mapping of alpha, beta and gamma, with a comment line saying where they came from.
It is written whole or not at all (`nas.outputs.files.write_output`).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from nas.outputs.files import write_output
from search_space.errors import SpecError
from search_space.validators import positive
from search_space.yaml_file import read_yaml


def write_coefficients(path: str | Path, alpha: float, beta: float, gamma: float,
                       note: str = "") -> Path:
    """Write (alpha, beta, gamma) to `path`, `note` as a comment above them."""
    header = f"# {note}\n" if note else ""
    values = {"alpha": float(alpha), "beta": float(beta), "gamma": float(gamma)}
    text = header + yaml.safe_dump(values, sort_keys=False)
    return write_output(path, lambda tmp: tmp.write_text(text), "coefficients")


def read_coefficients(path: str | Path) -> tuple[float, float, float]:
    """(alpha, beta, gamma) from a coefficients YAML (as `nas-search grid` writes it)."""
    path = Path(path)
    data = read_yaml(path, "--coefficients")
    if not isinstance(data, dict):
        raise SpecError("(top level)", data, "must be a mapping of alpha, beta, gamma", str(path))
    values = []
    for key in ("alpha", "beta", "gamma"):
        try:
            values.append(positive(key, data.get(key)))
        except SpecError as err:
            raise err.with_source(str(path)) from None
    return values[0], values[1], values[2]
