"""Log-mel features: silence kept out of the normalisation statistics, and trimmed."""
import numpy as np
import pytest
import torch

from mtl_aug.audio import LogMel, pad_batch
from mtl_aug.config import load_config
from mtl_aug.errors import ConfigError

SR = 16000


def logmel(**opts) -> LogMel:
    return LogMel(SR, 40, 400, 160, 20.0, 8000.0, **opts)


def speech_like(seconds: float, seed: int = 0) -> torch.Tensor:
    """A harmonic signal with a slow loudness contour: speech-like enough for the statistics."""
    t = torch.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    wave = sum(torch.sin(2 * torch.pi * f * t) / k for k, f in enumerate(rng.uniform(120, 2000, 6), 1))
    return (0.1 * wave * (1.2 + torch.sin(2 * torch.pi * 3 * t))).float()


def with_silence(wave: torch.Tensor, lead: float, tail: float, level: float = 1e-4) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    quiet = lambda s: level * torch.randn(int(s * SR), generator=g)
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
    assert abs(int(n[1]) - int(n[0])) <= 3                     # 1.1 s of silence gone, speech kept
    assert feats.shape[-1] == int(n.max())
    # the trimmed utterance starts where the speech starts (give or take the frame that
    # straddles the onset): the same frames as the clean one
    shift = min(range(4), key=lambda k: (feats[1, :, 5 + k : 90 + k] - feats[0, :, 5:90]).abs().max())
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
        load_config("synthetic_demo", ["debug"], ["features.silence_db=null", "features.trim_silence=true"])
    with pytest.raises(ConfigError, match="silence_db must be null or a positive number"):
        load_config("synthetic_demo", ["debug"], ["features.silence_db=-3"])
