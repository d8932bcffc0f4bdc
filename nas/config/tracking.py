"""The `tracking` section: which logger backends a search reports to, with their options.

The callbacks themselves live in `nas.outputs.tracking`; the config checks what it names, and
(`check_tracking_store`, before Ray starts) that an MLflow store can be reached: a tracking
server that does not answer would leave every trial hanging in its logger.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

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
            if not isinstance(option, str) or not option.strip():
                raise SpecError(f"tracking.{name}.{key}", option, "must be a non-empty string")
        backends[name] = dict(options)
    return backends


SERVER_PORTS = {"http": 80, "https": 443}


def check_tracking_store(value: Any, timeout: float = 3.0) -> None:
    """MLflow's `uri`, if set: a server must accept a connection within `timeout` seconds; a
    local store (sqlite, file, a path) must be in a writable folder that exists: MLflow would
    otherwise make the folders itself, outside the run directory, without a word."""
    uri = tracking_backends(value).get("mlflow", {}).get("uri")
    if uri is None:
        return
    parts = urlparse(uri)
    scheme = parts.scheme.lower()
    if scheme == "sqlite" and parts.path:  # sqlite:///rel.db, sqlite:////abs.db (not :memory:)
        _check_local_store(uri, parts.path[1:])
    elif scheme in ("file", ""):  # a file store: a folder MLflow makes in an existing one
        _check_local_store(uri, parts.path)
    elif parts.hostname:
        _check_server(uri, parts.hostname, parts.port or SERVER_PORTS.get(scheme), timeout)


def _check_local_store(uri: str, path: str) -> None:
    """The folder that will hold the store (a database file, or a file store's folder)."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise SpecError("tracking.mlflow.uri", uri, f"no such folder: {folder} (create it "
                        "first; MLflow would make it without asking)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SpecError("tracking.mlflow.uri", uri, f"{folder} is not writable")


def _check_server(uri: str, host: str, port: int | None, timeout: float) -> None:
    if port is None:  # a scheme whose default port we do not know: MLflow's to judge
        return
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as err:
        raise SpecError("tracking.mlflow.uri", uri, f"cannot connect to {host}:{port} "
                        f"({err.strerror or err}); no trial could log to it") from None
