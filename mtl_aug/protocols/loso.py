"""Leave-one-speaker-out over every fold and seed, resumable fold by fold, summarised once
every fold has finished."""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import Config, require_network
from ..data.datamodule import load_labelled
from ..data.folds import loso_fold, speakers
from ..errors import ConfigError
from ..training.pool import run_parallel
from ..training.runs import check_same_config, run_dir
from ..training.train import check_adversary, train_fold
from .loso_summary import check_fold_index, summarise

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
    todo = spk if fold_index is None else [spk[check_fold_index(fold_index, spk)]]
    for s in todo:  # every fold's settings checked before the first one trains
        check_adversary(cfg, loso_fold(df, s))
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
