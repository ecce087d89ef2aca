"""Audio loading (formats, spans, bad files) and the log-mel features: silence kept out of the
normalisation statistics, and trimmed."""

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from builders import write_audio

from mtl_aug.config import load_config
from mtl_aug.data.audio import LogMel, load_audio, pad_batch
from mtl_aug.data.corpora import prepare_generic
from mtl_aug.data.manifest import read_manifest
from mtl_aug.errors import ConfigError, DataError

SR = 16000


def logmel(**opts) -> LogMel:
    return LogMel(SR, 40, 400, 160, 20.0, 8000.0, **opts)


def speech_like(seconds: float, seed: int = 0) -> torch.Tensor:
    """A harmonic signal with a slow loudness contour: speech-like enough for the statistics."""
    t = torch.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    wave = sum(
        torch.sin(2 * torch.pi * f * t) / k for k, f in enumerate(rng.uniform(120, 2000, 6), 1)
    )
    return (0.1 * wave * (1.2 + torch.sin(2 * torch.pi * 3 * t))).float()


def with_silence(wave: torch.Tensor, lead: float, tail: float, level: float = 1e-4) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)

    def quiet(s):
        return level * torch.randn(int(s * SR), generator=g)

    return torch.cat([quiet(lead), wave, quiet(tail)])


def test_statistics_over_speech_frames_ignore_added_silence():
    speech = speech_like(1.0)
    padded = with_silence(speech, 1.5, 1.0)
    plain, aware = logmel(), logmel(silence_db=40)
    # every frame: 2.5 s of near-silence drag the mean far down; speech frames only: unchanged
    assert (plain.stats([padded])[0] - plain.stats([speech])[0]).abs().mean() > 3
    assert torch.allclose(aware.stats([padded]), aware.stats([speech]), atol=0.4)


def test_trimming_cuts_leading_and_trailing_silence_only():
    speech = speech_like(1.0)
    padded = with_silence(speech, 0.7, 0.4)
    lm = logmel(silence_db=40, trim=True)
    waves, lengths = pad_batch([speech, padded])
    feats, n, _ = lm.raw(waves, lengths)
    assert abs(int(n[1]) - int(n[0])) <= 3  # 1.1 s of silence gone, speech kept
    assert feats.shape[-1] == int(n.max())
    # the trimmed utterance starts where the speech starts (give or take the frame that
    # straddles the onset): the same frames as the clean one
    shift = min(
        range(4), key=lambda k: (feats[1, :, 5 + k : 90 + k] - feats[0, :, 5:90]).abs().max()
    )
    assert torch.allclose(feats[1, :, 5 + shift : 90 + shift], feats[0, :, 5:90], atol=0.05)
    untrimmed = logmel(silence_db=40)
    assert int(untrimmed.raw(waves, lengths)[1][1]) == len(padded) // 160 + 1


def test_utterance_normalisation_uses_speech_frames():
    speech = speech_like(1.0)
    lm = logmel(normalise="utterance", silence_db=40, trim=False)
    waves, lengths = pad_batch([speech, with_silence(speech, 1.0, 0.0)])
    feats, n = lm(waves, lengths)
    # the speech part of the second is normalised as the first: silence did not move the statistics
    assert (feats[1, :, 105:190] - feats[0, :, 5:90]).abs().mean() < 0.05


def test_trim_needs_a_silence_threshold():
    with pytest.raises(ConfigError, match="trim_silence needs features.silence_db"):
        load_config(
            "synthetic_demo", ["debug"], ["features.silence_db=null", "features.trim_silence=true"]
        )
    with pytest.raises(ConfigError, match="silence_db must be null or a positive number"):
        load_config("synthetic_demo", ["debug"], ["features.silence_db=-3"])


def test_corpus_statistics_normalise_the_training_speech_per_mel_bin():
    """The defaults' normalisation: the training set's statistics over speech frames, silence
    trimmed, give its utterances zero mean and unit deviation in every mel bin."""
    m = logmel(normalise="corpus", silence_db=40, trim=True)
    waves = [with_silence(speech_like(1.0, s), 0.3, 0.2) for s in range(3)]
    m.fit(waves.__getitem__, len(waves))
    padded, lengths = pad_batch(waves)
    feats, n = m(padded, lengths)
    assert feats.shape[1] == 40
    valid = torch.cat([feats[i, :, : n[i]] for i in range(3)], 1)
    assert valid.mean(1).abs().max() < 1e-3 and ((valid.std(1) - 1).abs() < 0.02).all()


