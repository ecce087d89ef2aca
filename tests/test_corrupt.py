"""Training-audio corruption: seeded, level-preserving reverberation, noise at the drawn SNR,
and applied to the labelled training items only."""

import numpy as np
import pytest
import soundfile as sf
import torch
from builders import tiny_cfg

from mtl_aug.config import load_config
from mtl_aug.data.corrupt import Corruptor
from mtl_aug.data.datamodule import EmotionDataModule
from mtl_aug.data.mixing import active_power
from mtl_aug.errors import ConfigError, DataError

SR = 16000


def speech(seconds=1.5):
    t = torch.arange(int(seconds * SR)) / SR
    return (0.2 * torch.sin(2 * torch.pi * 180 * t) * (1 + torch.sin(2 * torch.pi * 2 * t))).float()


def corruptor(tmp_path, **sets):
    noise = tmp_path / "noise" / "hum.wav"
    noise.parent.mkdir(exist_ok=True)
    sf.write(noise, np.random.default_rng(0).standard_normal(SR * 3).astype(np.float32) * 0.05, SR)
    overrides = [f"corrupt.{k}={v}" for k, v in sets.items()]
    cfg = load_config(
        "synthetic_demo", ["debug"], [f"corrupt.noise_dirs=[{noise.parent}]", *overrides]
    )
    return Corruptor(cfg.corrupt, cfg.seed, SR)


def test_reverberation_keeps_length_and_level_and_is_seeded(tmp_path):
    c = corruptor(tmp_path, reverb_prob=1.0, noise_prob=0.0)
    x = speech()
    a, b, other = c(x, 7), c(x, 7), c(x, 8)
    assert torch.equal(a, b) and not torch.equal(a, other) and not torch.equal(a, x)
    assert a.shape == x.shape and a.dtype == torch.float32
    assert a.pow(2).mean().sqrt() == pytest.approx(float(x.pow(2).mean().sqrt()), rel=1e-3)


def test_noise_lands_within_the_snr_range(tmp_path):
    c = corruptor(tmp_path, noise_prob=1.0, reverb_prob=0.0, snr_db="[5, 10]")
    x = speech()
    snrs = []
    for seed in range(40):
        noise = c(x, seed) - x
        snrs.append(10 * np.log10(active_power(x) / float(noise.pow(2).mean())))
    real = [s for s in snrs if 4.9 < s < 10.1]
    assert len(real) >= 10  # the real-noise half: the SNR over active speech
    assert all(0 < s < 15 for s in snrs)  # coloured noise: audiomentations' whole-item SNR


def test_labelled_training_items_only_and_off_with_speaker(corpus, tmp_path):
    speaker = EmotionDataModule(tiny_cfg(corpus, tmp_path / "r", "speaker"))
    assert speaker.datasets["train"].corrupt is None
    dm = EmotionDataModule(tiny_cfg(corpus, tmp_path / "r", corrupt__noise_prob=1.0))
    off = {"corrupt__noise_prob": 0.0, "corrupt__reverb_prob": 0.0}
    clean = EmotionDataModule(tiny_cfg(corpus, tmp_path / "r", **off))
    assert clean.datasets["train"].corrupt is None
    assert dm.datasets["train"].corrupt is not None
    assert all(dm.datasets[r].corrupt is None for r in ("val", "test", "unlabelled"))
    noisy, plain = dm.datasets["train"][(0, 5)], clean.datasets["train"][(0, 5)]
    assert noisy["wave"].shape == plain["wave"].shape and not torch.equal(
        noisy["wave"], plain["wave"]
    )
    assert noisy["aug"] == plain["aug"]  # the paper's augmentation draw is unchanged


def test_a_missing_noise_folder_is_named_with_its_setting(tmp_path):
    with pytest.raises(
        DataError, match=r"^corrupt\.noise_dirs: noise folder .*nope does not exist"
    ):
        Corruptor(
            load_config(
                "synthetic_demo", ["debug"], [f"corrupt.noise_dirs=[{tmp_path / 'nope'}]"]
            ).corrupt,
            0,
            SR,
        )


def test_bad_corruption_settings_fail_on_load():
    for bad, msg in (
        ("corrupt.noise_prob=1.5", "probability"),
        ("corrupt.snr_db=[30, 0]", r"\[low, high\]"),
        ("corrupt.rt60=[0, 1]", "positive"),
    ):
        with pytest.raises(ConfigError, match=msg):
            load_config("synthetic_demo", ["debug"], [bad])
