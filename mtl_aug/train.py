"""Train one fold: a run directory with the resolved config, logs, checkpoints and results.json.

Started again with the same command, a run resumes from its last checkpoint; a finished run
(results.json present) is reported, not re-run."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import warnings
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from pytorch_lightning.utilities import rank_zero_only

from .config import default_config, save_config
from .data import EmotionDataModule
from .errors import ConfigError, DataError
from .lit import LitMTLAug, check_checkpoint
from .provenance import provenance

SYNTHETIC_NOTE = "SYNTHETIC demo corpus: not real speech; these numbers say nothing about real emotion recognition"


def run_dir(cfg: dict, fold_name: str) -> Path:
    return Path(cfg["train"]["run_dir"]) / cfg["corpus"] / cfg["variant"] / f"seed{cfg['seed']}" / fold_name


def fold_checkpoint(cfg: dict, fold_name: str, results: dict | None = None) -> Path:
    """The checkpoint a finished fold tested (its results.json's `checkpoint`, or `results`' if
    given, as train_fold returns them), found in its run dir under cfg's train.run_dir as it is
    now (runs/ may have moved since training); a DataError when the fold has not finished."""
    out = run_dir(cfg, fold_name)
    if results is not None:
        return out / "checkpoints" / Path(results["checkpoint"]).name
    if not (out / "results.json").is_file():
        raise DataError(f"{out / 'results.json'} not found: fold {fold_name} of {cfg['corpus']} / {cfg['variant']} / "
                        f"seed {cfg['seed']} has not finished training (make loso CORPUS={cfg['corpus']} "
                        f"SEEDS={cfg['seed']}, with the same CONFIG and SET)")
    return out / "checkpoints" / Path(json.loads((out / "results.json").read_text())["checkpoint"]).name


# Where outputs go and how many processes load the data: neither changes what is computed
# (augmentation draws come from per-item seeds), so a run may resume from a moved runs/ or with
# more loader workers.
NOT_COMPUTED = {"train": ("run_dir",), "data": ("num_workers",), None: ("results_dir",)}


def _computed(cfg: dict) -> dict:
    """cfg without the NOT_COMPUTED keys."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in cfg.items()}
    for section, keys in NOT_COMPUTED.items():
        for key in keys:
            (out[section] if section else out).pop(key, None)
    return out


_ABSENT = object()   # a key one of two configs lacks


def check_same_config(out: Path, cfg: dict) -> None:
    """Refuse a run folder whose saved config differs, naming the keys; a folder where nothing
    was trained yet (no checkpoint, no result: a run killed in its first epoch) is retrained."""
    import yaml
    saved = out / "config.yaml"
    if not saved.is_file():
        return
    old, new = _flat(_computed(yaml.safe_load(saved.read_text()))), _flat(_computed(cfg))
    # a key added to default.yaml since that run, at its default, computes what the run's code did
    # (new options default to the old behaviour)
    defaults = _flat(default_config())
    old.update({k: v for k, v in new.items() if k not in old and k in defaults and v == defaults[k]})
    diff = [f"{k}: {old.get(k, '<absent>')!r} -> {new.get(k, '<absent>')!r}"
            for k in sorted(set(old) | set(new)) if old.get(k, _ABSENT) != new.get(k, _ABSENT)]
    if not diff:
        return
    if not any((out / f).is_file() for f in ("checkpoints/last.ckpt", "fit.json", "results.json")):
        print(f"{out}: nothing trained there yet; starting it again with this config ({'; '.join(diff[:3])}"
              f"{' ...' if len(diff) > 3 else ''})")
        return
    raise ConfigError(f"{out} holds a run with a different config ({saved}): {'; '.join(diff[:8])}"
                      f"{f'; and {len(diff) - 8} more' if len(diff) > 8 else ''}. Resuming it with this config "
                      f"would mix the two: choose another train.run_dir or remove {out}")


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in tree.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def make_trainer(cfg: dict, out: Path | None, callbacks: list = (), enable_progress: bool = True) -> pl.Trainer:
    t = cfg["train"]
    deterministic = t["deterministic"]
    if deterministic and torch.cuda.is_available() and t["accelerator"] != "cpu":
        deterministic = "warn"  # some CUDA kernels (e.g. transposed-conv backward) have no deterministic version
    loggers = [CSVLogger(out, name="", version="", flush_logs_every_n_steps=1),
               TensorBoardLogger(out, name="tensorboard", version="")] if out else False
    return pl.Trainer(
        max_epochs=t["max_epochs"], accelerator=t["accelerator"], devices=t["devices"], strategy=t["strategy"],
        precision=t["precision"], gradient_clip_val=t["gradient_clip"], deterministic=deterministic,
        limit_train_batches=t["limit_train_batches"], logger=loggers, callbacks=list(callbacks),
        enable_progress_bar=enable_progress, enable_model_summary=False, log_every_n_steps=1,
        default_root_dir=out, num_sanity_val_steps=0, enable_checkpointing=out is not None)


