"""What inference takes as input (inference/accept.py) beyond what test_serve.py's refusals
cover: files cut short, whose header promises more audio than they hold."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from builders import requires_real_data

from mtl_aug.inference.accept import MIN_SECONDS, Refused, read_accepted, truncation

SR = 16000


def _cut(path: Path, keep: int | float, out: Path | None = None) -> Path:
    """A copy of `path` holding only its first `keep` bytes (a fraction: of its size)."""
    data = path.read_bytes()
    n = keep if isinstance(keep, int) else int(len(data) * keep)
    out = out or path.with_name(f"cut_{n}_{path.name}")
    out.write_bytes(data[:n])
    return out


def _write(path: Path, frames: int = 30000, channels: int = 1, **kw) -> Path:
    wave = np.random.default_rng(0).standard_normal((frames, channels)).astype(np.float32) * 0.1
    sf.write(path, wave, SR, **kw)
    return path


@pytest.mark.parametrize(
    "name,kw",
    [
        ("pcm16.wav", {"subtype": "PCM_16"}),
        ("float.wav", {"subtype": "FLOAT"}),  # libsndfile writes fact and PEAK chunks before data
        ("stereo24.wav", {"subtype": "PCM_24", "channels": 2}),
        ("extensible.wav", {"format": "WAVEX", "subtype": "PCM_16"}),  # WAVE_FORMAT_EXTENSIBLE
    ],
)
def test_a_wav_cut_in_half_is_read_with_a_warning_saying_what_is_missing(tmp_path, name, kw):
    channels = kw.pop("channels", 1)
    whole = _write(tmp_path / name, channels=channels, **kw)
    half = _cut(whole, 0.5)
    held = sf.info(str(half)).frames  # libsndfile reads what is there, and says nothing
    assert 14000 < held < 15100
    for source in (half, io.BytesIO(half.read_bytes())):  # a path (predict), an upload (serve)
        assert truncation(source) == (
            f"truncated: the header promises 1.88 s, the file holds {held / SR:.2f} s"
        )
        wave, truncated = read_accepted(source, "half.wav", SR)
        assert len(wave) == held and truncated == truncation(source)  # what predict warns
    for source in (whole, io.BytesIO(whole.read_bytes())):
        assert truncation(source) == ""
        wave, truncated = read_accepted(source, "whole.wav", SR)
        assert len(wave) == 30000 and truncated == ""


def test_a_wav_with_a_chunk_after_its_data_is_whole(tmp_path):
    """Bytes after the data chunk (a LIST chunk of tags) are not audio the header promised."""
    whole = _write(tmp_path / "tagged.wav")
    data = whole.read_bytes() + b"LIST" + (8).to_bytes(4, "little") + b"INFOxxxx"
    whole.write_bytes(data[:4] + (len(data) - 8).to_bytes(4, "little") + data[8:])
    assert truncation(whole) == ""
    assert len(read_accepted(whole, "tagged.wav", SR).wave) == 30000


def test_a_file_cut_to_almost_nothing_is_refused_as_truncated_not_short(tmp_path):
    for name in ("x.wav", "x.flac"):
        cut = _cut(_write(tmp_path / name), 1000)
        with pytest.raises(Refused) as refused:
            read_accepted(cut, str(cut), SR)
        message = str(refused.value)
        assert message.startswith(f"{cut}: truncated: the header promises 1.88 s, the file holds")
        assert message.endswith(f"under the {MIN_SECONDS:g} s needed")
        assert refused.value.kind == "corrupt"
    # a file that is whole but short is still refused as short
    short = _write(tmp_path / "short.wav", frames=480)
    with pytest.raises(Refused, match="0.030 s of audio, under the 0.1 s needed") as refused:
        read_accepted(short, "short.wav", SR)
    assert refused.value.kind == "short" and truncation(short) == ""


def test_a_flac_cut_in_half_is_decoded_as_far_as_it_goes(tmp_path):
    """libsndfile reports STREAMINFO's frame count for a truncated FLAC file and fails on the
    read that reaches past what is there: read_accepted decodes what is there."""
    whole = _write(tmp_path / "x.flac")
    half = _cut(whole, 0.5)
    assert sf.info(str(half)).frames == 30000
    with pytest.raises(sf.LibsndfileError):
        sf.read(str(half))
    for source in (half, io.BytesIO(half.read_bytes())):
        warning = truncation(source)
        assert warning.startswith("truncated: the header promises 1.88 s, the file holds 0.")
        held = float(warning.split("holds ")[1].removesuffix(" s"))
        wave, truncated = read_accepted(source, "half.flac", SR)
        assert truncated == warning
        assert 0.5 < held < 1.0 and abs(len(wave) / SR - held) < 0.01
        reference, _ = sf.read(str(whole), dtype="float32", frames=len(wave))
        np.testing.assert_allclose(wave.numpy(), reference, atol=1e-6)
    assert truncation(whole) == "" and len(read_accepted(whole, "x.flac", SR).wave) == 30000


@requires_real_data
def test_a_real_recording_cut_in_half(real_data, tmp_path):
    path = sorted((real_data / "emodb" / "wav").glob("*.wav"))[0]
    seconds = sf.info(str(path)).duration
    half = _cut(path, 0.5, tmp_path / path.name)
    assert truncation(path) == ""
    assert truncation(half) == (
        f"truncated: the header promises {seconds:.2f} s, "
        f"the file holds {sf.info(str(half)).duration:.2f} s"
    )
    assert len(read_accepted(half, path.name, SR).wave) == sf.info(str(half)).frames
