"""Whether a recording holds speech at all: Silero VAD (a trained voice-activity detector whose
TorchScript model ships inside the silero-vad wheel; loaded from disk, no network) or, where
Silero hears none, a voiced stretch (a pitch track, as an F0 tracker finds one), since Silero
misses quiet, low-pitched speech (sad speech most); and the energy rules they replaced, kept
for the comparison in reporting/vad_bench.py.

`predict`, the HTTP API and the page answer "no speech found" instead of an emotion when
`speech_found` says no: a model trained on emotional speech gives some emotion to anything."""

from __future__ import annotations

import functools
import importlib.util
import threading
from pathlib import Path

import numpy as np
import torch
import torchaudio

from ..errors import ConfigError
from .audio import resample_file

SR = 16000  # Silero VAD's rate; other rates are resampled
CHUNK = 512  # Silero VAD judges 32 ms chunks at 16 kHz
THRESHOLD = 0.5  # a chunk is speech at this probability or above (Silero's own default)
MIN_SPEECH = 0.16  # seconds of speech chunks (5 chunks) a recording needs to hold speech
NO_SPEECH = "no speech found"

# the voicing test (YIN's cumulative mean normalised difference, de Cheveigne & Kawahara 2002)
VOICING_SR = 4000  # Hz: below 2 kHz the harmonics of a voice; tones above it are gone
VOICING_FRAME = 160  # 40 ms at VOICING_SR: two periods of the lowest F0
VOICING_HOP = 40  # 10 ms
F0_RANGE = (50.0, 500.0)  # Hz: a voice's fundamental; a frame whose period is shorter is not
APERIODICITY = 0.2  # a frame is voiced where the difference function dips below this
VOICED_RUN = 0.2  # seconds of consecutive voiced frames a recording needs (a stressed vowel)
F0_SPREAD = 0.25  # at most this std. of log F0 along that run: a voice's pitch glides, hum jumps
LOUD_VOICED = 0.5  # at least this share of the frames within 10 dB of the loudest voiced
VOICED_FLOOR_DB = -55.0  # dBFS: quieter frames are not judged
VOICED_RANGE_DB = 30.0  # nor frames this far below the loudest

FRAME = 0.025  # seconds: the energy rules' frame
SILENT_DBFS = -60.0  # energy rule: speech needs a frame louder than this
SPREAD_DB = 18.0  # energy rule with modulation: loud (90th pct.) minus quiet (10th pct.) frames

_lock = threading.Lock()  # the model keeps a recurrent state between chunks


