"""Configs saved by earlier versions (checkpoints, run folders) as complete current configs."""

from __future__ import annotations

import copy

from ..errors import ConfigError
from .files import default_config
from .schema import Config
from .typed import build, merge

# Options added after the first checkpoints, with the value that reproduces what the code did
# before each (where that differs from default.yaml, now or after a change of default). Every
# other key an older config lacks takes its default.yaml value, which for those options is the
# old behaviour.
LEGACY = {
    ("model", "deltas"): False,
    ("model", "pool_before_norm"): False,
    ("model", "centre_embedding"): False,
    ("model", "decoder_refine"): True,
    ("loss", "class_balanced"): False,
    ("train", "select"): "best",
    ("features", "silence_db"): None,
    ("features", "trim_silence"): False,
    ("corrupt", "noise_prob"): 0.0,
    ("corrupt", "reverb_prob"): 0.0,
    ("loss", "weights", "speaker"): 0.0,
}


def upgrade(saved: dict, where: str = "a saved config") -> Config:
    """A config saved by this or an earlier version (a checkpoint's, a run folder's config.yaml)
    as a complete current `Config`."""
    if not isinstance(saved, dict):
        raise ConfigError(f"{where}: not a config (a mapping of sections)")
    tree = copy.deepcopy(saved)
    for (*sections, key), value in LEGACY.items():
        node = tree
        for section in sections:
            node = node.setdefault(section, {}) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.setdefault(key, value)
    return build(merge(default_config(), tree, where), where)
