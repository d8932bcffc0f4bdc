"""Reading a config: a bundled name or a path, `--set key=value` overrides, and the checks that
need the world outside the file (the data folder, the cluster address)."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import experiments
from nas.config.search import SearchConfig
from nas.config.tracking import check_tracking_store
from nas.schema import from_data
from objectives.data import is_cache, open_cache
from search_space.errors import SpecError
from search_space.yaml_file import YamlSyntaxError, parse_yaml, read_yaml


def config_path(name_or_path: str) -> Path:
    """A bundled experiment name (`demo`, `b0-cifar10`, ...) or a YAML path."""
    bundled = experiments.bundled("", name_or_path)
    if bundled is not None:
        return bundled
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(experiments.names())
        raise SpecError("config", name_or_path, f"no such file or bundled experiment ({known})")
    return path


def load_config(name_or_path: str = "demo",
                overrides: Sequence[str | tuple[str, str]] = ()) -> SearchConfig:
    """Read, override and validate an experiment config. An override is `key=value` (from
    --set) or (flag, `key=value`): an error in a value it set names its flag, not the file."""
    path = config_path(name_or_path)
    data = read_yaml(path, "config")
    data = {} if data is None else data
    flags = {}
    for item in overrides:
        flag, item = item if isinstance(item, tuple) else ("--set", item)
        data = apply_override(data, item, flag)
        flags[item.partition("=")[0]] = flag
    try:
        config = from_data(SearchConfig, data)
    except SpecError as err:
        flag = next((f for key, f in flags.items() if _nested(err.field, key)), None)
        raise (err.within(f"{flag} ") if flag else err.with_source(str(path))) from None
    return _absolute_paths(config)


def _nested(field: str, key: str) -> bool:
    """Whether `field` (an error's) and `key` (an override's) are one key or one holds the
    other (`proxy` and `proxy.epochs`)."""
    return any(a == b or a.startswith((f"{b}.", f"{b}[")) for a, b in ((field, key), (key, field)))


def without_address(config: SearchConfig) -> SearchConfig:
    """`config` as it would run locally: where a study runs is not what it computes."""
    return dataclasses.replace(config, address=None)


def _absolute_paths(config: SearchConfig) -> SearchConfig:
    """Ray runs trials in their own folders: relative paths must not depend on where."""
    proxy = config.proxy
    if proxy.dataset != "synthetic":
        proxy = dataclasses.replace(proxy, dataset=str(Path(proxy.dataset).resolve()))
    space = config.space
    if space.endswith((".yaml", ".yml")):
        space = str(Path(space).resolve())
    return dataclasses.replace(config, proxy=proxy, space=space)


def apply_override(data: Any, item: str, flag: str = "--set") -> dict:
    """`a.b=c` sets data["a"]["b"] to YAML-parsed c; unknown keys fail later, in `from_data`.
    Errors name `flag`, the option the item came from."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise SpecError(flag, item, "must be key=value, e.g. proxy.epochs=3")
    if not isinstance(data, dict):
        raise SpecError("(top level)", data, "a config must be a YAML mapping")
    try:
        value = parse_yaml(raw, f"{flag} {key}")
    except YamlSyntaxError:
        value = raw  # e.g. an IPv6 address [::1]:6379: meant as text
    node, *parts = key.split(".")
    data = dict(data)
    cursor = data
    for part in [node, *parts][:-1]:
        child = cursor.get(part)
        cursor[part] = dict(child) if isinstance(child, dict) else {} if child is None else child
        if not isinstance(cursor[part], dict):
            raise SpecError(f"{flag} {key}", raw, f"'{part}' holds a plain value, not a section")
        cursor = cursor[part]
    cursor[key.split(".")[-1]] = value
    return data


def check_reachable(config: SearchConfig, timeout: float = 3.0) -> None:
    """Fail fast, before Ray starts, when the data path, the tracking store or the cluster
    address is wrong."""
    dataset = config.proxy.dataset
    if dataset != "synthetic" and not Path(dataset).is_dir():
        raise SpecError("proxy.dataset", dataset, "no such folder (use 'synthetic', a CIFAR-10 "
                        "python-batches folder or an ImageFolder tree)")
    if dataset != "synthetic" and is_cache(dataset):  # verified once here, not in every trial
        open_cache(dataset).check_resolution(config.proxy.resolution,
                                             config.proxy.resize_cache or bool(config.grid))
    check_tracking_store(config.tracking, timeout)
    if config.address and config.address != "auto":
        host, _, port = config.address.rpartition(":")
        if not host or not port.isdigit():
            raise SpecError("address", config.address, "must be host:port of a Ray head")
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
        except OSError as err:
            raise SpecError("address", config.address,
                            f"cannot reach a Ray head there ({err.strerror or err})") from None
