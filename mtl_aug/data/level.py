"""Recording level: the active level of a waveform, and one gain that moves a group of recordings
(a folder, a held-out corpus) onto the level of the training set.

A model normalised with the training set's statistics (features.normalise = corpus) hears a
corpus recorded 10 dB quieter as if every speaker spoke 10 dB more softly, and answers sad; one
gain for the whole group keeps the differences between its recordings (loudness carries
emotion) and removes only the recording chain's. One file alone cannot be aligned so: its gain
would remove its own loudness (docs/multi_corpus.md)."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import DataError

MIN_ALIGNED = 10  # fewer recordings give a gain that mostly removes their own loudness


def active_level(wave: torch.Tensor, frame: int = 400, floor_db: float = 40.0) -> float:
    """dB full scale of the frames within `floor_db` of the file's loudest 25 ms frame."""
    n = len(wave) // frame
    if n == 0:
        return float(20 * torch.log10(wave.pow(2).mean().sqrt() + 1e-9))
    power = wave[: n * frame].reshape(n, frame).pow(2).mean(-1) + 1e-12
    db = 10 * torch.log10(power)
    return float(10 * torch.log10(power[db >= db.max() - floor_db].mean()))


def median_level(waves: list[torch.Tensor]) -> float:
    """The median active level of `waves` (dBFS)."""
    return float(np.median([active_level(w) for w in waves]))


def require_level(checkpoint: object, reference: float) -> None:
    """A clear error where a checkpoint holds no training level (NaN: written before it was
    stored), naming the command that stores it."""
    if math.isnan(reference):
        raise DataError(
            f"{checkpoint} was trained before its training level was stored, so it cannot align "
            f"a level: python -m mtl_aug.training.store_level {checkpoint} stores it from its "
            "training data"
        )


def align_gain(levels: list[float], reference: float, what: str) -> float:
    """The gain in dB that moves the median of `levels` (the recordings' active levels, dBFS)
    onto `reference`; `what` names the recordings in the error for too few of them."""
    if len(levels) < MIN_ALIGNED:
        raise DataError(
            f"{what}: aligning the level needs at least {MIN_ALIGNED} recordings, got "
            f"{len(levels)} (one gain from so few removes their own loudness, which carries "
            "emotion)"
        )
    return reference - float(np.median(levels))


def scaled(waves: list[torch.Tensor], gain_db: float) -> list[torch.Tensor]:
    """`waves` with one gain of `gain_db` dB."""
    factor = 10 ** (gain_db / 20)
    return [w * factor for w in waves]
