"""Per-frame prosody rows (log energy, voicing strength, log F0) on the log-mel's frames."""

from __future__ import annotations

import math

import torch
from torch import nn


class Prosody(nn.Module):
    """Per-frame prosody (B, ROWS, T) on the log-mel's frames: log energy, voicing strength and
    log F0, from the autocorrelation of a 40 ms Hann-windowed frame (long enough for two
    periods of 70 Hz), divided by the window's own autocorrelation (Boersma 1993, as Praat).

    The voicing strength is the highest normalised autocorrelation between the lags of
    `f0_max` and `f0_min`, clipped to [0, 1]; F0 is the sample rate over the lag that is best
    after Praat's octave cost (0.01 per octave, favouring the shorter lag). A frame below
    Praat's voicing threshold of 0.45 is unvoiced: its log F0 is the mean over the utterance's
    voiced frames (the range's geometric middle when there are none), so that the row carries
    the contour and the level without unvoiced frames' random lags. `from_power` takes the
    frames' power spectra, so the exported model (a DFT as convolution) computes the same."""

    ROWS = 3
    VOICED = 0.45
    OCTAVE_COST = 0.01

    def __init__(
        self, sample_rate: int, hop_length: int, f0_min: float = 70.0, f0_max: float = 500.0
    ):
        super().__init__()
        self.hop = hop_length
        self.win = int(round(0.04 * sample_rate)) // 2 * 2  # even: frames centred as the log-mel's
        self.n_fft = 2 * self.win  # no circular wrap of the lags
        lags = torch.arange(
            int(sample_rate / f0_max), int(math.ceil(sample_rate / f0_min)) + 1, dtype=torch.float64
        )
        window = torch.hann_window(self.win, periodic=False, dtype=torch.float64)
        own = torch.tensor(
            [float((window[: self.win - int(t)] * window[int(t) :]).sum()) for t in lags]
        )
        k = torch.arange(self.n_fft // 2 + 1, dtype=torch.float64)[:, None]
        weight = torch.full_like(k, 2.0)
        weight[0], weight[-1] = 1.0, 1.0  # irfft: the two real bins once
        cos = (
            weight
            * torch.cos(2 * math.pi * k * torch.cat([torch.zeros(1), lags])[None] / self.n_fft)
            / self.n_fft
        )
        self.register_buffer("window", window.float())
        self.register_buffer("cos", cos.float())  # (K, 1 + lags): power -> r(0), r(lags)
        self.register_buffer("own", (own / (window**2).sum()).float())  # the window's r(lag) / r(0)
        self.register_buffer("log_f0", torch.log(sample_rate / lags).float())
        self.register_buffer("bonus", (self.OCTAVE_COST * torch.log2(lags[-1] / lags)).float())
        self.fallback = 0.5 * math.log(f0_min * f0_max)

    def power(self, waves: torch.Tensor) -> torch.Tensor:
        """(B, K, T) power spectra of the windowed frames (torch.stft; export.py convolves)."""
        spec = torch.stft(
            waves,
            self.n_fft,
            self.hop,
            self.win,
            self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        return spec.real**2 + spec.imag**2

    def from_power(self, power: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(B, ROWS, T) from power spectra (B, K, T); `valid` (B, T) marks the utterance frames."""
        r = torch.einsum("kl,bkt->blt", self.cos, power)  # (B, 1 + lags, T)
        energy = r[:, 0].clamp(min=0)
        rn = r[:, 1:] / (energy[:, None] + 1e-10) / self.own[None, :, None]
        voicing = rn.amax(1).clamp(0, 1)
        log_f0 = self.log_f0[(rn + self.bonus[None, :, None]).argmax(1)]
        voiced = (voicing >= self.VOICED) & valid
        count = voiced.sum(1, keepdim=True)
        mean = torch.where(
            count > 0,
            (log_f0 * voiced).sum(1, keepdim=True) / count.clamp(min=1),
            torch.full_like(count, self.fallback, dtype=log_f0.dtype),
        )
        log_f0 = torch.where(voiced, log_f0, mean)
        return torch.stack([torch.log(energy + 1e-6), voicing, log_f0], 1)

    def forward(self, waves: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        return self.from_power(self.power(waves), valid)
