"""Corruption of training audio: room reverberation and background noise at a random SNR,
per item and seeded. It is not one of the paper's four augmentation types and not a target
of the augmentation classifier: it is applied beneath them, so that the model meets the
recording conditions of other corpora. Noise: coloured noise (white to brown, from
audiomentations) and real recordings from `corrupt.noise_dirs` (for example a LibriSpeech
folder, as competing speech). Keep the noise you evaluate with out of it."""

from __future__ import annotations

import random

import numpy as np
import torch
from audiomentations import AddColorNoise
from scipy.signal import fftconvolve

from ..config import Corrupt as CorruptConfig
from ..errors import DataError
from .mixing import NoiseBank, mix_at_snr


def synthetic_rir(rt60: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A room impulse response: the direct path, then Gaussian reflections decaying by 60 dB
    over `rt60` seconds (the usual statistical model of a diffuse reverberant tail)."""
    t = np.arange(int(rt60 * sample_rate)) / sample_rate
    tail = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)
    tail[: int(0.002 * sample_rate)] = 0.0  # the first reflections arrive after the direct path
    rir = np.concatenate([[1.0], 0.3 * tail / np.sqrt(np.sum(tail**2) + 1e-12)])
    return rir.astype(np.float32)


class Corruptor:
    """`corruptor(wave, seed)`: the corrupted waveform (same length), a function of `seed`.

    Reverberation first (a room), then noise (in the room's air): coloured noise at an SNR
    over the whole item (audiomentations' definition), or, half of the time when
    `noise_dirs` are given, a segment of a real recording at an SNR over the active speech
    (mixing.mix_at_snr, the noise protocol's definition)."""

    def __init__(self, c: CorruptConfig, seed: int, sample_rate: int):
        self.sr, self.noise_prob, self.reverb_prob = sample_rate, c.noise_prob, c.reverb_prob
        self.rt60, self.snr = c.rt60, c.snr_db
        self.colour = AddColorNoise(min_snr_db=self.snr[0], max_snr_db=self.snr[1], p=1.0)
        try:
            self.banks = [NoiseBank(d, seed, sample_rate) for d in c.noise_dirs]
        except DataError as exc:
            raise DataError(f"corrupt.noise_dirs: {exc}") from exc

    def __call__(self, wave: torch.Tensor, seed: int) -> torch.Tensor:
        rng = np.random.default_rng([seed, 2718])
        x = wave.numpy()
        if rng.random() < self.reverb_prob:
            rms = np.sqrt(np.mean(x**2)) + 1e-12
            x = fftconvolve(x, synthetic_rir(rng.uniform(*self.rt60), self.sr, rng))[: len(x)]
            x = (x * rms / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)
        if rng.random() < self.noise_prob:
            if self.banks and rng.random() < 0.5:
                bank = self.banks[int(rng.integers(len(self.banks)))]
                noise = bank.segment(int(rng.integers(2**62)), len(x))
                return mix_at_snr(
                    torch.from_numpy(np.ascontiguousarray(x)), noise, rng.uniform(*self.snr)
                ).float()
            # audiomentations draws from the global generators: seeded here, restored after
            state = random.getstate(), np.random.get_state()
            random.seed(int(rng.integers(2**32)))
            np.random.seed(int(rng.integers(2**32)))
            try:
                x = self.colour(
                    samples=np.ascontiguousarray(x, dtype=np.float32), sample_rate=self.sr
                )
            finally:
                random.setstate(state[0])
                np.random.set_state(state[1])
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
