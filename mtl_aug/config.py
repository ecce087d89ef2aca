"""Configs: one complete base (configs/default.yaml) plus small overlays merged on top."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

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


def merge(base: dict, overlay: dict, source: str, prefix: str = "") -> dict:
    """Deep-merge `overlay` into a copy of `base`; keys unknown to `base` are an error."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        name = f"{prefix}{key}"
        if key not in base:
            raise ConfigError(f"{source}: unknown config key '{name}'")
        if isinstance(base[key], dict) and isinstance(value, dict):
            out[key] = merge(base[key], value, source, prefix=f"{name}.")
        else:
            out[key] = _typed(base[key], value, f"{source}: '{name}'")
    return out


def _typed(default: Any, value: Any, where: str) -> Any:
    """`value` checked against the type of the base config's `default` (None = free). YAML 1.1
    reads 1e-3 as a string, so numeric strings become floats where a number is expected."""
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, (int, float)):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and isinstance(default, float):
            value = float(value)
    elif isinstance(default, str):
        ok = isinstance(value, (str, int)) and not isinstance(value, bool)   # devices: 4, precision: 16
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(f"{where} expects a {type(default).__name__} like {default!r}, got {value!r}")
    return value


def resolve_config_path(name: str) -> Path:
    """A path as given, or a name under configs/ (``stl`` -> configs/variant/stl.yaml)."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        return path if path.is_file() or path.is_absolute() else CONFIG_DIR / path
    for sub in ("variant", "corpus", ""):
        candidate = CONFIG_DIR / sub / f"{name}.yaml"
        if candidate.is_file():
            return candidate
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


def load_config(corpus: str | None = None, overlays: list[str] = (), overrides: list[str] = (),
                seed: int | None = None) -> dict:
    """Base config, then the corpus overlay (if one exists), then `overlays`, then `key=value`s."""
    cfg = default_config()
    if corpus:
        corpus_file = CONFIG_DIR / "corpus" / f"{corpus}.yaml"
        if corpus_file.is_file():
            cfg = merge(cfg, _read_yaml(corpus_file), str(corpus_file))
        cfg["corpus"] = corpus
    for name in overlays:
        path = resolve_config_path(name)
        cfg = merge(cfg, _read_yaml(path), str(path))
    for text in overrides:
        cfg = merge(cfg, parse_override(text), f"override '{text}'")
    if seed is not None:
        cfg["seed"] = int(seed)
    validate(cfg)
    return cfg


def validate(cfg: dict) -> None:
    if set(cfg["loss"]["weights"]) != {"ce", "center", "recon", "aug", "speaker"}:
        raise ConfigError("loss.weights must have exactly the keys ce, center, recon, aug, speaker")
    aug = cfg["augment"]
    if len(aug["probs"]) != 4 or abs(sum(aug["probs"]) - 1.0) > 1e-6 or min(aug["probs"]) < 0:
        raise ConfigError("augment.probs must be 4 non-negative numbers summing to 1 "
                          "(none, speed, SpecAugment, mixup)")
    for section, keys, least in (
            ("model", ("cnn_channels", "freq_pool", "time_pool", "frame_dim", "lstm_hidden", "attention_dim",
                       "embedding_dim"), 1),
            ("data", ("batch_size", "unlabelled_batch_size"), 1), ("train", ("max_epochs",), 1),
            ("data", ("num_workers",), 0), ("augment", ("freq_masks", "time_masks", "freq_mask_width"), 0)):
        for key in keys:
            value = cfg[section][key]
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= least for v in values):
                lists = " (a non-empty list of them for channels and pools)" if section == "model" else ""
                raise ConfigError(f"{section}.{key} must be {'a positive' if least else 'a non-negative'} "
                                  f"integer{lists}, got {value!r}")
    for key, ok, wanted in (
            ("augment.mixup_alpha", lambda v: _number(v) and v > 0, "a positive number (the Beta distribution's alpha)"),
            ("augment.speed_factors", lambda v: isinstance(v, list) and v and all(_number(x) and x > 0 for x in v),
             "a non-empty list of positive numbers"),
            ("augment.time_mask_fraction", lambda v: _number(v) and 0 <= v <= 1, "a fraction from 0 to 1"),
            ("train.lr", lambda v: _number(v) and v > 0, "a positive number"),
            ("data.max_train_seconds", lambda v: v is None or (_number(v) and v > 0), "null or a positive number"),
            ("loss.weights", lambda v: all(_number(x) and x >= 0 for x in v.values()) and v["ce"] > 0,
             "non-negative, with ce above 0 (the emotion loss)"),
            ("train.patience", lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v > 0),
             "null (no early stopping) or a positive integer"),
            ("features.silence_db", lambda v: v is None or (_number(v) and v > 0), "null or a positive number of dB"),
            ("features.lone_prob", lambda v: _number(v) and 0 <= v <= 1, "a probability from 0 to 1"),
            ("corrupt.noise_prob", lambda v: _number(v) and 0 <= v <= 1, "a probability from 0 to 1"),
            ("corrupt.reverb_prob", lambda v: _number(v) and 0 <= v <= 1, "a probability from 0 to 1"),
            ("corrupt.snr_db", lambda v: _range(v), "two numbers [low, high] in dB"),
            ("corrupt.rt60", lambda v: _range(v) and v[0] > 0, "two positive numbers [low, high] in seconds"),
            ("corrupt.noise_dirs", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
             "a list of folders"),
            ("data.styles", lambda v: v is None or (isinstance(v, list) and all(isinstance(x, str) for x in v)),
             "null or a list such as [improvised]")):
        section, name = key.split(".")
        value = cfg[section][name]
        if not ok(value):
            raise ConfigError(f"{key} must be {wanted}, got {value!r}")
    m = cfg["model"]
    if not (len(m["cnn_channels"]) == len(m["freq_pool"]) == len(m["time_pool"])):
        raise ConfigError("model.cnn_channels, model.freq_pool and model.time_pool need equal lengths")
    n_mels, fpool = cfg["features"]["n_mels"], 1
    for p in m["freq_pool"]:
        fpool *= p
    if n_mels % fpool:
        raise ConfigError(f"features.n_mels={n_mels} must be divisible by the product of "
                          f"model.freq_pool ({fpool})")
    if aug["freq_mask_width"] >= n_mels:
        raise ConfigError(f"augment.freq_mask_width={aug['freq_mask_width']} must be below features.n_mels={n_mels}")
    if cfg["features"]["normalise"] not in ("utterance", "speaker", "corpus"):
        raise ConfigError("features.normalise must be 'utterance', 'speaker' or 'corpus'")
    if str(cfg["train"]["precision"]) in ("16-true", "bf16-true"):
        raise ConfigError(f"train.precision={cfg['train']['precision']} casts the whole model, the log-mel's FFT "
                          "included, to half precision, which torch's FFT does not support: use 16-mixed (GPU) "
                          "or bf16-mixed")
    if cfg["features"]["lone_prob"] and cfg["features"]["normalise"] != "speaker":
        raise ConfigError("features.lone_prob swaps speaker statistics for the training set's: it needs "
                          f"features.normalise=speaker, not {cfg['features']['normalise']}")
    if cfg["features"]["trim_silence"] and cfg["features"]["silence_db"] is None:
        raise ConfigError("features.trim_silence needs features.silence_db (how far below the loudest frame "
                          "silence starts, e.g. 40)")
    if cfg["train"]["scheduler"] not in ("onecycle", "plateau", "none"):
        raise ConfigError("train.scheduler must be 'onecycle', 'plateau' or 'none'")
    if cfg["train"]["select"] not in ("last", "best"):
        raise ConfigError("train.select must be 'last' (the final model) or 'best' (best validation UAR)")


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _range(v) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(_number(x) for x in v) and v[0] <= v[1]


def load_class_sets() -> dict:
    return _read_yaml(CONFIG_DIR / "classes.yaml")


def save_config(cfg: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
