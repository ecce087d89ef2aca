"""Configs: one complete base (configs/default.yaml) plus small overlays merged on top, loaded
into typed, frozen sections (`Config`), so that a typo or a wrong type fails on load and each
module is handed the section it reads. Checkpoints and run folders store the plain tree
(`Config.to_dict`); `upgrade` turns an older one into a complete current config
(or refuses one that used a removed option)."""

from .files import (
    CONFIG_DIR,
    default_config,
    load_class_sets,
    load_config,
    parse_override,
    resolve_config_path,
    save_config,
)
from .schema import Augment, Baseline, Config, Corrupt, Data, Features, Loss, Model, Train, Weights
from .typed import build, flat, merge
from .upgrade import LEGACY, REMOVED, REMOVED_CHOICES, upgrade
from .validate import require_network, validate

__all__ = [
    "CONFIG_DIR",
    "LEGACY",
    "REMOVED",
    "REMOVED_CHOICES",
    "Augment",
    "Baseline",
    "Config",
    "Corrupt",
    "Data",
    "Features",
    "Loss",
    "Model",
    "Train",
    "Weights",
    "build",
    "default_config",
    "flat",
    "load_class_sets",
    "load_config",
    "merge",
    "parse_override",
    "resolve_config_path",
    "save_config",
    "upgrade",
    "require_network",
    "validate",
]
