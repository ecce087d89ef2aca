"""Leave-one-speaker-out over every fold and seed, resumable fold by fold, summarised once
every fold has finished."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import pandas as pd

from ..config import Config, require_network
from ..data.datamodule import load_labelled
from ..data.folds import speakers
from ..errors import ConfigError
from ..reporting.report import summarise_loso
from ..training.pool import run_parallel
from ..training.runs import check_same_config, run_dir
from ..training.train import train_fold

log = logging.getLogger(__name__)


def check_distinct_variants(cfgs: list[Config], protocol: str) -> None:
    """Variants compared side by side need their own names: the name keys their run folders;
    and `protocol` (noise, adversarial) evaluates networks, so none may be the SVM baseline."""
    for cfg in cfgs:
        require_network(cfg, protocol)
    names = [c.variant for c in cfgs]
    if len(set(names)) < len(names):
        raise ConfigError(
            f"two variants share a name ({', '.join(names)}): their runs would share folders; "
            "give each overlay its own `variant`"
        )


def loso_results_dir(cfg: Config) -> Path:
    return Path(cfg.results_dir) / cfg.corpus / cfg.variant


def run_loso(
    cfg: Config, seeds: list[int], fold_index: int | None = None, jobs: int = 1
) -> Path | None:
    """Train and test every fold for every seed (finished folds are skipped). With `fold_index`
    only that fold runs (for spreading folds over GPUs or machines); with `jobs` > 1 that many
    folds train at once in separate processes, the CPU threads split between them. Writes the
    summary once all folds of all seeds exist; returns its folder, or None while folds are
    missing."""
    if jobs < 1:
        raise ConfigError(f"jobs must be at least 1, not {jobs}")
    if cfg.baseline.svm:  # the classical baseline: same folds and summary, no network
        from ..baseline.protocols import svm_loso

        return svm_loso(cfg, seeds, fold_index)
    df, names, _ = load_labelled(cfg)
    spk = speakers(df)
    todo = spk if fold_index is None else [spk[_check_index(fold_index, spk)]]
    runs = [(seed, s) for seed in seeds for s in todo]
    # finished folds are skipped here, before train_fold would decode every utterance for them
    # (a finished fold of another config is still refused)
    left = []
    for seed, s in runs:
        d = run_dir(cfg.replace(seed=seed), s)
        check_same_config(d, cfg.replace(seed=seed))
        if not (d / "results.json").is_file():
            left.append((seed, s))
    if len(left) < len(runs):
        log.info(f"{len(runs) - len(left)} of {len(runs)} folds finished earlier, not re-run")
    if jobs > 1 and left:
        run_parallel(cfg, left, jobs)
    elif jobs == 1:
        for seed, s in left:
            log.info(
                f"--- {cfg.corpus} / {cfg.variant} / seed {seed} / fold {s} ({spk.index(s) + 1} "
                f"of {len(spk)})"
            )
            train_fold(cfg.replace(seed=seed), s)
    missing = [
        (seed, s)
        for seed in seeds
        for s in spk
        if not (run_dir(cfg.replace(seed=seed), s) / "results.json").is_file()
    ]
    if missing:
        log.info(
            f"{len(missing)} of {len(seeds) * len(spk)} folds not finished yet "
            f"(e.g. seed {missing[0][0]}, fold {missing[0][1]}); the summary is written once all "
            f"are done"
        )
        return None
    return summarise(cfg, seeds, spk, names)


def _check_index(i: int, spk: list[str]) -> int:
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
