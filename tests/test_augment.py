"""What each augmentation does, and that every random choice is a function of the seed."""

import dataclasses

import numpy as np
import pandas as pd
import soundfile as sf
import torch
import torchaudio
from builders import write_audio

from mtl_aug.config import load_config
from mtl_aug.data import augment
from mtl_aug.data.audio import resampler
from mtl_aug.data.dataset import UtteranceDataset
from mtl_aug.data.samplers import EpochSampler


def test_speed_perturbation_changes_duration_by_factor_as_torchaudio_resample_does():
    wave = torch.randn(16000)
    for factor in (0.9, 1.1):
        for _ in range(2):  # the cached resampler, first and later use
            out = augment.speed_perturb(wave, factor, 16000)
            assert abs(len(out) - 16000 / factor) <= 2
            # bit for bit: results computed before the resampler was cached stay reproducible
            assert torch.equal(
                out, torchaudio.functional.resample(wave, round(16000 * factor), 16000)
            )
    assert resampler.cache_info().hits >= 2  # built once per rate pair, then reused


def test_speed_perturbation_scales_pitch():
    t = torch.arange(16000) / 16000
    wave = torch.sin(2 * torch.pi * 440 * t)
    out = augment.speed_perturb(wave, 1.1, 16000)
    peak = torch.fft.rfft(out).abs().argmax().item() * 16000 / len(out)
    assert abs(peak - 484) < 3


def test_specaugment_blanks_exactly_the_configured_spans():
    feats = torch.ones(2, 20, 50)
    n_frames = torch.tensor([50, 30])
    freq = torch.tensor([[[3, 4]], [[10, 2]]])  # start, width
    time = torch.tensor([[[0.5, 0.0]], [[1.0, 1.0]]])  # width fraction u1, start fraction u2
    out = augment.spec_augment(feats, n_frames, freq, time, 0.2, torch.tensor([True, False]))
    # item 0: bins 3..6 blanked; time width floor(0.5*0.2*50)=5 starting at 0
    expected = torch.ones(20, 50)
    expected[3:7] = 0
    expected[:, 0:5] = 0
    assert torch.equal(out[0], expected)
    assert torch.equal(out[1], feats[1])  # not selected: untouched


def test_specaugment_time_span_stays_inside_the_utterance():
    feats = torch.ones(1, 8, 100)
    out = augment.spec_augment(
        feats,
        torch.tensor([40]),
        torch.zeros(1, 1, 2, dtype=torch.long),
        torch.tensor([[[1.0, 1.0]]]),
        0.25,
        torch.tensor([True]),
    )
    blanked = (out[0, 0] == 0).nonzero().flatten()
    assert blanked.tolist() == list(range(30, 40))  # width 10, ends at the last valid frame


def test_mixup_is_the_stated_convex_combination():
    feats = torch.randn(3, 4, 5)
    targets = torch.eye(3)
    lam = torch.tensor([0.3, 0.8, 0.5])
    mixed, mixed_t = augment.mixup(feats, targets, lam, torch.tensor([True, False, True]))
    assert torch.allclose(mixed[0], 0.3 * feats[0] + 0.7 * feats[1])
    assert torch.equal(mixed[1], feats[1])
    assert torch.allclose(mixed[2], 0.5 * feats[2] + 0.5 * feats[0])
    assert torch.allclose(mixed_t[0], torch.tensor([0.3, 0.7, 0.0]))


def test_draws_are_deterministic_and_follow_probs():
    cfg = load_config().augment
    a = [augment.draw(np.random.default_rng(s), cfg, 64) for s in range(400)]
    b = [augment.draw(np.random.default_rng(s), cfg, 64) for s in range(400)]
    assert [x["aug"] for x in a] == [x["aug"] for x in b]
    assert all(np.array_equal(x["freq_masks"], y["freq_masks"]) for x, y in zip(a, b, strict=True))
    counts = np.bincount([x["aug"] for x in a], minlength=4)
    assert (counts > 60).all()  # each of the four types is used
    only_none = dataclasses.replace(cfg, probs=[1.0, 0, 0, 0])
    assert {augment.draw(np.random.default_rng(s), only_none, 64)["aug"] for s in range(50)} == {0}


def test_epoch_sampler_depends_on_seed_and_epoch_only():
    s1, s2 = EpochSampler(10, seed=3), EpochSampler(10, seed=3)
    s1.set_epoch(2)
    s2.set_epoch(2)
    assert list(s1) == list(s2)
    s2.set_epoch(3)
    assert list(s1) != list(s2)
    assert sorted(i for i, _ in s1) == list(range(10))
    cyc = EpochSampler(4, seed=0, num_samples=10)
    assert len(list(cyc)) == 10


def test_uncached_items_read_only_their_crop_and_match_the_cached_crop(tmp_path, monkeypatch):
    # unlabelled speech is not cached: its crop is read from disk, and must equal the in-memory crop
    paths = [
        write_audio(tmp_path / f"{i}.wav", seconds=s, freq=200 + 50 * i)
        for i, s in enumerate([4.0, 1.0])
    ]
    df = pd.DataFrame({"path": [str(p) for p in paths], "speaker": "a", "sample_rate": 16000})
    cfg = load_config(None, [], ["data.max_train_seconds=2.5"])
    cached, from_disk = (UtteranceDataset(df, cfg, train=True, cache=c) for c in (True, False))
    rng = np.random.default_rng(0)
    for i in (0, 1):
        for seed in rng.integers(0, 2**62, 5):
            assert torch.equal(cached[(i, int(seed))]["wave"], from_disk[(i, int(seed))]["wave"])
    spans = []
    real_read = sf.read
    monkeypatch.setattr(
        sf,
        "read",
        lambda *a, **k: spans.append((k.get("start"), k.get("stop"))) or real_read(*a, **k),
    )
    assert len(from_disk.crop(0, np.random.default_rng(1))) == 40000  # 2.5 s of the 4 s file...
    start, stop = spans[-1]
    assert stop - start == 40000  # ...and only those were read
