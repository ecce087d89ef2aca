"""Audio loading (soundfile), mono + resampling to 16 kHz, and batch-level log-mel features."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
import pandas as pd
import soundfile as sf
import torch
import torchaudio
from torch import nn

from ..config import Features
from ..errors import DataError
from .level import median_level


def load_audio(
    path: str | Path | BinaryIO, sample_rate: int = 16000, start: int = 0, stop: int | None = None
) -> torch.Tensor:
    """Mono float32 waveform (samples,) at `sample_rate`; a clear error names a bad file.
    `start`/`stop` (in the file's own samples) read only that span. `path` may also be an open
    binary file (an upload), named in errors by its `name` attribute; a missing file as such."""
    name = getattr(path, "name", "upload") if hasattr(path, "read") else path
    try:
        source = path if hasattr(path, "read") else str(path)
        data, sr = sf.read(source, dtype="float32", always_2d=True, start=start, stop=stop)
    except Exception as exc:
        if not hasattr(path, "read") and not Path(path).is_file():  # only once reading failed
            raise DataError(f"{name}: file not found") from None
        raise DataError(f"{name}: cannot read audio ({exc})") from exc
    if data.shape[0] == 0:
        raise DataError(f"{name}: empty audio")
    wave = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
    if not torch.isfinite(wave).all():
        raise DataError(f"{name}: NaN or infinite samples")
    if sr != sample_rate:
        wave = resample_file(wave, sr, sample_rate)
    return wave


# torchaudio's sinc resampler holds (new / g) x (orig / g) taps, g = gcd: 70,560 for 44.1 ->
# 16 kHz, 97.7 million for TESS's 24,414 Hz, where applying it took 0.15-0.4 s a file
SOXR_ABOVE = 1_000_000


def resample_file(wave: torch.Tensor, orig: int, new: int) -> torch.Tensor:
    """A file's audio at `new` Hz: torchaudio's sinc resampling, as speed perturbation uses;
    for a rate pair whose kernel would exceed SOXR_ABOVE taps, soxr's HQ resampler (a
    librosa dependency; about 1 ms a TESS word; correlation 0.9998 with torchaudio's output).
    The rates of EMODB, URDU, TurEV-DB, EMOVO and LibriSpeech (16, 44.1, 48 kHz) stay on
    torchaudio."""
    g = math.gcd(orig, new)
    if (orig // g) * (new // g) <= SOXR_ABOVE:
        return resampler(orig, new, wave.dtype)(wave)
    import soxr

    return torch.from_numpy(soxr.resample(wave.numpy(), orig, new, "HQ")).to(wave.dtype)


@functools.lru_cache(maxsize=None)
def resampler(orig: int, new: int, dtype: torch.dtype) -> torchaudio.transforms.Resample:
    """One per rate pair, so its sinc kernel is built once, not on every item (speed
    perturbation) or file; its output equals torchaudio.functional.resample's bit for bit."""
    return torchaudio.transforms.Resample(orig, new, dtype=dtype)


def pad_batch(waves: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, L) zero-padded batch and the (B,) lengths."""
    lengths = torch.tensor([len(w) for w in waves], dtype=torch.long)
    out = torch.zeros(len(waves), int(lengths.max()))
    for i, w in enumerate(waves):
        out[i, : len(w)] = w
    return out, lengths


def frame_mask(lengths: torch.Tensor, total: int) -> torch.Tensor:
    """(B, T) True on valid frames."""
    return torch.arange(total, device=lengths.device)[None, :] < lengths[:, None]


def speech_frames(feats: torch.Tensor, valid: torch.Tensor, silence: float) -> torch.Tensor:
    """(B, T) True on the valid frames of log-mel `feats` (B, F, T) whose total power is within
    `silence` (natural-log units) of the utterance's loudest valid frame."""
    energy = torch.logsumexp(feats, dim=1)  # (B, T) log total power
    peak = energy.masked_fill(~valid, float("-inf")).amax(1, keepdim=True)
    return valid & (energy >= peak - silence)


def speech_span(speech: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) first speech frame and (B,) the frame after the last one, of the (B, T) mask `speech`:
    what trimming keeps."""
    t = torch.arange(speech.shape[-1], device=speech.device)
    return torch.where(speech, t, speech.shape[-1]).amin(1), torch.where(speech, t, -1).amax(1) + 1


def masked_moments(feats: torch.Tensor, use: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's mean and (population) variance (B, F, 1) of `feats` (B, F, T) over the frames
    `use` (B, T) marks."""
    w = use[:, None, :].to(feats.dtype)
    count = w.sum(-1, keepdim=True).clamp(min=1)
    mean = (feats * w).sum(-1, keepdim=True) / count
    return mean, (((feats - mean) * w) ** 2).sum(-1, keepdim=True) / count


def utterance_normalised(feats: torch.Tensor, use: torch.Tensor) -> torch.Tensor:
    """`feats` (B, F, T) normalised by each utterance's mean and std per mel bin over the
    frames `use` (B, T) marks."""
    mean, var = masked_moments(feats, use)
    return (feats - mean) / (var.sqrt() + 1e-5)


class LogMel(nn.Module):
    """Padded waveforms (B, L) -> normalised log-mel (B, F, T), zero on padding frames.

    Padding is zeros and STFT framing pads with zeros too, so an utterance's valid frames
    do not depend on how much it was padded in its batch.

    With `silence_db`, a frame whose total mel power is more than that many dB below the
    utterance's loudest frame counts as silence: normalisation statistics (utterance, speaker
    and corpus alike) are taken over the other, speech frames only, and with `trim` the
    leading and trailing silence is cut off (the utterance then starts at its first speech
    frame). Both act on the features, so training, evaluation, noise tests and `predict` treat
    silence the same way, whatever was added to the audio before.

    It owns the normalisation (`normalise`: utterance, speaker or corpus) and computes its
    statistics: `fit` the training set's (corpus normalisation; speaker normalisation of a file
    whose speaker is unknown), `item_stats` each item's speaker's (speaker normalisation).
    The checkpoint keeps the training set's statistics as the buffers `mean` and `std`."""

    def __init__(
        self,
        sample_rate: int,
        n_mels: int,
        n_fft: int,
        hop_length: int,
        f_min: float,
        f_max: float,
        normalise: str = "utterance",
        silence_db: float | None = None,
        trim: bool = False,
    ):
        super().__init__()
        self.hop = hop_length
        self.normalise = normalise
        self.silence = (
            None if silence_db is None else silence_db * math.log(10) / 10
        )  # in natural-log units
        self.trim = trim
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            f_min=f_min,
            f_max=min(f_max, sample_rate / 2),
            n_mels=n_mels,
            center=True,
            pad_mode="constant",
        )
        self.register_buffer("mean", torch.zeros(n_mels))
        self.register_buffer("std", torch.ones(n_mels))
        # the training set's median active level (dBFS, data/level.py); NaN until `fit`
        self.register_buffer("level", torch.tensor(float("nan")))

    @classmethod
    def from_config(cls, f: Features, sample_rate: int) -> "LogMel":
        return cls(
            sample_rate,
            f.n_mels,
            f.n_fft,
            f.hop_length,
            f.f_min,
            f.f_max,
            f.normalise,
            f.silence_db,
            f.trim_silence,
        )

    def frames(self, lengths: torch.Tensor) -> torch.Tensor:
        return lengths // self.hop + 1

    def raw(
        self, waves: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Un-normalised log-mel (B, F, T), valid frame counts (B,) and the (B, T) mask of the
        frames that the statistics use (every valid frame, or the speech frames)."""
        feats = torch.log(self.mel(waves) + 1e-6)
        n = self.frames(lengths).clamp(max=feats.shape[-1])
        valid = frame_mask(n, feats.shape[-1])
        if self.silence is None:
            return feats, n, valid
        speech = speech_frames(feats, valid, self.silence)
        if self.trim:
            t = torch.arange(feats.shape[-1], device=feats.device)
            start, end = speech_span(speech)
            n = end - start
            idx = (t[None, : int(n.max())] + start[:, None]).clamp(max=feats.shape[-1] - 1)
            feats = feats.gather(2, idx[:, None, :].expand(-1, feats.shape[1], -1))
            speech = speech.gather(1, idx) & frame_mask(n, idx.shape[1])
        return feats, n, speech

    @property
    def per_speaker(self) -> bool:
        """Whether `forward` needs each item's speaker statistics."""
        return self.normalise == "speaker"

    def fit(self, wave: Callable[[int], torch.Tensor], n: int) -> None:
        """The training set's statistics over its n items (`wave(i)`), kept where this
        normalisation uses them, and its median active level (data/level.py)."""
        waves = [wave(i) for i in range(n)]
        self.level.fill_(median_level(waves))
        if self.normalise != "utterance":
            mean, std = self.stats(waves)
            self.mean.copy_(mean)
            self.std.copy_(std.clamp(min=1e-3))

    def training_stats(self, n: int) -> torch.Tensor:
        """(n, 2, F): the training set's statistics for n items of unknown speakers."""
        return torch.stack([self.mean, self.std]).expand(n, -1, -1)

    @property
    def has_corpus_stats(self) -> bool:
        """Whether training set the corpus statistics (log-mel means are far below zero)."""
        return bool(self.mean.abs().sum() > 0)

    @torch.no_grad()
    def stats(self, waves: list[torch.Tensor], batch: int = 16) -> torch.Tensor:
        """(2, F): mean and std per mel bin of the un-normalised features
        over the statistics frames (see `raw`) of `waves` (a training set for `corpus`, one
        speaker's utterances for `speaker`)."""
        total, sq, count = 0.0, 0.0, 0
        for start in range(0, len(waves), batch):
            padded, lengths = pad_batch(waves[start : start + batch])
            feats, _, use = self.raw(padded.to(self.mean.device), lengths.to(self.mean.device))
            mask = use[:, None, :]
            total = total + (feats * mask).sum((0, 2))
            sq = sq + (feats**2 * mask).sum((0, 2))
            count += int(use.sum())
        mean = total / count
        return torch.stack([mean, (sq / count - mean**2).clamp(min=1e-6).sqrt()]).cpu()

    def speaker_stats(
        self,
        speakers: list[str],
        wave: Callable[[int], torch.Tensor],
        per_speaker: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Each speaker's `stats` over its items (`wave(i)` for the positions i where
        `speakers[i]` is that speaker; only the first `per_speaker` of them, if given)."""
        groups = pd.Series(range(len(speakers))).groupby(list(speakers)).indices
        return {s: self.stats([wave(i) for i in idx[:per_speaker]]) for s, idx in groups.items()}

    def item_stats(
        self, speakers: list[str], wave: Callable[[int], torch.Tensor]
    ) -> torch.Tensor | None:
        """(N, 2, F): each item's speaker's statistics over all of that speaker's items here,
        for a per-speaker normalisation; None for the others (they need none)."""
        if not self.per_speaker:
            return None
        per = self.speaker_stats(speakers, wave)
        return torch.stack([per[s] for s in speakers])

    def forward(
        self, waves: torch.Tensor, lengths: torch.Tensor, stats: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`stats` (B, 2, F): each item's speaker's statistics, needed when normalise = speaker;
        normalise = corpus uses the training set's `mean` and `std`."""
        feats, n, use = self.raw(waves, lengths)
        if self.normalise == "utterance":
            feats = utterance_normalised(feats, use)
        elif self.normalise == "speaker":
            if stats is None:
                raise ValueError("features.normalise=speaker needs per-item speaker statistics")
            feats = (feats - stats[:, 0, :, None]) / stats[:, 1, :, None].clamp(min=1e-3)
        else:
            feats = (feats - self.mean[None, :, None]) / self.std[None, :, None]
        return feats * frame_mask(n, feats.shape[-1])[:, None, :], n
