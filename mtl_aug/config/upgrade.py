"""Configs saved by earlier versions (checkpoints, run folders) as complete current configs, or
refused, naming the option, where they used one that has since been removed."""

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

# Any value: a setting read only by a removed choice (train.scheduler=plateau's), inert otherwise.
ANY = object()

# Options measured and not adopted (docs/results.md, "What was tried"), since removed, with the
# value that left each off. A saved config holding one at that value (as every config written
# while it existed did unless it was switched on) loads without it and computes what it
# computed; one that switched it on trained what this version cannot build, and is refused.
REMOVED = {
    ("features", "corpus_stats"): "pooled",
    ("features", "lone_prob"): 0.0,
    ("features", "prosody"): False,
    ("model", "functionals"): False,
    ("train", "plateau_factor"): ANY,
    ("train", "plateau_patience"): ANY,
}

# Choices removed from options that stay.
REMOVED_CHOICES = {("train", "scheduler"): ("plateau",)}


def _section(tree: dict, sections: list[str]) -> dict | None:
    node = tree
    for section in sections:
        node = node.get(section) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _refused(where: str, key: tuple[str, ...], value) -> ConfigError:
    shown = str(value).lower() if isinstance(value, bool) else value
    return ConfigError(
        f"{where}: {'.'.join(key)}={shown} was removed from this version (measured and not "
        "adopted, docs/results.md), so what was trained with it cannot be loaded here"
    )


def _drop_removed(tree: dict, where: str) -> None:
    """Take the REMOVED keys out of `tree` (in place); a config that used one is refused."""
    for (*sections, key), choices in REMOVED_CHOICES.items():
        node = _section(tree, sections)
        if node is not None and key in node and node[key] in choices:
            raise _refused(where, (*sections, key), node[key])
    for (*sections, key), off in REMOVED.items():
        node = _section(tree, sections)
        if node is None or key not in node:
            continue
        value = node.pop(key)
        if off is not ANY and value != off:
            raise _refused(where, (*sections, key), value)


def upgrade(saved: dict, where: str = "a saved config") -> Config:
    """A config saved by this or an earlier version (a checkpoint's, a run folder's config.yaml)
    as a complete current `Config`; one that used a REMOVED option is a ConfigError naming it."""
    if not isinstance(saved, dict):
        raise ConfigError(f"{where}: not a config (a mapping of sections)")
    tree = copy.deepcopy(saved)
    _drop_removed(tree, where)
    for (*sections, key), value in LEGACY.items():
        node = tree
        for section in sections:
            node = node.setdefault(section, {}) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.setdefault(key, value)
    return build(merge(default_config(), tree, where), where)
