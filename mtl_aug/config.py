"""Configs: one complete base (configs/default.yaml) plus small overlays merged on top, loaded
into typed, frozen sections (`Config`), so that a typo or a wrong type fails on load and each
module is handed the section it reads. Checkpoints and run folders store the plain tree
(`Config.to_dict`); `upgrade` turns an older one into a complete current config."""

from __future__ import annotations

import copy
import dataclasses
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from .errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


# The sections, key for key as configs/default.yaml (which holds the values and their comments).
# dataclasses rather than OmegaConf structured configs: the standard library, no new dependency,
# and plain attribute access; the loader below checks keys and types against these annotations.


@dataclass(frozen=True)
class Data:
    manifest_dir: str
    classes: str
    sample_rate: int
    max_train_seconds: float | None
    batch_size: int
    num_workers: int
    cache_audio: bool
    unlabelled: str | None
    unlabelled_batch_size: int
    styles: list[str] | None


@dataclass(frozen=True)
class Features:
    n_mels: int
    n_fft: int
    hop_length: int
    f_min: float
    f_max: float
    normalise: str
    silence_db: float | None
    trim_silence: bool
    lone_prob: float
    prosody: bool


@dataclass(frozen=True)
class Augment:
    probs: list[float]
    speed_factors: list[float]
    freq_masks: int
    freq_mask_width: int
    time_masks: int
    time_mask_fraction: float
    mixup_alpha: float


@dataclass(frozen=True)
class Corrupt:
    noise_prob: float
    reverb_prob: float
    snr_db: list[float]
    rt60: list[float]
    noise_dirs: list[str]


@dataclass(frozen=True)
class Model:
    cnn_channels: list[int]
    freq_pool: list[int]
    time_pool: list[int]
    frame_dim: int
    lstm_hidden: int
    attention_dim: int
    embedding_dim: int
    dropout: float
    deltas: bool
    pool_before_norm: bool
    centre_embedding: bool
    decoder_refine: bool
    functionals: bool


@dataclass(frozen=True)
class Weights:
    ce: float
    center: float
    recon: float
    aug: float
    speaker: float


@dataclass(frozen=True)
class Loss:
    weights: Weights
    class_balanced: bool


@dataclass(frozen=True)
class Train:
    max_epochs: int
    lr: float
    weight_decay: float
    scheduler: str
    select: str
    patience: int | None
    plateau_factor: float
    plateau_patience: int
    gradient_clip: float | None
    accelerator: str
    devices: str | int
    strategy: str
    precision: str | int
    run_dir: str
    limit_train_batches: int | float | None
    deterministic: bool


@dataclass(frozen=True)
class Config:
    seed: int
    corpus: str
    variant: str
    results_dir: str
    data: Data
    features: Features
    augment: Augment
    corrupt: Corrupt
    model: Model
    loss: Loss
    train: Train

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)


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


def _fields(cls) -> dict:
    return get_type_hints(cls)


def merge(base: dict, overlay: dict, source: str, schema: type = Config, prefix: str = "") -> dict:
    """Deep-merge `overlay` into a copy of `base`; a key that `schema` lacks or a value of the
    wrong type is an error naming `source` and the key."""
    out = copy.deepcopy(base)
    fields = _fields(schema)
    for key, value in overlay.items():
        name = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(f"{source}: unknown config key '{name}'")
        kind = fields[key]
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{source}: '{name}' is a section (keys {', '.join(_fields(kind))}), got "
                    f"{value!r}"
                )
            out[key] = merge(base[key], value, source, kind, prefix=f"{name}.")
        else:
            try:
                out[key] = _typed(kind, value, f"{source}: '{name}'")
            except ConfigError as exc:
                default = "" if base[key] is None else f" (the default: {base[key]!r})"
                raise ConfigError(f"{exc}{default}") from None
    return out


