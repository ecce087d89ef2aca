"""configs/ on disk: the base, overlays by name, `key=value` overrides, class sets; loading
merges them in order into a checked `Config`, and saving writes the plain tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .schema import Config
from .typed import build, flat, merge
from .validate import validate

# inside the package: a plain install has it
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    with open(path) as f:
        try:
            data = yaml.safe_load(f) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def default_config() -> dict:
    """configs/default.yaml as it is: every key, at its default."""
    return _read_yaml(CONFIG_DIR / "default.yaml")


# Overlays that became the defaults, and what gives their runs now.
RETIRED = {
    "portable": "its setting is the default config now: leave it out "
    "(`--config speaker` gives the former defaults)",
    "stl_portable": "its setting is `stl` under the current defaults",
}


def resolve_config_path(name: str) -> Path:
    """A path as given, or a name under configs/ (``stl`` -> configs/variant/stl.yaml)."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        return path if path.is_file() or path.is_absolute() else CONFIG_DIR / path
    for sub in ("variant", "corpus", ""):
        candidate = CONFIG_DIR / sub / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    if name in RETIRED:
        raise ConfigError(f"there is no config '{name}' any more: {RETIRED[name]}")
    raise ConfigError(f"no config named '{name}' (looked in {CONFIG_DIR}/variant and /corpus)")


def parse_override(text: str) -> dict:
    """``train.lr=0.01`` -> {"train": {"lr": 0.01}} (value parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' is not of the form key.sub=value")
    key, value = text.split("=", 1)
    out: dict[str, Any] = {}
    node = out
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    try:
        node[parts[-1]] = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ConfigError(f"override '{text}': the value is not valid YAML ({exc})") from exc
    return out


def load_config(
    corpus: str | None = None,
    overlays: list[str] = (),
    overrides: list[str] = (),
    seed: int | None = None,
) -> Config:
    """Base config, then the corpus overlay (if one exists), then `overlays`, then `key=value`s.
    The variant (the name of the run folders) joins, sorted, the `variant` of every overlay
    that names one, the default's own name left out (`stl` and `speaker` -> `speaker_stl`):
    two sets of overlays differ in name unless they hold the same ones."""
    tree = default_config()
    default_variant = tree["variant"]
    if corpus:
        corpus_file = CONFIG_DIR / "corpus" / f"{corpus}.yaml"
        if corpus_file.is_file():
            tree = merge(tree, _read_yaml(corpus_file), str(corpus_file))
        tree["corpus"] = corpus
    names, named = set(), {}
    for name in overlays:
        path = resolve_config_path(name)
        overlay = _read_yaml(path)
        tree = merge(tree, overlay, str(path))
        if "variant" in overlay:
            names.add(tree["variant"])
            _check_no_conflict(named, overlay, name)
    names -= {default_variant}
    if names:
        tree["variant"] = "_".join(sorted(names))
    for text in overrides:
        tree = merge(tree, parse_override(text), f"override '{text}'")
    if seed is not None:
        tree["seed"] = int(seed)
    cfg = build(tree, "config")
    validate(cfg)
    return cfg


def _check_no_conflict(named: dict, overlay: dict, name: str) -> None:
    """Overlays that name a variant make the run folder's name whatever their order: two of them
    setting one key to different values would make that name stand for two configs."""
    for key, value in flat(overlay).items():
        if key == "variant":
            continue
        if key in named and named[key][1] != value:
            other, theirs = named[key]
            raise ConfigError(
                f"overlays '{other}' and '{name}' both set {key} ({theirs!r}, {value!r}); the run "
                "folder's name cannot say which wins: leave one of them out"
            )
        named[key] = (name, value)


def load_class_sets() -> dict:
    return _read_yaml(CONFIG_DIR / "classes.yaml")


def save_config(cfg: Config, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        yaml.safe_dump(cfg.to_dict(), f, sort_keys=False)
