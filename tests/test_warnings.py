"""What `predict` says beside an emotion it gives: band-limited audio (8 kHz, telephone) and
files whose header promises more than they hold, on real files with the shipped model."""

from __future__ import annotations

import soundfile as sf
import torch
import torchaudio
from builders import requires_real_data

from mtl_aug.data import band
from mtl_aug.data.audio import load_audio
from mtl_aug.inference.predict import predict_files
from mtl_aug.inference.shipped import SHIPPED

SR = 16000


def test_the_telephone_band_is_told_from_wideband_audio():
    g = torch.Generator().manual_seed(0)
    wide = torch.randn(2 * SR, generator=g) * 0.1
    assert not band.band_limited(wide, SR)
    phone = band.telephone(wide, SR)
    assert len(phone) == 2 * band.TELEPHONE_SR
    # as the models read 8 kHz audio: resampled to 16 kHz, as load_audio does
    assert band.band_limited(torchaudio.functional.resample(phone, band.TELEPHONE_SR, SR), SR)


@requires_real_data
def test_predict_warns_about_telephone_audio_and_truncated_files(real_data, tmp_path):
    original = real_data / "emodb" / "wav" / "03a01Wa.wav"  # angry, 1.9 s
    wave = load_audio(original)
    phone = tmp_path / "phone.wav"
    sf.write(phone, band.telephone(wave, SR).numpy(), band.TELEPHONE_SR)
    eight = tmp_path / "eight_khz.wav"  # an 8 kHz recording, not band-passed further
    sf.write(eight, torchaudio.functional.resample(wave, SR, band.TELEPHONE_SR).numpy(), 8000)
    cut = tmp_path / "cut.wav"
    data = original.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    rows, errors = predict_files([original, phone, eight, cut], [SHIPPED])
    assert not errors and [r["speech"] for r in rows] == [True] * 4
    warning = {r["file"]: r["warning"] for r in rows}
    assert warning[str(original)] == ""
    for limited in (phone, eight):
        assert warning[str(limited)].startswith("band-limited: nothing above 4.3 kHz")
        assert "UAR falls from 46.5 to 30.8 %" in warning[str(limited)]
    assert warning[str(cut)].startswith("truncated: the header promises 1.")