def _typed(kind: Any, value: Any, where: str) -> Any:
    """`value` as the annotation `kind` wants it, or a ConfigError. YAML 1.1 reads 1e-3 as a
    string, so numeric strings become floats where a float is expected; ints become floats there."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is not type(None):
                try:
                    return _typed(option, value, where)
                except ConfigError:
                    pass
        raise ConfigError(f"{where} expects {_name(kind)}, got {value!r}")
    if origin is list:
        if isinstance(value, list):
            try:
                return [_typed(get_args(kind)[0], v, where) for v in value]
            except ConfigError:
                pass
        raise ConfigError(f"{where} expects {_name(kind)}, got {value!r}")
    if kind is float and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: number,
        str: isinstance(value, str),
    }[kind]
    if not ok:
        raise ConfigError(f"{where} expects {_name(kind)}, got {value!r}")
    return float(value) if kind is float else value


def _name(kind: Any) -> str:
    if get_origin(kind) in (Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _name(a) for a in get_args(kind))
    if get_origin(kind) is list:
        return f"a list of {get_args(kind)[0].__name__}"
    return f"an {kind.__name__}" if kind.__name__[0] in "aeiou" else f"a {kind.__name__}"


def build(tree: dict, where: str, schema: type = Config, prefix: str = ""):
    """The typed sections of a complete config tree; a missing or unknown key names `where`."""
    fields = _fields(schema)
    if not isinstance(tree, dict):
        raise ConfigError(
            f"{where}: '{prefix.rstrip('.')}' is a section (keys {', '.join(fields)}), got {tree!r}"
        )
    missing = [f"{prefix}{k}" for k in fields if k not in tree]
    unknown = [f"{prefix}{k}" for k in tree if k not in fields]
    if missing or unknown:
        raise ConfigError(
            f"{where}: "
            + "; ".join(
                ([f"lacks {', '.join(missing)}"] if missing else [])
                + ([f"unknown {', '.join(unknown)}"] if unknown else [])
            )
        )
    values = {}
    for key, kind in fields.items():
        if dataclasses.is_dataclass(kind):
            values[key] = build(tree[key], where, kind, f"{prefix}{key}.")
        else:
            values[key] = _typed(kind, tree[key], f"{where}: '{prefix}{key}'")
    return schema(**values)


# Options added after the first checkpoints, with the value that reproduces what the code did
# before each (where that differs from default.yaml). Every other key an older config lacks
# takes its default.yaml value, which for those options is the old behaviour.
LEGACY = {
    ("model", "deltas"): False,
    ("model", "pool_before_norm"): False,
    ("model", "centre_embedding"): False,
    ("model", "decoder_refine"): True,
    ("loss", "class_balanced"): False,
    ("train", "select"): "best",
}


def upgrade(saved: dict, where: str = "a saved config") -> Config:
    """A config saved by this or an earlier version (a checkpoint's, a run folder's config.yaml)
    as a complete current `Config`."""
    if not isinstance(saved, dict):
        raise ConfigError(f"{where}: not a config (a mapping of sections)")
    tree = copy.deepcopy(saved)
    for (section, key), value in LEGACY.items():
        node = tree.setdefault(section, {})
        if isinstance(node, dict):
            node.setdefault(key, value)
    return build(merge(default_config(), tree, where), where)


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


def load_config(
    corpus: str | None = None,
    overlays: list[str] = (),
    overrides: list[str] = (),
    seed: int | None = None,
) -> Config:
    """Base config, then the corpus overlay (if one exists), then `overlays`, then `key=value`s."""
    tree = default_config()
    if corpus:
        corpus_file = CONFIG_DIR / "corpus" / f"{corpus}.yaml"
        if corpus_file.is_file():
            tree = merge(tree, _read_yaml(corpus_file), str(corpus_file))
        tree["corpus"] = corpus
    for name in overlays:
        path = resolve_config_path(name)
        tree = merge(tree, _read_yaml(path), str(path))
    for text in overrides:
        tree = merge(tree, parse_override(text), f"override '{text}'")
    if seed is not None:
        tree["seed"] = int(seed)
    cfg = build(tree, "config")
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """The checks that types alone do not make: ranges, lengths that must agree, choices."""
    aug, m, f, t = cfg.augment, cfg.model, cfg.features, cfg.train
    if len(aug.probs) != 4 or abs(sum(aug.probs) - 1.0) > 1e-6 or min(aug.probs) < 0:
        raise ConfigError(
            "augment.probs must be 4 non-negative numbers summing to 1 "
            "(none, speed, SpecAugment, mixup)"
        )
    for section, keys, least in (
        (
            "model",
            (
                "cnn_channels",
                "freq_pool",
                "time_pool",
                "frame_dim",
                "lstm_hidden",
                "attention_dim",
                "embedding_dim",
            ),
            1,
        ),
        ("data", ("batch_size", "unlabelled_batch_size"), 1),
        ("train", ("max_epochs",), 1),
        ("data", ("num_workers",), 0),
        ("augment", ("freq_masks", "time_masks", "freq_mask_width"), 0),
    ):
        for key in keys:
            value = getattr(getattr(cfg, section), key)
            values = value if isinstance(value, list) else [value]
            if not values or min(values) < least:
                lists = (
                    " (a non-empty list of them for channels and pools)"
                    if section == "model"
                    else ""
                )
                raise ConfigError(
                    f"{section}.{key} must be {'a positive' if least else 'a non-negative'} "
                    f"integer{lists}, got {value!r}"
                )
    w = cfg.loss.weights
    for key, ok, wanted in (
        (
            "augment.mixup_alpha",
            aug.mixup_alpha > 0,
            "a positive number (the Beta distribution's alpha)",
        ),
        (
            "augment.speed_factors",
            aug.speed_factors and min(aug.speed_factors) > 0,
            "a non-empty list of positive numbers",
        ),
        ("augment.time_mask_fraction", 0 <= aug.time_mask_fraction <= 1, "a fraction from 0 to 1"),
        ("train.lr", t.lr > 0, "a positive number"),
        (
            "data.max_train_seconds",
            cfg.data.max_train_seconds is None or cfg.data.max_train_seconds > 0,
            "null or a positive number",
        ),
        (
            "loss.weights",
            min(dataclasses.astuple(w)) >= 0 and w.ce > 0,
            "non-negative, with ce above 0 (the emotion loss)",
        ),
        (
            "train.patience",
            t.patience is None or t.patience > 0,
            "null (no early stopping) or a positive integer",
        ),
        (
            "features.silence_db",
            f.silence_db is None or f.silence_db > 0,
            "null or a positive number of dB",
        ),
        ("features.lone_prob", 0 <= f.lone_prob <= 1, "a probability from 0 to 1"),
        ("corrupt.noise_prob", 0 <= cfg.corrupt.noise_prob <= 1, "a probability from 0 to 1"),
        ("corrupt.reverb_prob", 0 <= cfg.corrupt.reverb_prob <= 1, "a probability from 0 to 1"),
        ("corrupt.snr_db", _range(cfg.corrupt.snr_db), "two numbers [low, high] in dB"),
        (
            "corrupt.rt60",
            _range(cfg.corrupt.rt60) and cfg.corrupt.rt60[0] > 0,
            "two positive numbers [low, high] in seconds",
        ),
    ):
        if not ok:
            section, name = key.split(".")
            raise ConfigError(
                f"{key} must be {wanted}, got {getattr(getattr(cfg, section), name)!r}"
            )
    if not (len(m.cnn_channels) == len(m.freq_pool) == len(m.time_pool)):
        raise ConfigError(
            "model.cnn_channels, model.freq_pool and model.time_pool need equal lengths"
        )
    fpool = 1
    for p in m.freq_pool:
        fpool *= p
    if f.n_mels % fpool:
        raise ConfigError(
            f"features.n_mels={f.n_mels} must be divisible by the product of "
            f"model.freq_pool ({fpool})"
        )
    if aug.freq_mask_width >= f.n_mels:
        raise ConfigError(
            f"augment.freq_mask_width={aug.freq_mask_width} must be below "
            f"features.n_mels={f.n_mels}"
        )
    if f.normalise not in ("utterance", "speaker", "corpus"):
        raise ConfigError("features.normalise must be 'utterance', 'speaker' or 'corpus'")
    if str(t.precision) in ("16-true", "bf16-true"):
        raise ConfigError(
            f"train.precision={t.precision} casts the whole model, the log-mel's FFT "
            "included, to half precision, which torch's FFT does not support: use 16-mixed (GPU) "
            "or bf16-mixed"
        )
    if f.lone_prob and f.normalise != "speaker":
        raise ConfigError(
            "features.lone_prob swaps speaker statistics for the training set's: it needs "
            f"features.normalise=speaker, not {f.normalise}"
        )
    if f.trim_silence and f.silence_db is None:
        raise ConfigError(
            "features.trim_silence needs features.silence_db (how far below the loudest frame "
            "silence starts, e.g. 40)"
        )
    if t.scheduler not in ("onecycle", "plateau", "none"):
        raise ConfigError("train.scheduler must be 'onecycle', 'plateau' or 'none'")
    if t.select not in ("last", "best"):
        raise ConfigError(
            "train.select must be 'last' (the final model) or 'best' (best validation UAR)"
        )


def _range(v: list[float]) -> bool:
    return len(v) == 2 and v[0] <= v[1]


def load_class_sets() -> dict:
    return _read_yaml(CONFIG_DIR / "classes.yaml")


def save_config(cfg: Config, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        yaml.safe_dump(cfg.to_dict(), f, sort_keys=False)
