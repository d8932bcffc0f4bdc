"""The experiment config: typed sections, defaults, YAML loading and `--set key=value` overrides.

A config file is the source of truth; the CLI only overrides it. Every key is checked: an unknown
key, a wrong type or a bad value is one `SpecError` naming the file, the dotted field and the
value, raised before Ray starts. docs/config.md lists every key (`python -m nas.config_doc`).

Like `nas.schema`, this package imports none of nas/'s rooms: every room may import it.
"""

from nas.config.confirm import CONFIRM_SEED_BASE, ConfirmConfig
from nas.config.grid import GridConfig
from nas.config.loading import (
    apply_override,
    check_reachable,
    config_path,
    load_config,
    without_address,
)
from nas.config.search import CONFIG_VERSION, SearchConfig
from nas.config.sections import (
    BudgetConfig,
    ControllerConfig,
    EarlyStoppingConfig,
    LatencyConfig,
    ObjectiveConfig,
    ResourcesConfig,
)
from nas.config.tracking import TRACKING_BACKENDS, tracking_backends

__all__ = ["CONFIG_VERSION", "CONFIRM_SEED_BASE", "TRACKING_BACKENDS", "BudgetConfig",
           "ConfirmConfig", "ControllerConfig", "EarlyStoppingConfig", "GridConfig",
           "LatencyConfig", "ObjectiveConfig", "ResourcesConfig", "SearchConfig",
           "apply_override", "check_reachable", "config_path", "load_config",
           "tracking_backends", "without_address"]
