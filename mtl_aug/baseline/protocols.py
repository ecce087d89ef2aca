"""The SVM on the network's protocols: LOSO (protocols.loso.run_loso hands a config with
baseline.svm here) and cross-corpus (protocols.cross.run_cross). Same folds, class maps,
metrics and result files as the network's; one run where the network has one per seed (the
SVM is deterministic), so the seed column reads "none"."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..config import Config, save_config
from ..data.folds import Fold, all_speakers_fold, loso_fold, speakers
from ..reporting.metrics import scores
from ..reporting.report import confusion_table, write_predictions
from ..training.runs import check_same_config
from . import svm
from .features import FEATURE_SET, labelled_functionals

log = logging.getLogger(__name__)

SEED = "none"  # the seed column of the SVM's tables: it is deterministic
# the settings its run folder is checked on: the network's own (features, corruption, model,
# loss, training) do not change what the SVM computes
SVM_READS = ("corpus", "variant", "data.", "features.normalise", "baseline.")

NORMALISE_NOTE = {
    "speaker": "each speaker's functionals z-normalised with that speaker's own statistics "
    "(the test speaker's from all its test recordings: unlabelled use of them; a lone file "
    "cannot be normalised this way)",
    "corpus": "functionals z-normalised with the training set's statistics (a lone file is "
    "normalised as in this evaluation)",
}


def svm_run_dir(cfg: Config, fold_name: str) -> Path:
    """runs/<corpus>/<variant>/<fold>: no seed level, the SVM is deterministic."""
    return Path(cfg.train.run_dir) / cfg.corpus / cfg.variant / fold_name


def note(cfg: Config) -> str:
    return (
        f"openSMILE {FEATURE_SET} functionals + linear SVM (SVC, class-balanced, C from "
        f"{cfg.baseline.c} by the validation speakers' UAR); "
        f"{NORMALISE_NOTE[cfg.features.normalise]}. "
        "Deterministic: one run, no seeds."
    )


def fit_test(
    cfg: Config,
    x: np.ndarray,
    spk: np.ndarray,
    y: np.ndarray,
    k: int,
    train: np.ndarray,
    val: np.ndarray,
    test_x: np.ndarray,
) -> dict:
    """Fit on the `train` rows (C chosen on the `val` rows), predict test_x (already normalised
    with x); returns pred, probs, c, the C grid's validation UARs and the validation UAR."""
    c, grid = svm.choose_c(x[train], y[train], x[val], y[val], cfg.baseline.c, k)
    model, cal = svm.fit_calibrated(x[train], y[train], spk[train], c)
    val_uar = svm.uar(model.predict(x[val]), y[val], k) if val.any() else float("nan")
    return {
        "pred": model.predict(test_x),
        "probs": svm.probabilities(cal, test_x, k),
        "c": c,
        "c_val_uar": {str(c_): u for c_, u in grid.items()},
        "val_uar": val_uar,
    }


def run_fold(cfg: Config, df: pd.DataFrame, names: list[str], x: np.ndarray, fold: Fold) -> dict:
    """One LOSO fold: results.json, predictions.csv and config.yaml in its run folder."""
    out = svm_run_dir(cfg, fold.name)
    spk, y = df["speaker"].to_numpy(), df["label"].to_numpy()
    role = {
        s: r
        for r, group in (("train", fold.train), ("val", fold.val), ("test", fold.test))
        for s in group
    }
    roles = np.array([role.get(s, "") for s in spk])
    train, val, test = (roles == r for r in ("train", "val", "test"))
    z = svm.normalised(x, spk, train, cfg.features.normalise)
    r = fit_test(cfg, z, spk, y, len(names), train, val, z[test])
    res = scores(torch.tensor(r["pred"]), torch.tensor(y[test]), len(names))
    out.mkdir(parents=True, exist_ok=True)
    write_predictions(
        out / "predictions.csv",
        df,
        {
            "index": torch.tensor(np.flatnonzero(test)),
            "targets": y[test].tolist(),
            "preds": r["pred"].tolist(),
            "probs": torch.tensor(r["probs"]),
        },
        names,
    )
    results = {
        "corpus": cfg.corpus,
        "variant": cfg.variant,
        "seed": SEED,
        "fold": fold.name,
        "test_speakers": list(fold.test),
        "val_speakers": list(fold.val),
        "class_names": names,
        **{k: res[k] for k in ("uar", "wa", "recall", "confusion", "n")},
        "val_uar": r["val_uar"],
        "c": r["c"],
        "c_val_uar": r["c_val_uar"],
        "normalise": cfg.features.normalise,
        "note": note(cfg),
    }
    save_config(cfg, out / "config.yaml")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    log.info(
        f"{cfg.corpus} / {cfg.variant} / fold {fold.name}: UAR {res['uar']:.4f}  WA "
        f"{res['wa']:.4f} ({res['n']} utterances), C {r['c']}, validation UAR {r['val_uar']:.4f}"
    )
    return results


