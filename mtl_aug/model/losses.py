"""The four losses of MTL-AUG; total = sum of weight x loss (weights in config loss.weights)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.audio import frame_mask
from ..data.augment import MIXUP


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


def class_weights(class_counts: list[int] | None, num_classes: int) -> torch.Tensor:
    """loss.class_balanced: class c weighs N / (C * count_c), so each class weighs the same."""
    if class_counts is None or len(class_counts) != num_classes or min(class_counts) < 1:
        raise ValueError(
            f"loss.class_balanced needs a positive training count per class, got {class_counts}"
        )
    counts = torch.tensor(class_counts, dtype=torch.float)
    return counts.sum() / (len(counts) * counts)


def mtl_losses(
    model,
    out: dict,
    targets: torch.Tensor,
    n: torch.Tensor,
    aug: torch.Tensor,
    labelled: dict,
    weights: dict,
    class_weight: torch.Tensor | None,
) -> dict:
    """The named losses of one step, `total` among them: emotion cross-entropy (labelled items)
    and, where `weights` has them, center loss, reconstruction and augmentation type (all
    items), and the speaker adversary (labelled items that are not mixup). `out`: the model's
    outputs for the labelled items followed by the unlabelled ones."""
    losses = {"ce": soft_cross_entropy(out["logits"], targets, class_weight)}
    if "center" in weights:
        losses["center"] = center_loss(out["embedding"], model.centers, targets)
    if "recon" in weights:
        losses["recon"] = masked_mse(out["recon"], out["input"], n)
    if "aug" in weights:
        losses["aug"] = F.cross_entropy(out["aug_logits"], aug)
    if "speaker" in weights:  # mixup items have two speakers: left out
        own = labelled["aug"] != MIXUP
        losses["speaker"] = (
            F.cross_entropy(model.speaker_head(out["embedding"][own]), labelled["speaker"][own])
            # an all-mixup batch: a zero that still reaches the head (DDP wants every
            # parameter in the graph)
            if bool(own.any())
            else model.speaker_head(out["embedding"]).sum() * 0
        )
    losses["total"] = total_loss({k_: v for k_, v in losses.items() if k_ in weights}, weights)
    return losses
