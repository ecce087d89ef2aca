"""How much of the spectrum a recording holds: the telephone path (8 kHz, 300-3400 Hz) that
reporting/telephone.py measures the models on, and the test by which `predict` and the API warn
about band-limited audio (8 kHz files, telephone or codec copies), on which a model trained on
wideband speech loses accuracy (docs/inputs.md)."""

from __future__ import annotations

import numpy as np
import torch
from scipy.signal import butter, sosfilt

from .audio import resample_file

TELEPHONE_SR = 8000
TELEPHONE_BAND = (300.0, 3400.0)  # Hz: the pass band of the telephone network (ITU-T G.712)
SPEECH_BAND = (2000.0, 3200.0)  # Hz: below the edge of any band-limited recording
HIGH_BAND = (4300.0, 6000.0)  # Hz: above any 8 kHz recording's Nyquist frequency
LIMITED_DB = -12.0  # high_band_db below this: band-limited (docs/inputs.md: how it was chosen)
NFFT = 512


def telephone(wave: torch.Tensor, sr: int) -> torch.Tensor:
    """`wave` (L,) as a telephone line carries it: at TELEPHONE_SR Hz, band-passed to
    TELEPHONE_BAND (a 4th-order Butterworth band-pass)."""
    x = resample_file(wave.float(), sr, TELEPHONE_SR).numpy()
    sos = butter(4, TELEPHONE_BAND, btype="bandpass", fs=TELEPHONE_SR, output="sos")
    return torch.from_numpy(sosfilt(sos, x).astype(np.float32))


def high_band_db(wave: torch.Tensor, sr: int) -> float:
    """How far HIGH_BAND reaches up to SPEECH_BAND in the frames that reach furthest, in dB:
    the 90th percentile over the 32 ms frames within 40 dB of the loudest of the power ratio
    of the two bands, for `wave` (L,) at `sr` (at least 16 kHz). Wideband speech has frames
    (its fricatives) at 0 dB or above; in 8 kHz audio, only what resampling leaks is there."""
    if len(wave) < NFFT:
        wave = torch.nn.functional.pad(wave, (0, NFFT - len(wave)))
    spec = torch.stft(
        wave.float(), NFFT, NFFT // 2, window=torch.hann_window(NFFT), return_complex=True
    )
    power = spec.abs().pow(2)  # (NFFT // 2 + 1, frames)
    freqs = torch.arange(len(power)) * sr / NFFT

    def band(lo_hi: tuple[float, float]) -> torch.Tensor:
        return power[(freqs >= lo_hi[0]) & (freqs < lo_hi[1])].sum(0) + 1e-20

    total = power.sum(0) + 1e-20
    loud = total >= total.max() * 1e-4
    ratio = 10 * torch.log10(band(HIGH_BAND) / band(SPEECH_BAND))[loud]
    return float(torch.quantile(ratio, 0.9))


def band_limited(wave: torch.Tensor, sr: int) -> bool:
    """Whether `wave` holds (next to) nothing above 4.3 kHz: 8 kHz or telephone audio. (At a
    rate without HIGH_BAND, as a model of 8 kHz audio reads it, nothing is band-limited.)"""
    return sr / 2 >= HIGH_BAND[1] and high_band_db(wave, sr) < LIMITED_DB
