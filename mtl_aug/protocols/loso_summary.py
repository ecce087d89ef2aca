"""The summary of a LOSO run's finished folds (network or SVM baseline alike): folds.csv,
seeds.csv, summary.md / .json and the pooled confusion matrix."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import pandas as pd

from ..config import Config
from ..errors import ConfigError
from ..reporting.report import summarise_loso
from ..training.runs import run_dir

log = logging.getLogger(__name__)


def loso_results_dir(cfg: Config) -> Path:
    return Path(cfg.results_dir) / cfg.corpus / cfg.variant


def check_fold_index(i: int, spk: list[str]) -> int:
    if not 0 <= i < len(spk):
        raise ConfigError(
            f"fold index {i} out of range: there are {len(spk)} folds (0..{len(spk) - 1})"
        )
    return i


def summarise(
    cfg: Config,
    seeds: list,
    spk: list[str],
    names: list[str],
    fold_dir: Callable[[int, str], Path] | None = None,
    note: str | None = None,
) -> Path:
    """The summary of finished folds: `fold_dir(seed, speaker)` is each fold's run folder
    (default: the network's run_dir); `note` is printed under the title."""
    import json

    fold_dir = fold_dir or (lambda seed, s: run_dir(cfg.replace(seed=seed), s))
    rows, preds = [], []
    for seed in seeds:
        for s in spk:
            d = fold_dir(seed, s)
            r = json.loads((d / "results.json").read_text())
            if r["class_names"] != names:
                raise ConfigError(
                    f"{d} was trained on classes {r['class_names']}, not {names}: "
                    "it belongs to another config; use another train.run_dir"
                )
            rows.append(
                {
                    "seed": seed,
                    "fold": s,
                    "uar": r["uar"],
                    "wa": r["wa"],
                    "n": r["n"],
                    "val_uar": r["val_uar"],
                }
            )
            p = pd.read_csv(d / "predictions.csv", dtype={"speaker": str})
            idx = {n: i for i, n in enumerate(names)}
            probs = p[[f"p_{n}" for n in names]].to_numpy()
            preds.append(
                pd.DataFrame(
                    {
                        "seed": seed,
                        "fold": s,
                        "utt_id": p["utt_id"],
                        "target": p["target"].map(idx),
                        "pred": p["pred"].map(idx),
                        **{f"p{j}": probs[:, j] for j in range(len(names))},
                    }
                )
            )
    out = loso_results_dir(cfg)
    summarise_loso(
        pd.DataFrame(rows),
        pd.concat(preds, ignore_index=True),
        names,
        out,
        f"{cfg.corpus} {cfg.variant}",
        note,
    )
    log.info((out / "summary.md").read_text())
    log.info(
        f"written to {out}/ (folds.csv, seeds.csv, summary.md, summary.json, confusion.csv, "
        f"confusion.png)"
    )
    return out