@pytest.mark.parametrize("channels,sr", [(2, 16000), (1, 8000), (1, 44100), (2, 44100), (1, 48000)])
def test_other_formats_are_accepted_and_load_as_mono_16k(tmp_path, channels, sr):
    folder = tmp_path / "corpus"
    write_audio(folder / "x.wav", seconds=0.3, sr=sr, channels=channels)
    (folder / "corpus.csv").write_text("path,speaker,emotion\nx.wav,s1,sad\n")
    out = tmp_path / "g.csv"
    prepare_generic(folder / "corpus.csv", out)
    r = read_manifest(out).iloc[0]
    assert (r["sample_rate"], r["channels"]) == (sr, channels)
    assert r["duration"] == pytest.approx(0.3, abs=1e-3)
    wave = load_audio(r["path"])
    assert wave.ndim == 1 and abs(len(wave) - 0.3 * 16000) <= 3
    if sr == 16000:  # no resampling: mono is the channel mean
        data, _ = sf.read(r["path"], dtype="float32", always_2d=True)
        np.testing.assert_allclose(wave.numpy(), data.mean(axis=1), atol=1e-6)
    else:  # resampling keeps the sine's level
        data, _ = sf.read(r["path"], dtype="float32", always_2d=True)
        assert float(wave.abs().max()) == pytest.approx(
            float(np.abs(data.mean(axis=1)).max()), abs=0.03
        )


def test_load_audio_reads_a_span_and_names_a_bad_file(tmp_path):
    """`start`/`stop` are in the file's own samples and resampling follows; a file that cannot
    be read, is empty or holds NaN is a DataError naming it."""
    path = write_audio(tmp_path / "x.wav", seconds=1.0, sr=8000)
    whole = load_audio(path)
    part = load_audio(path, start=2000, stop=6000)  # 0.25 s to 0.75 s at 8 kHz
    assert len(whole) == 16000 and len(part) == 8000
    assert torch.allclose(part[1000:7000], whole[5000:11000], atol=0.02)
    (tmp_path / "text.wav").write_text("not audio")
    sf.write(tmp_path / "empty.wav", np.zeros((0,), np.float32), 16000)
    sf.write(tmp_path / "nan.wav", np.full(160, np.nan, np.float32), 16000, subtype="FLOAT")
    for name, reason in (
        ("text.wav", "cannot read audio"),
        ("empty.wav", "empty audio"),
        ("nan.wav", "NaN or infinite"),
    ):
        with pytest.raises(DataError, match=f"{name}: {reason}"):
            load_audio(tmp_path / name)


def test_a_file_gone_from_its_manifest_is_named_as_missing(tmp_path):
    """A manifest row whose file was deleted: training and evaluation name the file and its row,
    not libsndfile's "System error."; the same for the span an uncached item reads."""
    from mtl_aug.data.dataset import UtteranceDataset

    folder = tmp_path / "corpus"
    for name in ("a.wav", "b.wav"):
        write_audio(folder / name, seconds=0.5)
    (folder / "corpus.csv").write_text("path,speaker,emotion\na.wav,s1,sad\nb.wav,s2,angry\n")
    prepare_generic(folder / "corpus.csv", tmp_path / "mine.csv", corpus="mine")
    (folder / "b.wav").unlink()
    df = read_manifest(tmp_path / "mine.csv")
    gone = Path(df["path"].iloc[1])
    assert not gone.exists()
    cfg = load_config(None, [], ["data.max_train_seconds=0.25"])
    sentence = (
        f"{gone}: file not found (listed in the manifest of corpus 'mine' as utterance b): "
        "moved or deleted after the manifest was made"
    )
    for train, cache in ((False, True), (True, False)):  # whole (evaluation); a crop (training)
        data = UtteranceDataset(df, cfg, train=train, cache=cache)
        assert len(data[(0, 1)]["wave"]) == (4000 if train else 8000)
        with pytest.raises(DataError) as error:
            data[(1, 1)]
        assert str(error.value).startswith(sentence) and "System error" not in str(error.value)
    with pytest.raises(DataError, match=f"^{re.escape(str(gone))}: file not found$"):
        load_audio(gone)  # evaluate, the reports


def test_common_rates_resample_as_torchaudio_and_awkward_ones_by_soxr(tmp_path):
    """44.1 kHz (URDU, TurEV-DB) keeps torchaudio's samples bit for bit, its kernel built once
    per rate pair; TESS's 24,414 Hz (a 98-million-tap kernel) goes through soxr, whose output
    matches torchaudio's closely at the same length."""
    import torchaudio

    from mtl_aug.data.audio import resampler

    rng = np.random.default_rng(0)
    before = resampler.cache_info()
    for i in range(2):
        path = tmp_path / f"{i}.wav"
        sf.write(path, (0.1 * rng.standard_normal(44100)).astype(np.float32), 44100)
        expected = torchaudio.functional.resample(
            torch.from_numpy(sf.read(path, dtype="float32")[0]), 44100, 16000
        )
        assert torch.equal(load_audio(path), expected)
    after = resampler.cache_info()
    assert after.misses - before.misses <= 1 and after.hits - before.hits >= 1

    t = np.arange(24414) / 24414  # one second of a 440 Hz tone with a little noise
    x = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(24414)).astype(np.float32)
    sf.write(tmp_path / "tess.wav", x, 24414)
    got = load_audio(tmp_path / "tess.wav")
    assert resampler.cache_info().misses == after.misses  # no torchaudio kernel for this pair
    ref = torchaudio.functional.resample(torch.from_numpy(x), 24414, 16000)
    assert abs(len(got) - len(ref)) <= 1
    n = min(len(got), len(ref))
    assert np.corrcoef(got[:n].numpy(), ref[:n].numpy())[0, 1] > 0.999
