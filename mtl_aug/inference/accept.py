"""What inference takes as input: one rule for `mtl-aug predict` and the HTTP API (`serve`).

A file is refused, from its header before it is decoded, when it is empty, not audio libsndfile
reads, at a sample rate outside SAMPLE_RATES (resampling from an odd rate costs memory out of
proportion to the file), with more than MAX_CHANNELS channels, or (serve only) longer than the
server's limit; after decoding, when it has NaN or infinite samples or lasts under MIN_SECONDS.
`predict` reports a refused file as it reports an unreadable one (skipped, named, counted); the
API answers it with a 4xx status and the same sentence.

A truncated WAV or FLAC file (its header promises more audio than the file holds: a download or
a copy cut short) is read as far as it goes, and read_accepted returns what is missing (the
sentence `truncation` gives for a file on its own), the warning that `predict` and the API give
it. With under MIN_SECONDS left it is refused, as truncated."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import BinaryIO, NamedTuple

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
    empty, unreadable, format (rate or channels), long, corrupt (NaN samples, or truncated with
    under MIN_SECONDS left), short."""

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


def _wav_frames(f: BinaryIO) -> tuple[int, int, int] | None:
    """(frames the data chunk declares, whole frames the file holds after the chunk's start,
    sample rate) of a RIFF WAVE file; None for other files and for sizes that promise nothing
    (0 and 0xFFFFFFFF, which streaming writers leave; RF64 keeps its sizes elsewhere)."""
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    rate = align = 0
    while len(chunk := f.read(8)) == 8:
        tag, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if tag == b"fmt ":
            fmt = f.read(size)
            if len(fmt) < 14:
                return None
            # format, channels, frames a second, bytes a second, bytes a frame (all channels)
            rate, align = struct.unpack("<4xI4xH", fmt[:14])
            f.seek(size % 2, io.SEEK_CUR)
        elif tag == b"data":
            if not (rate and align) or size in (0, 0xFFFFFFFF):
                return None
            start = f.tell()
            present = f.seek(0, io.SEEK_END) - start
            return size // align, min(size, present) // align, rate
        else:
            f.seek(size + size % 2, io.SEEK_CUR)  # chunks are padded to an even size
    return None


def _flac_frames(source: Path | io.BytesIO) -> tuple[int, int, int] | None:
    """(frames STREAMINFO declares, frames that decode, sample rate) of a FLAC file whose last
    declared frame does not decode (libsndfile reports the declared count, and a read that
    reaches past what the file holds fails); None when it decodes. The frames that decode are
    counted by reading on in steps of 4096 frames, then of 256 from the last good one (to within
    256 frames: each failed read costs tens of milliseconds)."""

    def opened() -> sf.SoundFile:
        if isinstance(source, io.BytesIO):
            source.seek(0)
            return sf.SoundFile(source)
        return sf.SoundFile(str(source))

    with opened() as f:
        declared, rate = f.frames, f.samplerate
        try:
            f.seek(declared - 1)
            if len(f.read(1)) == 1:
                return None
        except Exception:  # soundfile raises LibsndfileError, RuntimeError, ...
            pass
    good, step = 0, 4096
    while step >= 256:
        try:
            with opened() as f:
                f.seek(good)
                while good < declared and len(block := f.read(step, dtype="float32")):
                    good += len(block)
            break
        except Exception:
            step //= 16
    return declared, good, rate


def _cut(source: Path | BinaryIO) -> tuple[int, int, int] | None:
    """(frames the header promises, frames the file holds, sample rate) of a truncated WAV or
    FLAC file; None for a whole file, another format, or one whose header cannot be read."""
    try:
        if isinstance(source, io.BytesIO):
            source.seek(0)
            magic = source.read(4)
            source.seek(0)
            frames = _wav_frames(source) if magic == b"RIFF" else None
        else:
            with open(source, "rb") as f:
                magic = f.read(4)
                f.seek(0)
                frames = _wav_frames(f) if magic == b"RIFF" else None
        if magic == b"fLaC":
            frames = _flac_frames(source)
    except Exception:  # unreadable: read_accepted says so
        frames = None
    finally:
        if isinstance(source, io.BytesIO):
            source.seek(0)
    return frames if frames is not None and frames[1] < frames[0] else None


def _cut_sentence(promised: int, held: int, rate: int) -> str:
    a, b = f"{promised / rate:.2f}", f"{held / rate:.2f}"
    if a == b:  # a few frames missing
        a, b = f"{promised / rate:.4f}", f"{held / rate:.4f}"
    return f"truncated: the header promises {a} s, the file holds {b} s"


def truncation(source: Path | BinaryIO) -> str:
    """'', or the warning for a WAV or FLAC file (a path, or the bytes of an upload) whose header
    promises more audio than the file holds, e.g. "truncated: the header promises 1.88 s, the
    file holds 0.94 s". read_accepted reads such a file as far as it goes (and refuses it with
    under MIN_SECONDS left). Cheap: the header of a WAV file; for FLAC a seek to the last frame
    (the frames left are counted only in a truncated file)."""
    cut = _cut(source)
    return "" if cut is None else _cut_sentence(*cut)


class Accepted(NamedTuple):
    wave: torch.Tensor  # (samples,) mono at the sample rate asked for
    truncated: str  # '' or the warning of a file cut short (`truncation`'s sentence)


def read_accepted(
    source: Path | BinaryIO, name: str, sample_rate: int, max_seconds: float | None = None
) -> Accepted:
    """The mono waveform of an audio file (a path, or the bytes of an upload) and the warning
    if it is truncated, or Refused naming `name` and the rule it breaks."""
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
    cut = _cut(source)  # a truncated file is read as far as it goes
    if cut is not None and cut[1] < MIN_SECONDS * cut[2]:
        raise Refused(
            f"{name}: {_cut_sentence(*cut)}, under the {MIN_SECONDS:g} s needed", "corrupt"
        )
    if isinstance(source, io.BytesIO):
        source.seek(0)
        source.name = name  # load_audio names an open file by it
    try:
        wave = load_audio(source, sample_rate, stop=None if cut is None else cut[1])
    except DataError as exc:
        raise Refused(str(exc), "corrupt") from None
    if len(wave) < MIN_SECONDS * sample_rate:
        raise Refused(
            f"{name}: {len(wave) / sample_rate:.3f} s of audio, under the {MIN_SECONDS:g} s needed",
            "short",
        )
    return Accepted(wave, "" if cut is None else _cut_sentence(*cut))
