"""Train one fold with the Lightning Trainer and test it: the resolved config, logs,
checkpoints, predictions.csv and results.json in its run folder (runs.py).

Started again with the same command, a run resumes from its last checkpoint; a finished run
(results.json present) is reported, not re-run."""

from __future__ import annotations

import json
import logging
import time
import warnings
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import torch
from lightning_utilities.core import rank_zero as rank_zero_module
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

from ..config import Config, require_network, save_config
from ..data.datamodule import EmotionDataModule
from ..data.folds import Fold
from ..errors import ConfigError
from ..reporting.report import fold_summary, write_predictions
from .checkpoint import check_checkpoint
from .lit import LitMTLAug
from .provenance import provenance
from .runs import carry_metrics, check_same_config, finished, run_dir, run_lock

log = logging.getLogger(__name__)

SYNTHETIC_NOTE = (
    "SYNTHETIC demo corpus: not real speech; these numbers say nothing about real "
    "emotion recognition"
)


class _NoAdverts(logging.Filter):
    """Drops Lightning's advertising lines ("Tip: ... try installing litlogger / litmodels"),
    which it logs at INFO on every Trainer: they are no part of a run's output."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pypi.org/project/lit" not in record.getMessage()


_NO_ADVERTS = _NoAdverts()


def make_trainer(
    cfg: Config, out: Path | None, callbacks: list = (), enable_progress: bool = True
) -> pl.Trainer:
    # rank_zero_info logs through this logger (set by pytorch_lightning.utilities.rank_zero); a
    # filter on a logger sees the records made on it, before any handler (addFilter: once)
    rank_zero_module.log.addFilter(_NO_ADVERTS)
    t = cfg.train
    deterministic = t.deterministic
    if deterministic and torch.cuda.is_available() and t.accelerator != "cpu":
        deterministic = "warn"  # some CUDA kernels (e.g. transposed-conv backward) have no
        # deterministic version
    loggers = (
        [
            CSVLogger(out, name="", version="", flush_logs_every_n_steps=1),
            TensorBoardLogger(out, name="tensorboard", version=""),
        ]
        if out
        else False
    )
    return pl.Trainer(
        max_epochs=t.max_epochs,
        accelerator=t.accelerator,
        devices=t.devices,
        strategy=t.strategy,
        precision=t.precision,
        gradient_clip_val=t.gradient_clip,
        deterministic=deterministic,
        limit_train_batches=t.limit_train_batches,
        logger=loggers,
        callbacks=list(callbacks),
        enable_progress_bar=enable_progress,
        enable_model_summary=False,
        log_every_n_steps=1,
        default_root_dir=out,
        num_sanity_val_steps=0,
        enable_checkpointing=out is not None,
    )


def check_adversary(cfg: Config, fold: Fold) -> None:
    """The speaker adversary (loss.weights.speaker) needs two or more training speakers."""
    if cfg.loss.weights.speaker > 0 and len(fold.train) < 2:
        raise ConfigError(
            f"loss.weights.speaker={cfg.loss.weights.speaker} trains a speaker adversary, which "
            f"needs 2 or more training speakers; {cfg.corpus} fold {fold.name} trains on "
            f"{len(fold.train)} ({', '.join(fold.train) or 'none'}): set "
            "loss.weights.speaker=0 (SET='loss.weights.speaker=0')"
        )


def train_fold(
    cfg: Config,
    fold_speaker: str | None = None,
    all_speakers: bool = False,
    extra_callbacks: list = (),
    verbose: bool = True,
) -> dict:
    """Fit one fold and test its final model (train.select = last) or the epoch best on the
    validation speaker(s) (best); returns results."""
    require_network(cfg, "training")
    dm = EmotionDataModule(
        cfg, fold_speaker, all_speakers=all_speakers
    )  # manifest errors surface here
    check_adversary(cfg, dm.fold)
    out = run_dir(
        cfg, dm.fold.name
    )  # the run folder and its lock are checked before the audio is read
    check_same_config(out, cfg)
    done = finished(out, verbose)
    if done is None:
        with run_lock(out):
            done = finished(out, verbose)  # another process may have finished it meanwhile
            if done is None:
                return _fit_and_test(cfg, dm, out, extra_callbacks, verbose)
    return done


def _fit_and_test(
    cfg: Config, dm: EmotionDataModule, out: Path, extra_callbacks, verbose: bool
) -> dict:
    results_file = out / "results.json"
    dm.setup()  # reads the audio: an unreadable file stops the run here, before anything is written
    save_config(cfg, out / "config.yaml")
    # appended at every (re)start: a resumed run shows each code version that trained it
    with open(out / "provenance.jsonl", "a") as f:
        f.write(json.dumps(provenance()) + "\n")
    if verbose:
        log.info(dm.describe())
        if cfg.corpus == "synthetic_demo":
            log.info(SYNTHETIC_NOTE)

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    lit = LitMTLAug(cfg, dm.class_names, dm.class_counts, len(dm.fold.train), logmel=dm.logmel)
    ckpt_dir = out / "checkpoints"
    best = ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="best",
        monitor="val/uar",
        mode="max",
        enable_version_counter=False,
    )
    # every epoch (save_last=True would write it only when `best` improves: a resume would
    # then restart from the best epoch, not the last one)
    latest = ModelCheckpoint(dirpath=ckpt_dir, filename="last", enable_version_counter=False)
    callbacks = [best, latest, *extra_callbacks]
    if cfg.train.patience is not None:
        callbacks.append(EarlyStopping(monitor="val/uar", mode="max", patience=cfg.train.patience))
    trainer = make_trainer(cfg, out, callbacks, enable_progress=verbose)
    last, fit_file = ckpt_dir / "last.ckpt", out / "fit.json"
    if last.is_file() or fit_file.is_file():
        carry_metrics(out, "save")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*exists and is not empty.*")
        if fit_file.is_file():  # fitting finished before a crash in testing: test only
            fit = json.loads(fit_file.read_text())
        else:
            if last.is_file():
                check_checkpoint(
                    last,
                    resume=True,
                    advice=(
                        f"to resume from an earlier epoch, copy {ckpt_dir / 'best.ckpt'} over it "
                        f"(if that file is whole); "
                        f"or delete {out} to start the fold again"
                    ),
                )
                if verbose:
                    log.info(f"resuming from {last}")
            started = time.monotonic()
            trainer.fit(lit, datamodule=dm, ckpt_path=last if last.is_file() else None)
            last_val = trainer.callback_metrics.get("val/uar")
            if (
                last_val is None
            ):  # a crash after the final last.ckpt, before fit.json: nothing left to train
                logged = pd.read_csv(out / "metrics.resume.csv").dropna(subset=["val/uar"])
                last_val = logged.sort_values("epoch")["val/uar"].iloc[-1]
            fit = {
                "best_val_uar": float(best.best_model_score),
                "last_val_uar": float(last_val),
                "epochs_trained": trainer.current_epoch,
                # seconds of fitting in the process that finished it (a resumed run: its last part)
                "fit_s": round(time.monotonic() - started, 1),
            }
            if trainer.is_global_zero:
                fit_file.write_text(json.dumps(fit) + "\n")
        results = {
            "corpus": cfg.corpus,
            "variant": cfg.variant,
            "seed": cfg.seed,
            "fold": dm.fold.name,
            "test_speakers": list(dm.fold.test),
            "val_speakers": list(dm.fold.val),
            "train_speakers": list(dm.fold.train),
            "class_names": dm.class_names,
            "checkpoint": str(ckpt_dir / f"{cfg.train.select}.ckpt"),
            **fit,
            "val_uar": fit[f"{cfg.train.select}_val_uar"],
            "provenance": provenance(),
        }
        if cfg.corpus == "synthetic_demo":
            results["note"] = SYNTHETIC_NOTE
        if dm.fold.test:
            trainer.test(lit, datamodule=dm, ckpt_path=results["checkpoint"], verbose=False)
            test = lit.test_results
            results.update({k: test[k] for k in ("uar", "wa", "recall", "confusion", "n")})
    carry_metrics(out, "restore")
    if not trainer.is_global_zero:  # DDP: one rank writes
        return results
    if dm.fold.test:
        write_predictions(out / "predictions.csv", dm.frames["test"], test, dm.class_names)
    results_file.write_text(json.dumps(results, indent=2) + "\n")
    if verbose:
        log.info(fold_summary(results, out))
    return results