def train_fold(cfg: dict, fold_speaker: str | None = None, all_speakers: bool = False,
               extra_callbacks: list = (), verbose: bool = True) -> dict:
    """Fit one fold and test its final model (train.select = last) or the epoch best on the
    validation speaker(s) (best); returns results."""
    dm = EmotionDataModule(cfg, fold_speaker, all_speakers=all_speakers)   # manifest errors surface here
    out = run_dir(cfg, dm.fold.name)   # the run folder and its lock are checked before the audio is read
    check_same_config(out, cfg)
    finished = _finished(out, verbose)
    if finished is None:
        with run_lock(out):
            finished = _finished(out, verbose)   # another process may have finished it meanwhile
            if finished is None:
                return _fit_and_test(cfg, dm, out, extra_callbacks, verbose)
    return finished


def _finished(out: Path, verbose: bool) -> dict | None:
    """results.json of a finished run, or None."""
    results_file = out / "results.json"
    if not results_file.is_file():
        return None
    results = json.loads(results_file.read_text())
    if verbose:
        print(f"{out}: finished earlier, not re-run (delete it to train again); its results:")
        print(summary(results, out))
    return results


@contextlib.contextmanager
def run_lock(out: Path):
    """Hold an exclusive lock on `out/train.lock` while training in `out`. A second process on
    the same run dir (a loso started twice, fold workers left running by a killed parent, two
    machines on one file system) would overwrite the first one's checkpoints: it is refused,
    told the holder's host and process id, which the file keeps. The operating system releases
    the lock when its process ends, however it ends: a crash or a kill leaves nothing to clean
    up. Under DDP, rank 0 holds it for all ranks."""
    if rank_zero_only.rank != 0:
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    path = out / "train.lock"
    with open(path, "a+") as f:   # writable: NFS grants flock on files open for writing only
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            raise DataError(f"{out} is being trained by another process ({f.read().strip() or 'starting'}, "
                            f"per {path}); wait for it to finish, or stop it") from None
        except OSError as e:   # e.g. Lustre mounted without flock
            warnings.warn(f"{path}: the file system does not support locks ({e.strerror}); nothing stops "
                          f"a second process from training {out} at the same time")
        f.truncate(0)
        f.write(f"{socket.gethostname()} {os.getpid()}\n")
        f.flush()
        yield


def _fit_and_test(cfg: dict, dm: EmotionDataModule, out: Path, extra_callbacks, verbose: bool) -> dict:
    results_file = out / "results.json"
    dm.setup()   # reads the audio: an unreadable file stops the run here, before anything is written
    save_config(cfg, out / "config.yaml")
    # appended at every (re)start: a resumed run shows each code version that trained it
    with open(out / "provenance.jsonl", "a") as f:
        f.write(json.dumps(provenance()) + "\n")
    if verbose:
        print(dm.describe())
        if cfg["corpus"] == "synthetic_demo":
            print(SYNTHETIC_NOTE)

    pl.seed_everything(cfg["seed"], workers=True, verbose=False)
    lit = LitMTLAug(cfg, dm.class_names, dm.class_counts, len(dm.fold.train))
    if cfg["features"]["normalise"] != "utterance":   # speaker: what `predict` uses for a file on its own
        train = dm.datasets["train"]
        lit.logmel.set_corpus_stats(*lit.logmel.stats([train.wave(i) for i in range(len(train))]))
    ckpt_dir = out / "checkpoints"
    best = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor="val/uar", mode="max",
                           enable_version_counter=False)
    # every epoch (save_last=True would write it only when `best` improves: a resume would
    # then restart from the best epoch, not the last one)
    latest = ModelCheckpoint(dirpath=ckpt_dir, filename="last", enable_version_counter=False)
    callbacks = [best, latest, *extra_callbacks]
    if cfg["train"]["patience"] is not None:
        callbacks.append(EarlyStopping(monitor="val/uar", mode="max", patience=cfg["train"]["patience"]))
    trainer = make_trainer(cfg, out, callbacks, enable_progress=verbose)
    last, fit_file = ckpt_dir / "last.ckpt", out / "fit.json"
    if last.is_file() or fit_file.is_file():
        _carry_metrics(out, "save")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*exists and is not empty.*")
        if fit_file.is_file():  # fitting finished before a crash in testing: test only
            fit = json.loads(fit_file.read_text())
        else:
            if last.is_file():
                check_checkpoint(last, resume=True, advice=(
                    f"to resume from an earlier epoch, copy {ckpt_dir / 'best.ckpt'} over it (if that file is whole); "
                    f"or delete {out} to start the fold again"))
                if verbose:
                    print(f"resuming from {last}")
            trainer.fit(lit, datamodule=dm, ckpt_path=last if last.is_file() else None)
            last_val = trainer.callback_metrics.get("val/uar")
            if last_val is None:   # a crash after the final last.ckpt, before fit.json: nothing left to train
                logged = pd.read_csv(out / "metrics.resume.csv").dropna(subset=["val/uar"])
                last_val = logged.sort_values("epoch")["val/uar"].iloc[-1]
            fit = {"best_val_uar": float(best.best_model_score), "last_val_uar": float(last_val),
                   "epochs_trained": trainer.current_epoch}
            if trainer.is_global_zero:
                fit_file.write_text(json.dumps(fit) + "\n")
        results = {"corpus": cfg["corpus"], "variant": cfg["variant"], "seed": cfg["seed"],
                   "fold": dm.fold.name, "test_speakers": list(dm.fold.test), "val_speakers": list(dm.fold.val),
                   "train_speakers": list(dm.fold.train), "class_names": dm.class_names,
                   "checkpoint": str(ckpt_dir / f"{cfg['train']['select']}.ckpt"), **fit,
                   "val_uar": fit[f"{cfg['train']['select']}_val_uar"], "provenance": provenance()}
        if cfg["corpus"] == "synthetic_demo":
            results["note"] = SYNTHETIC_NOTE
        if dm.fold.test:
            trainer.test(lit, datamodule=dm, ckpt_path=results["checkpoint"], verbose=False)
            test = lit.test_results
            results.update({k: test[k] for k in ("uar", "wa", "recall", "confusion", "n")})
    _carry_metrics(out, "restore")
    if not trainer.is_global_zero:  # DDP: one rank writes
        return results
    if dm.fold.test:
        write_predictions(out / "predictions.csv", dm.frames["test"], test, dm.class_names)
    results_file.write_text(json.dumps(results, indent=2) + "\n")
    if verbose:
        print(summary(results, out))
    return results