def svm_loso(cfg: Config, seeds: list[int], fold_index: int | None = None) -> Path | None:
    """Every LOSO fold (finished ones skipped), then the summary as the network's
    (protocols.loso_summary.summarise)."""
    from ..protocols.loso_summary import check_fold_index, summarise

    if seeds != [0]:
        log.info(f"the SVM is deterministic: --seeds {seeds} ignored, one run")
    df, names, x = labelled_functionals(cfg)
    spk = speakers(df)
    todo = spk if fold_index is None else [spk[check_fold_index(fold_index, spk)]]
    for s in todo:
        d = svm_run_dir(cfg, s)
        check_same_config(d, cfg, SVM_READS)
        if not (d / "results.json").is_file():
            run_fold(cfg, df, names, x, loso_fold(df, s))
    if any(not (svm_run_dir(cfg, s) / "results.json").is_file() for s in spk):
        log.info("folds missing; the summary is written once all are done")
        return None
    return summarise(cfg, [SEED], spk, names, lambda _seed, s: svm_run_dir(cfg, s), note(cfg))


def svm_cross(cfg: Config, test_corpus: str, out: Path) -> dict:
    """Train on every speaker of cfg.corpus (the network's validation speakers held out to pick
    C), test on every utterance of `test_corpus`; writes results.json, predictions.csv and
    confusion.png into `out` and returns the scores."""
    from ..reporting.report import plot_confusion

    df, names, x = labelled_functionals(cfg)
    # data.styles filters training only, as the network's cross-corpus test (protocols.cross)
    every_style = cfg.replace(data=replace(cfg.data, styles=None))
    test_df, _, test_x = labelled_functionals(every_style, test_corpus)
    fold = all_speakers_fold(df)
    spk, y = df["speaker"].to_numpy(), df["label"].to_numpy()
    train, val = np.isin(spk, fold.train), np.isin(spk, fold.val)
    mode = cfg.features.normalise
    z = svm.normalised(x, spk, train, mode)
    if mode == "speaker":
        test_z = svm.speaker_normalised(test_x, test_df["speaker"].to_numpy())
    else:
        mean, std = svm.zscore(x, train)
        test_z = (test_x - mean) / std
    r = fit_test(cfg, z, spk, y, len(names), train, val, test_z)
    ty = test_df["label"].to_numpy()
    res = scores(torch.tensor(r["pred"]), torch.tensor(ty), len(names))
    out.mkdir(parents=True, exist_ok=True)
    write_predictions(
        out / "predictions.csv",
        test_df,
        {
            "index": torch.arange(len(test_df)),
            "targets": ty.tolist(),
            "preds": r["pred"].tolist(),
            "probs": torch.tensor(r["probs"]),
        },
        names,
    )
    summary = {
        "train": cfg.corpus,
        "manifest": test_corpus,
        "class_names": names,
        **{k: res[k] for k in ("uar", "wa", "recall", "confusion", "n")},
        "val_uar": r["val_uar"],
        "c": r["c"],
        "c_val_uar": r["c_val_uar"],
        "normalise": mode,
        "note": note(cfg),
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_confusion(
        res["confusion"], names, out / "confusion.png", f"{cfg.variant} on {test_corpus}"
    )
    log.info(
        f"{cfg.corpus} -> {test_corpus} ({cfg.variant}): UAR {res['uar']:.4f}  WA {res['wa']:.4f}"
        f"  ({res['n']} utterances), C {r['c']}"
    )
    log.info(confusion_table(res["confusion"], names))
    return summary
