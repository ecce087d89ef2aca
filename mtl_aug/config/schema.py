"""The typed sections of a config, key for key as configs/default.yaml (which holds the values
and their comments). dataclasses rather than OmegaConf structured configs: the standard library,
no new dependency, and plain attribute access; `typed` checks keys and types against these."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Data:
    manifest_dir: str
    classes: str
    sample_rate: int
    max_train_seconds: float | None
    batch_size: int
    num_workers: int
    cache_audio: bool
    unlabelled: str | list[str] | None
    unlabelled_batch_size: int
    styles: list[str] | None
    balance_corpora: bool

    @property
    def unlabelled_parts(self) -> list[str]:
        """The unlabelled manifests' names: `a+b` and [a, b] alike; none for null."""
        value = self.unlabelled
        names = value if isinstance(value, list) else value.split("+") if value else []
        return [n.strip() for n in names]


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
    gradient_clip: float | None
    accelerator: str
    devices: str | int
    strategy: str
    precision: str | int
    run_dir: str
    limit_train_batches: int | float | None
    deterministic: bool


@dataclass(frozen=True)
class Baseline:
    svm: bool
    c: list[float]


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
    baseline: Baseline

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)
