"""The four augmentation types; the type index is the augmentation-classifier target.

0 none, 1 speed perturbation (waveform), 2 SpecAugment (log-mel), 3 mixup (log-mel).
Per-item parameters are drawn in the Dataset from a per-item seed (see data.EpochSampler), so
every choice is a function of (seed, epoch, position) and a resumed run replays it exactly.
SpecAugment and mixup are then applied to the whole batch on the training device."""

from __future__ import annotations

import numpy as np
import torch

from ..config import Augment
from .audio import frame_mask, resampler

NONE, SPEED, SPECAUG, MIXUP = 0, 1, 2, 3


def draw(rng: np.random.Generator, cfg: Augment, n_mels: int) -> dict:
    """One item's augmentation: its type and every random parameter it needs."""
    probs = np.asarray(cfg.probs, dtype=float)
    kind = int(rng.choice(4, p=probs / probs.sum()))  # config.validate allows a sum off 1 by 1e-6
    widths = rng.integers(0, cfg.freq_mask_width + 1, size=cfg.freq_masks)
    starts = [int(rng.integers(0, n_mels - w + 1)) for w in widths]
    return {
        "aug": kind,
        "speed": float(rng.choice(cfg.speed_factors)),
        "lam": float(rng.beta(cfg.mixup_alpha, cfg.mixup_alpha)),
        "freq_masks": np.stack([starts, widths], axis=1).astype(np.int64),  # (k, 2)
        "time_masks": rng.random((cfg.time_masks, 2)).astype(np.float32),  # (k, 2) fractions
    }


def speed_perturb(wave: torch.Tensor, factor: float, sample_rate: int) -> torch.Tensor:
    """Play `wave` `factor` times as fast (tempo and pitch, as Kaldi/ESPnet speed perturbation):
    the duration becomes len/factor."""
    return resampler(int(round(sample_rate * factor)), sample_rate, wave.dtype)(wave)


def spec_augment(
    feats: torch.Tensor,
    n_frames: torch.Tensor,
    freq_masks: torch.Tensor,
    time_masks: torch.Tensor,
    time_fraction: float,
    selected: torch.Tensor,
) -> torch.Tensor:
    """Zero (the normalised mean) the frequency bands [start, start+width) of `freq_masks`
    (B, k, 2) and time spans of width floor(u1 * time_fraction * n) starting at
    floor(u2 * (n - width)) for `time_masks` (B, k, 2) = (u1, u2), on `selected` items."""
    b, f, t = feats.shape
    bins = torch.arange(f, device=feats.device)
    frames = torch.arange(t, device=feats.device)
    start, width = freq_masks[..., 0:1], freq_masks[..., 1:2]  # (B, k, 1)
    fmask = ((bins >= start) & (bins < start + width)).any(1)  # (B, F)
    n = n_frames[:, None].float()
    twidth = torch.floor(time_masks[..., 0] * time_fraction * n)  # (B, k)
    tstart = torch.floor(time_masks[..., 1] * (n - twidth))
    tmask = (
        (frames[None, None] >= tstart[..., None])
        & (frames[None, None] < (tstart + twidth)[..., None])
    ).any(1)  # (B, T)
    blank = (fmask[:, :, None] | tmask[:, None, :]) & selected[:, None, None]
    return feats.masked_fill(blank, 0.0)


def mixup(
    feats: torch.Tensor, targets: torch.Tensor, lam: torch.Tensor, selected: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Selected item i becomes lam_i * x_i + (1 - lam_i) * x_{i+1 mod B} (features and soft
    targets (B, C) alike); the partner is the next item of the batch, before mixing."""
    partner = torch.roll(torch.arange(feats.shape[0], device=feats.device), -1)
    lam = torch.where(selected, lam, torch.ones_like(lam))
    mixed = lam[:, None, None] * feats + (1 - lam[:, None, None]) * feats[partner]
    mixed_targets = lam[:, None] * targets + (1 - lam[:, None]) * targets[partner]
    return mixed, mixed_targets


def apply_to_batch(
    feats: torch.Tensor, n: torch.Tensor, targets: torch.Tensor, batch: dict, cfg: Augment
) -> tuple[torch.Tensor, torch.Tensor]:
    """A training batch's SpecAugment and mixup items transformed, (B, F, T) log-mels and (B, C)
    soft targets, with padding frames zeroed again afterwards (mixup mixes in a longer partner)."""
    feats = spec_augment(
        feats,
        n,
        batch["freq_masks"],
        batch["time_masks"],
        cfg.time_mask_fraction,
        batch["aug"] == SPECAUG,
    )
    feats, targets = mixup(feats, targets, batch["lam"], batch["aug"] == MIXUP)
    return feats * frame_mask(n, feats.shape[-1])[:, None, :], targets