@functools.cache
def silero() -> torch.jit.ScriptModule:
    """Silero VAD's TorchScript model, from the installed package's files. Found without
    importing the package, whose import sets torch's thread count for the whole process."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or spec.origin is None:
        raise ConfigError("speech detection needs the silero-vad package: pip install silero-vad")
    path = Path(spec.origin).parent / "data" / "silero_vad.jit"
    return torch.jit.load(str(path), map_location="cpu").eval()


def speech_probs(wave: torch.Tensor, sr: int) -> torch.Tensor:
    """(ceil(L' / CHUNK),) Silero's speech probability of each 32 ms chunk of `wave` (L,)."""
    if sr != SR:
        wave = torchaudio.functional.resample(wave, sr, SR)
    # one thread: the model runs chunk by chunk, and more threads only wait on each other
    # (0.013 against 0.05 CPU seconds per second of audio on 2 cores); read, set and restored
    # under the lock, so concurrent callers cannot leave the process on one thread
    with _lock, torch.no_grad():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return silero().audio_forward(wave.float()[None], SR)[0]
        finally:
            torch.set_num_threads(threads)


def speech_seconds(wave: torch.Tensor, sr: int) -> float:
    """Seconds of `wave` that Silero VAD judges speech."""
    return int((speech_probs(wave, sr) >= THRESHOLD).sum()) * CHUNK / SR


def silero_found(wave: torch.Tensor, sr: int) -> bool:
    """Whether Silero VAD hears at least MIN_SPEECH seconds of speech in `wave` (L,)."""
    return speech_seconds(wave, sr) >= MIN_SPEECH


def speech_found(wave: torch.Tensor, sr: int) -> bool:
    """Whether `wave` (L,) holds speech: Silero VAD hears some (silero_found), or, where it
    does not, the audio has a voiced stretch (voice_found). docs/speech_check.md: the choice."""
    return silero_found(wave, sr) or voice_found(wave, sr)


def pitch_periods(wave: torch.Tensor, sr: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per 10 ms frame of `wave` (L,): its level in dBFS and its period in samples at VOICING_SR
    (0 where no period within F0_RANGE dips below APERIODICITY): YIN's first dip, searched
    from 1 ms up, so that a sound with an F0 above the range is not taken at a multiple of its
    period."""
    x = resample_file(wave.float(), sr, VOICING_SR)  # its kernel built once per rate pair
    longest = int(VOICING_SR / F0_RANGE[0])
    n = (len(x) - VOICING_FRAME - longest) // VOICING_HOP + 1
    if n <= 0:
        return torch.zeros(0), torch.zeros(0, dtype=torch.long)
    frames = x.unfold(0, VOICING_FRAME + longest, VOICING_HOP)[:n]
    head = frames[:, :VOICING_FRAME]
    diff = torch.stack(
        [(head - frames[:, t : t + VOICING_FRAME]).pow(2).sum(1) for t in range(1, longest + 1)],
        1,
    )  # (n, longest): the difference function at lags 1 .. longest
    lags = torch.arange(1, longest + 1)
    cmnd = diff * lags / (diff.cumsum(1) + 1e-12)
    first = int(VOICING_SR / 1000)  # 1 ms
    below = cmnd[:, first - 1 :] < APERIODICITY
    period = below.float().argmax(1) + first
    shortest = int(np.ceil(VOICING_SR / F0_RANGE[1]))
    period = torch.where(below.any(1) & (period >= shortest), period, 0)
    db = 10 * torch.log10(head.pow(2).mean(1) + 1e-12)
    return db, period


def voice_found(wave: torch.Tensor, sr: int) -> bool:
    """Whether `wave` (L,) has a voiced stretch: VOICED_RUN seconds of consecutive voiced frames
    (pitch_periods, among those at most VOICED_RANGE_DB below the loudest and above
    VOICED_FLOOR_DB) whose pitch glides (F0_SPREAD), and the loudest frames mostly voiced
    (LOUD_VOICED), as in speech, where the vowels are the loud part; not in hum or clatter."""
    db, period = pitch_periods(wave, sr)
    if len(db) == 0:
        return False
    voiced = (period > 0) & (db >= VOICED_FLOOR_DB) & (db >= db.max() - VOICED_RANGE_DB)
    if voiced[db >= db.max() - 10].float().mean() < LOUD_VOICED:
        return False
    edges = torch.diff(torch.cat([torch.zeros(1), voiced.float(), torch.zeros(1)])).nonzero()[:, 0]
    if len(edges) == 0:
        return False
    starts, ends = edges[::2], edges[1::2]
    i = int((ends - starts).argmax())
    if (ends[i] - starts[i]) * VOICING_HOP < VOICED_RUN * VOICING_SR:
        return False
    return float(period[starts[i] : ends[i]].float().log().std()) <= F0_SPREAD


def frame_db(wave: torch.Tensor, sr: int) -> torch.Tensor:
    """(frames,) power of each FRAME-second frame of `wave` in dBFS."""
    n = int(FRAME * sr)
    frames = wave[: max(1, len(wave) // n) * n]
    power = torch.nn.functional.pad(frames, (0, -len(frames) % n)).view(-1, n).pow(2).mean(1)
    return 10 * torch.log10(power + 1e-12)


def energy_found(wave: torch.Tensor, sr: int) -> bool:
    """The energy rule `predict` used before: some frame louder than SILENT_DBFS."""
    return bool(frame_db(wave, sr).max() >= SILENT_DBFS)


def modulation_found(wave: torch.Tensor, sr: int) -> bool:
    """An energy rule that also asks for speech's syllabic ups and downs: some frame louder than
    SILENT_DBFS, and the loud frames (90th percentile) SPREAD_DB above the quiet ones (10th)."""
    db = frame_db(wave, sr)
    spread = torch.quantile(db, 0.9) - torch.quantile(db, 0.1)
    return bool(db.max() >= SILENT_DBFS and spread >= SPREAD_DB)
