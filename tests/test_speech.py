"""Audio without speech gets "no speech found" instead of an emotion: the detector's decisions
on real speech and real noise, and what `predict` (rows, CLI CSV) makes of them. The HTTP API's
side is in test_serve.py."""

from __future__ import annotations

import csv

import pytest
import torch
from builders import requires_real_data

from mtl_aug.cli import main
from mtl_aug.data import vad
from mtl_aug.data.audio import load_audio
from mtl_aug.inference.predict import NO_SPEECH, predict_files, speech_check

SR = 16000


@requires_real_data
def test_detector_tells_real_speech_from_real_noise(real_data):
    speech = sorted((real_data / "emodb" / "wav").glob("1[0-4]a0*.wav"))[:6]
    speech += sorted((real_data / "librispeech_sample").rglob("*.flac"))[:3]
    for path in speech:
        assert vad.speech_found(load_audio(path), SR), path
    # street noise (the cafe clips hold voices: speech, rightly found in some)
    noise = [load_audio(p) for p in sorted((real_data / "city_noise" / "street").glob("*"))[::9]]
    for path in sorted((real_data / "background_noise").glob("*.wav")):
        wave = load_audio(path)
        noise += [wave[i * SR : (i + 2) * SR] for i in (5, 20, 40)]
    assert len(noise) == 18
    for wave in noise:
        assert not vad.speech_found(wave, SR)
    # the energy rule it replaced lets all this noise through (it only rejects silence)
    assert all(vad.energy_found(w, SR) for w in noise)
    # a file at 44.1 kHz is resampled for the detector
    assert vad.speech_found(load_audio(next((real_data / "urdu").rglob("*.flac")), 44100), 44100)
    assert not vad.speech_found(torch.zeros(44100), 44100)


@requires_real_data
def test_predict_gives_no_emotion_without_speech(
    real_data, no_speech, checkpoints, tmp_path, capsys
):
    files = no_speech
    emodb = real_data / "emodb" / "wav" / "03a01Fa.wav"
    ckpt = checkpoints["defaults"]
    rows, errors = predict_files([*files, emodb], [ckpt])
    assert not errors and len(rows) == 4
    names = ["angry", "happy", "neutral", "sad"]
    for row in rows[:3]:
        assert row["pred"] is None and row["speech"] is False and row["warning"] == NO_SPEECH
        assert row["windows"] == 0 and all(row[f"p_{n}"] is None for n in names)
        assert list(row) == list(rows[3])  # one set of columns, in one order
    assert rows[3]["pred"] in names and rows[3]["speech"] is True
    assert sum(rows[3][f"p_{n}"] for n in names) == pytest.approx(1, abs=1e-3)
    assert [speech_check(load_audio(p), SR) for p in [*files, emodb]] == [NO_SPEECH] * 3 + [""]
    # grouped by speaker: the files without speech take no part in the speaker's statistics
    grouped, _ = predict_files([*files, emodb], [ckpt], speakers=["a"] * 4)
    assert grouped[3]["pred"] in names and [r["pred"] for r in grouped[:3]] == [None] * 3
    # with the check turned off, every file gets an emotion, as before
    unchecked, _ = predict_files(files, [ckpt], check_speech=False)
    assert all(r["pred"] in names and r["speech"] for r in unchecked)

    # the CLI's CSV says so in each such row, and the summary counts them
    folder = files[0].parent
    (folder / "speech.wav").write_bytes(emodb.read_bytes())
    out = tmp_path / "pred.csv"
    assert main(["predict", str(folder), "--checkpoint", ckpt, "--out", str(out)]) == 0
    with out.open() as f:
        table = {r["file"].rsplit("/", 1)[1]: r for r in csv.DictReader(f)}
    for name in ("silence.wav", "white.wav", "tap.wav"):
        assert table[name]["pred"] == "" and table[name]["speech"] == "False"
        assert table[name]["warning"] == "no speech found" and table[name]["p_sad"] == ""
    assert table["speech.wav"]["pred"] == rows[3]["pred"]
    err = capsys.readouterr().err
    assert "1 files predicted, 3 without speech (no emotion)" in err
    assert "warning: " in err and "tap.wav: no speech found" in err
