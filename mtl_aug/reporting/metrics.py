"""UAR, WA and the confusion matrix, computed with torchmetrics.

UAR averages recall over the classes present in the targets only: torchmetrics' macro average
scores a class that is absent from the targets but predicted as recall 0 (EMODB speakers lack
some emotions), which would drag a speaker's UAR down for a class it cannot have."""

from __future__ import annotations

import torch
from torchmetrics.functional.classification import multiclass_confusion_matrix, multiclass_recall


def scores(preds: torch.Tensor, targets: torch.Tensor, num_classes: int) -> dict:
    preds, targets = preds.long().cpu(), targets.long().cpu()
    recall = multiclass_recall(preds, targets, num_classes=num_classes, average="none")
    present = torch.bincount(targets, minlength=num_classes) > 0
    return {
        "uar": float(recall[present].mean()) if present.any() else float("nan"),
        "wa": float((preds == targets).float().mean()) if len(targets) else float("nan"),
        "recall": [float(r) if p else None for r, p in zip(recall, present, strict=True)],
        "confusion": multiclass_confusion_matrix(preds, targets, num_classes=num_classes).tolist(),
        "n": int(len(targets)),
    }
