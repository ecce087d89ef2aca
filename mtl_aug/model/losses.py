"""The four losses of MTL-AUG; total = sum of weight x loss (weights in config loss.weights)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.audio import frame_mask


def soft_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, class_weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy against (B, C) soft targets: for a mixup target lam*a + (1-lam)*b this is
    lam * CE(a) + (1-lam) * CE(b). With (C,) class weights, the weighted mean (as
    F.cross_entropy(weight=...) for hard targets): each target class counts w_c times."""
    if class_weight is None:
        return -(targets * F.log_softmax(logits, dim=-1)).sum(-1).mean()
    weighted = targets * class_weight
    return -(weighted * F.log_softmax(logits, dim=-1)).sum() / weighted.sum().clamp(min=1e-8)


def center_loss(
    embedding: torch.Tensor, centers: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """0.5 * squared distance of each embedding to its class center, weighted by the soft target."""
    dist = ((embedding[:, None, :] - centers[None]) ** 2).sum(-1)  # (B, C)
    return 0.5 * (targets * dist).sum(-1).mean()


def masked_mse(recon: torch.Tensor, target: torch.Tensor, n_frames: torch.Tensor) -> torch.Tensor:
    """MSE over valid frames only; (B, F, T) tensors, padding frames ignored."""
    mask = frame_mask(n_frames, target.shape[-1])[:, None, :]
    return ((recon - target) ** 2 * mask).sum() / (mask.sum() * target.shape[1]).clamp(min=1)


def total_loss(losses: dict, weights: dict) -> torch.Tensor:
    return sum(weights[name] * value for name, value in losses.items())
