"""Mixing speech with noise at a given SNR, reproducibly from a seed: the noise protocol's
test mixtures and the training corruption's real-noise source."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

from ..errors import DataError
from .manifest import Report, audio_files, inspect_audio

log = logging.getLogger(__name__)


FRAME = 320  # 20 ms at 16 kHz
ACTIVE_DB = 40.0  # frames within 40 dB of the loudest frame count as active speech


def active_power(speech: torch.Tensor) -> float:
    """Mean power over the active frames of `speech` (those within ACTIVE_DB of the loudest)."""
    n = max(1, len(speech) // FRAME)
    frames = speech[: n * FRAME].reshape(n, -1) if len(speech) >= FRAME else speech[None]
    energy = frames.pow(2).mean(1)
    active = energy >= energy.max() * 10 ** (-ACTIVE_DB / 10)
    return float(energy[active].mean())


def mix_at_snr(speech: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    """speech + noise scaled so that active speech power / noise power = `snr_db`."""
    p_noise = float(noise.pow(2).mean())
    if p_noise == 0:
        raise DataError("a noise segment is digital silence; it cannot set an SNR")
    scale = (active_power(speech) / (p_noise * 10 ** (snr_db / 10))) ** 0.5
    return speech + scale * noise


class NoiseBank:
    """Noise recordings under a folder (DEMAND's <ENV>/chNN.wav or any audio files). For an
    utterance key, the recording and the offset are drawn from (seed, key), so the same command
    builds the same mixtures; only the needed segment is read from disk."""

    def __init__(self, root: str | Path, seed: int, sample_rate: int = 16000):
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"noise folder {root} does not exist")
        candidates = audio_files(root)
        self.report = Report(root.name)
        checked = [
            (p, inspect_audio(p, self.report)) for p in candidates
        ]  # bad files: skipped, counted
        self.files = [p for p, ok in checked if ok]
        if not self.files:
            raise DataError(
                f"no usable audio files under {root}: expected DEMAND's <ENV>/chNN.wav or "
                f"noise recordings" + (f"\n{self.report.summary()}" if self.report.skipped else "")
            )
        if self.report.skipped:
            log.info(
                f"noise folder {root}: {len(self.files)} recordings used, {self.report.summary()}"
            )
        self.info = [sf.info(str(p)) for p in self.files]
        self.seed, self.sr = seed, sample_rate

    def with_seed(self, seed: int) -> "NoiseBank":
        """The same checked recordings, drawing from another seed (no second pass)."""
        other = copy.copy(self)
        other.seed = seed
        return other

    def segment(self, key: int, length: int) -> torch.Tensor:
        """A noise segment of `length` samples for utterance `key`; a digitally silent draw is
        replaced by the next draw from the same generator."""
        rng = np.random.default_rng([self.seed, key])
        for _ in range(20):
            i = int(rng.integers(len(self.files)))
            info = self.info[i]
            need = int(np.ceil(length * info.samplerate / self.sr)) + 1
            start = int(rng.integers(0, max(1, info.frames - need)))
            data, _ = sf.read(
                str(self.files[i]), start=start, frames=need, dtype="float32", always_2d=True
            )
            seg = torch.from_numpy(data.mean(1))
            if info.samplerate != self.sr:
                seg = torchaudio.functional.resample(seg, info.samplerate, self.sr)
            if len(seg) < length:  # a recording shorter than the utterance is looped
                seg = seg.repeat(length // len(seg) + 1)
            if seg[:length].abs().max() > 0:
                return seg[:length]
        raise DataError(f"20 noise segments in a row were digital silence (last: {self.files[i]})")

    def mixer(self, snr_db: float, keys: list[int]):
        return lambda wave, i: mix_at_snr(wave, self.segment(keys[i], len(wave)), snr_db)
