"""Whether a recording holds speech at all: Silero VAD (a trained voice-activity detector whose
TorchScript model ships inside the silero-vad wheel; loaded from disk, no network), and the
energy rules it replaced, kept for the comparison in reporting/vad_bench.py.

`predict`, the HTTP API and the page answer "no speech found" instead of an emotion when
`speech_found` says no: a model trained on emotional speech gives some emotion to anything."""

from __future__ import annotations

import functools
import importlib.util
import threading
from pathlib import Path

import torch
import torchaudio

from ..errors import ConfigError

SR = 16000  # Silero VAD's rate; other rates are resampled
CHUNK = 512  # Silero VAD judges 32 ms chunks at 16 kHz
THRESHOLD = 0.5  # a chunk is speech at this probability or above (Silero's own default)
MIN_SPEECH = 0.16  # seconds of speech chunks (5 chunks) a recording needs to hold speech
NO_SPEECH = "no speech found"

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


def speech_found(wave: torch.Tensor, sr: int) -> bool:
    """Whether `wave` (L,) holds at least MIN_SPEECH seconds of speech (Silero VAD)."""
    return speech_seconds(wave, sr) >= MIN_SPEECH


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