def _carry_metrics(out: Path, step: str) -> None:
    """CSVLogger starts metrics.csv afresh when a run resumes. Before resuming ("save"), the rows
    so far go to metrics.resume.csv (merged with any earlier one: a run can crash twice); at the
    end ("restore"), the rows of epochs before the resume point are put back in front."""
    current, kept = out / "metrics.csv", out / "metrics.resume.csv"
    if step == "save":
        if current.is_file():
            rows = pd.read_csv(current)
            if kept.is_file():
                rows = _before(pd.read_csv(kept), rows)
            rows.to_csv(kept, index=False)
    elif kept.is_file():
        _before(pd.read_csv(kept), pd.read_csv(current)).to_csv(current, index=False)
        kept.unlink()


def _before(earlier: pd.DataFrame, later: pd.DataFrame) -> pd.DataFrame:
    """The rows of `earlier` from epochs before `later` resumed training (all of them if `later`
    only tested), then `later`."""
    fit_cols = [c for c in later.columns if c.startswith(("train/", "val/"))]
    fit_rows = later[later[fit_cols].notna().any(axis=1)] if fit_cols else later.iloc[:0]
    keep = earlier if fit_rows.empty else earlier[earlier["epoch"] < fit_rows["epoch"].min()]
    return pd.concat([keep, later], ignore_index=True)


def write_predictions(path: Path, frame: pd.DataFrame, test: dict, class_names: list[str]) -> None:
    rows = frame.iloc[test["index"].numpy()]
    table = pd.DataFrame({"utt_id": rows["utt_id"].values, "speaker": rows["speaker"].values,
                          "target": [class_names[i] for i in test["targets"]],
                          "pred": [class_names[i] for i in test["preds"]]})
    for j, name in enumerate(class_names):
        table[f"p_{name}"] = test["probs"][:, j].numpy().round(5)
    table.to_csv(path, index=False)


def confusion_table(confusion: list[list[int]], names: list[str]) -> str:
    width = max(6, *(len(n) for n in names)) + 1
    lines = ["true \\ pred".ljust(width) + "".join(n[:width - 1].rjust(width) for n in names)]
    lines += [name.ljust(width) + "".join(str(v).rjust(width) for v in row) for name, row in zip(names, confusion)]
    return "\n".join(lines)


def summary(r: dict, out: Path) -> str:
    lines = ["", "=" * 64, f"{r['corpus']} / {r['variant']} / seed {r['seed']} / fold {r['fold']}",
             f"validation UAR {r['last_val_uar']:.4f} at the end, best {r['best_val_uar']:.4f} "
             f"({', '.join(r['val_speakers'])}); {r['epochs_trained']} epochs; tested: {Path(r['checkpoint']).name}"]
    if "uar" in r:
        lines += [f"TEST  UAR {r['uar']:.4f}   WA {r['wa']:.4f}   ({r['n']} utterances, "
                  f"speaker {', '.join(r['test_speakers'])})", confusion_table(r["confusion"], r["class_names"])]
    if "note" in r:
        lines.append(r["note"])
    lines += [f"run directory: {out}", "=" * 64]
    return "\n".join(lines)
