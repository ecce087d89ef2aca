"""Normalisation of the functionals and the linear SVM: fit, choice of C, calibrated
probabilities.

The SVM is sklearn's SVC(kernel="linear"), one-vs-one as the ComParE challenge baselines'
SMO is; its kernel matrix is utterances x utterances, small beside the 6373 features.
class_weight="balanced": the metric is UAR and the network weighs its cross-entropy by inverse
class frequency (loss.class_balanced), so both are fitted toward the same target. libsvm
without its probability option is deterministic: no seeds."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.svm import SVC

from ..errors import DataError
from ..reporting.metrics import scores

EPS = 1e-8


def zscore(x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (1, F) of x's `rows`; a constant feature keeps std 1 (it becomes 0)."""
    mean, std = x[rows].mean(0, keepdims=True), x[rows].std(0, keepdims=True)
    return mean, np.where(std < EPS, 1.0, std)


def speaker_normalised(x: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """(N, F): each row z-normalised with the statistics of its own speaker's rows only."""
    out = np.empty_like(x, dtype=np.float64)
    for s in np.unique(speakers):
        rows = speakers == s
        mean, std = zscore(x, rows)
        out[rows] = (x[rows] - mean) / std
    return out


def normalised(x: np.ndarray, speakers: np.ndarray, train: np.ndarray, mode: str) -> np.ndarray:
    """speaker: per-speaker z-norm (the test speaker's from its own recordings: it needs them);
    corpus: the training rows' mean and std for every row (a lone file is handled alike)."""
    if mode == "speaker":
        return speaker_normalised(x, speakers)
    mean, std = zscore(x, train)
    return (x - mean) / std


def svc(c: float) -> SVC:
    return SVC(kernel="linear", C=c, class_weight="balanced", decision_function_shape="ovr")


def uar(pred: np.ndarray, target: np.ndarray, k: int) -> float:
    return scores(torch.from_numpy(pred), torch.from_numpy(target), k)["uar"]


def choose_c(
    x: np.ndarray, y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, grid: list[float], k: int
) -> tuple[float, dict[float, float]]:
    """The C of `grid` with the best validation UAR (the smallest C on a tie: the wider margin);
    a single C is taken as given. Returns it and every C's validation UAR."""
    if len(grid) == 1 or len(val_y) == 0:
        return grid[0], {}
    found = {c: uar(svc(c).fit(x, y).predict(val_x), val_y, k) for c in sorted(grid)}
    best = max(found.values())
    return min(c for c, u in found.items() if u == best), found


def fit_calibrated(x: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float):
    """An SVC fitted on all of x, and sigmoid (Platt) calibration of its decision values fitted
    on held-out predictions of speaker-grouped inner folds (unseen speakers, as at test);
    returns (svc, calibrated)."""
    n = len(np.unique(groups))
    if n >= 3:
        splits = list(GroupKFold(n_splits=min(5, n)).split(x, y, groups))
    else:  # too few speakers to hold any out: utterance folds
        least = int(np.bincount(y)[np.unique(y)].min())
        if least < 2:
            raise DataError(
                f"the SVM's training set has a class with {least} utterance: too few to "
                "calibrate its probabilities (two or more per class needed)"
            )
        splits = list(StratifiedKFold(n_splits=min(3, least)).split(x, y))
    cal = CalibratedClassifierCV(svc(c), method="sigmoid", cv=splits, ensemble=False).fit(x, y)
    return cal.calibrated_classifiers_[0].estimator, cal


def probabilities(cal, x: np.ndarray, k: int) -> np.ndarray:
    """(N, k) calibrated probabilities, a class absent from training at 0."""
    out = np.zeros((len(x), k))
    out[:, cal.classes_] = cal.predict_proba(x)
    return out
