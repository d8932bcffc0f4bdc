"""Connecting to Ray: a private local instance on loopback, or an existing cluster.

Facts behind this (measured on Ray 2.60, see shared/reference/ray_on_these_machines.md):
Ray binds a local instance to the machine's interface address unless
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 is set, and a head started with `ray start --head` requires
token authentication, which a driver only presents with RAY_AUTH_MODE=token.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _token_available() -> bool:
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return True
    return (Path.home() / ".ray" / "auth_token").is_file()


def connection_env(address: str | None) -> dict[str, str]:
    """Environment variables the driver needs for `address` (None = local on loopback)."""
    env = {"RAY_USAGE_STATS_ENABLED": "0"}
    host = address.rpartition(":")[0] if address else "127.0.0.1"
    if host in LOOPBACK_HOSTS:
        env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if address and _token_available():
        # `ray start --head` saved a token; present it so the user need not set anything
        env["RAY_AUTH_MODE"] = "token"
    return env


def _apply_env(env: dict[str, str]) -> None:
    """Set the variables; if Ray was imported before us, make it see them (it caches both)."""
    for key, value in env.items():
        os.environ.setdefault(key, value)
    if "ray" not in sys.modules:
        return
    from ray._private import ray_constants
    from ray._raylet import Config

    ray_constants.ENABLE_RAY_CLUSTER = (
        os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "1") != "0")
    Config.initialize("")  # what Ray itself does after turning token auth on


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None,
                num_gpus: int | None = None) -> Iterator[None]:
    """Use the Ray already initialised in this process, or start/connect one and stop it after.

    No `address`: always a private Ray on loopback, whatever clusters run on the machine."""
    import logging

    import ray

    if ray.is_initialized():
        yield
        return
    _apply_env(connection_env(address))
    if address:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    else:  # private, on loopback: Ray's notice about token authentication is noise here
        logging.getLogger("ray._private.authentication").setLevel(logging.ERROR)
        # "local": a new private instance. With no address, Ray would instead attach to a
        # cluster named by RAY_ADDRESS or by the address file `ray start` leaves in its temp
        # dir (and wait for minutes when that cluster has died).
        ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False,
                 log_to_driver=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()
