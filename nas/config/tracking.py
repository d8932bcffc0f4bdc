"""The `tracking` section: which logger backends a search reports to, with their options.

The callbacks themselves live in `nas.outputs.tracking`; the config only checks what it names.
"""

from __future__ import annotations

from typing import Any

from search_space.errors import SpecError
from search_space.validators import check_keys

# backend -> (module that must import, extra that installs it, accepted options)
TRACKING_BACKENDS = {
    "mlflow": ("mlflow", "mlflow", ("uri", "experiment")),
    "tensorboard": ("tensorboardX", "tensorboard", ()),
    "wandb": ("wandb", "wandb", ("project", "mode", "entity")),
}


def tracking_backends(value: Any) -> dict[str, dict[str, Any]]:
    """The config's `tracking` (list or mapping) as {backend: options}; bad input: SpecError."""
    if value is None:
        return {}
    if isinstance(value, (list, tuple)):
        value = {name: {} for name in value}
    if not isinstance(value, dict):
        raise SpecError("tracking", value, "must be a list of backends or a mapping of "
                        "backend: {options}")
    backends = {}
    for name, options in value.items():
        if name not in TRACKING_BACKENDS:
            known = ", ".join(TRACKING_BACKENDS)
            raise SpecError("tracking", name, f"unknown backend (known: {known})")
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise SpecError(f"tracking.{name}", options, "must be a mapping of options")
        check_keys(options, TRACKING_BACKENDS[name][2], f"tracking.{name}.")
        for key, option in options.items():
            if not isinstance(option, str):
                raise SpecError(f"tracking.{name}.{key}", option, "must be a string")
        backends[name] = dict(options)
    return backends


