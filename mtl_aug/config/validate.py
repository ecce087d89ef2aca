"""The checks that types alone do not make: ranges, lengths that must agree, choices."""

from __future__ import annotations

import dataclasses

from ..errors import ConfigError
from .schema import Config


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
    if cfg.baseline.svm and f.normalise == "utterance":
        raise ConfigError(
            "baseline.svm needs features.normalise=speaker or corpus: one utterance's "
            "functionals have no statistics of their own to normalise with"
        )
    if not cfg.baseline.c or min(cfg.baseline.c) <= 0:
        raise ConfigError(f"baseline.c must be positive numbers, got {cfg.baseline.c!r}")
    parts = cfg.data.unlabelled_parts
    if cfg.data.unlabelled is not None and (
        not parts or not all(parts) or len(set(parts)) < len(parts)
    ):
        raise ConfigError(
            "data.unlabelled must name each manifest once (`a+b` or a list [a, b]), got "
            f"{cfg.data.unlabelled!r}"
        )
    if f.trim_silence and f.silence_db is None:
        raise ConfigError(
            "features.trim_silence needs features.silence_db (how far below the loudest frame "
            "silence starts, e.g. 40)"
        )
    if t.scheduler not in ("onecycle", "none"):
        raise ConfigError(f"train.scheduler must be 'onecycle' or 'none', got {t.scheduler!r}")
    if t.select not in ("last", "best"):
        raise ConfigError(
            "train.select must be 'last' (the final model) or 'best' (best validation UAR)"
        )


def _range(v: list[float]) -> bool:
    return len(v) == 2 and v[0] <= v[1]


def require_network(cfg: Config, what: str) -> None:
    """`what` (a command or protocol) trains or evaluates the network: the SVM baseline's config
    is an error there, before any compute, not a missing checkpoint later."""
    if cfg.baseline.svm:
        raise ConfigError(
            f"{what} needs the network, and '{cfg.variant}' is the SVM baseline (baseline.svm): "
            "the baseline runs with loso, eval-cross, eval-loco and eval-fusion"
        )
