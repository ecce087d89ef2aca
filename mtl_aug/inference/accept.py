"""What inference takes as input: one rule for `mtl-aug predict` and the HTTP API (`serve`).

A file is refused, from its header before it is decoded, when it is empty, not audio libsndfile
reads, at a sample rate outside SAMPLE_RATES (resampling from an odd rate costs memory out of
proportion to the file), with more than MAX_CHANNELS channels, or (serve only) longer than the
server's limit; after decoding, when it has NaN or infinite samples or lasts under MIN_SECONDS.
`predict` reports a refused file as it reports an unreadable one (skipped, named, counted); the
API answers it with a 4xx status and the same sentence."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import soundfile as sf
import torch

from ..data.audio import load_audio
from ..errors import DataError

FORMATS = ("wav", "flac", "ogg", "mp3")  # what libsndfile (>= 1.1) decodes
SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000)
MAX_CHANNELS = 2
MIN_SECONDS = 0.1  # shorter audio is refused; predict.file_warning flags audio under 0.25 s


class Refused(DataError):
    """Audio that inference does not take. `kind` names the rule (the API's status follows it):
    empty, unreadable, format (rate or channels), long, corrupt (NaN samples), short."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


def accepted() -> dict:
    """The rules, for the API's /metadata and the web page."""
    return {
        "formats": list(FORMATS),
        "sample_rates": list(SAMPLE_RATES),
        "max_channels": MAX_CHANNELS,
        "min_seconds": MIN_SECONDS,
    }


def _size(source: Path | BinaryIO) -> int:
    if isinstance(source, io.BytesIO):
        return source.getbuffer().nbytes
    return Path(source).stat().st_size


def read_accepted(
    source: Path | BinaryIO, name: str, sample_rate: int, max_seconds: float | None = None
) -> torch.Tensor:
    """The mono waveform (samples,) at `sample_rate` of an audio file (a path, or the bytes of
    an upload), or Refused naming `name` and the rule it breaks."""
    try:
        empty = _size(source) == 0
    except OSError as exc:  # e.g. a link to a file that is gone
        raise Refused(f"{name}: not readable ({type(exc).__name__})", "unreadable") from None
    if empty:
        raise Refused(f"{name}: the file is empty (0 bytes)", "empty")
    try:
        info = sf.info(source if isinstance(source, io.BytesIO) else str(source))
    except Exception:  # soundfile raises several types for data that is not audio
        raise Refused(
            f"{name}: not audio that can be read ({', '.join(FORMATS)})", "unreadable"
        ) from None
    if info.samplerate <= 0 or info.frames <= 0:
        raise Refused(f"{name}: the audio has no samples", "empty")
    if info.samplerate not in SAMPLE_RATES:
        raise Refused(
            f"{name}: audio at {info.samplerate} Hz; accepted: "
            f"{', '.join(map(str, SAMPLE_RATES))} Hz (convert it to one of these, e.g. 16000)",
            "format",
        )
    if info.channels > MAX_CHANNELS:
        raise Refused(
            f"{name}: {info.channels} channels; at most {MAX_CHANNELS} are accepted", "format"
        )
    seconds = info.frames / info.samplerate
    if max_seconds is not None and seconds > max_seconds:
        raise Refused(
            f"{name}: {seconds:.1f} s of audio, over the limit of {max_seconds:g} s", "long"
        )
    if isinstance(source, io.BytesIO):
        source.seek(0)
        source.name = name  # load_audio names an open file by it
    try:
        wave = load_audio(source, sample_rate)
    except DataError as exc:
        raise Refused(str(exc), "corrupt") from None
    if len(wave) < MIN_SECONDS * sample_rate:
        raise Refused(
            f"{name}: {len(wave) / sample_rate:.3f} s of audio, under the {MIN_SECONDS:g} s needed",
            "short",
        )
    return wave
