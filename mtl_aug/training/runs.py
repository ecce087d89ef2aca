"""A fold's run folder: where it lives, the config it was made with (a resumed run must not
mix two), its lock, its finished results, and the metrics bookkeeping that survives a crash."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import warnings
from pathlib import Path

import pandas as pd
from pytorch_lightning.utilities import rank_zero_only

from ..config import Config, flat, upgrade
from ..errors import ConfigError, DataError
from ..reporting.report import fold_summary

log = logging.getLogger(__name__)


def run_dir(cfg: Config, fold_name: str) -> Path:
    return Path(cfg.train.run_dir) / cfg.corpus / cfg.variant / f"seed{cfg.seed}" / fold_name


def fold_checkpoint(cfg: Config, fold_name: str, results: dict | None = None) -> Path:
    """The checkpoint a finished fold tested (its results.json's `checkpoint`, or `results`' if
    given, as train_fold returns them), found in its run dir under cfg's train.run_dir as it is
    now (runs/ may have moved since training); a DataError when the fold has not finished."""
    out = run_dir(cfg, fold_name)
    if results is not None:
        return out / "checkpoints" / Path(results["checkpoint"]).name
    if not (out / "results.json").is_file():
        raise DataError(
            f"{out / 'results.json'} not found: fold {fold_name} of {cfg.corpus} / {cfg.variant} / "
            f"seed {cfg.seed} has not finished training (make loso CORPUS={cfg.corpus} "
            f"SEEDS={cfg.seed}, with the same CONFIG and SET)"
        )
    return (
        out
        / "checkpoints"
        / Path(json.loads((out / "results.json").read_text())["checkpoint"]).name
    )


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


def check_same_config(out: Path, cfg: Config, only: tuple[str, ...] = ()) -> None:
    """Refuse a run folder whose saved config differs, naming the keys (`only`: the keys, or
    prefixes of them, that its computation reads; default all); a folder where nothing was
    trained yet (no checkpoint, no result: a run killed in its first epoch) is retrained."""
    import yaml

    saved = out / "config.yaml"
    if not saved.is_file():
        return
    # an option added since that run takes the value that computes what the run's code did
    new = flat(_computed(cfg.to_dict()))
    try:
        old = flat(_computed(upgrade(yaml.safe_load(saved.read_text()), str(saved)).to_dict()))
        diff = [
            f"{k}: {old[k]!r} -> {new[k]!r}"
            for k in sorted(new)
            if old[k] != new[k] and k.startswith(only or "")
        ]
    except (ConfigError, yaml.YAMLError) as exc:  # another version's keys, a damaged file
        diff = [f"its config cannot be read by this version ({str(exc).splitlines()[0]})"]
    if not diff:
        return
    if not any((out / f).is_file() for f in ("checkpoints/last.ckpt", "fit.json", "results.json")):
        log.info(
            f"{out}: nothing trained there yet; starting it again with this config "
            f"({'; '.join(diff[:3])}"
            f"{' ...' if len(diff) > 3 else ''})"
        )
        return
    raise ConfigError(
        f"{out} holds a run with a different config ({saved}): {'; '.join(diff[:8])}"
        f"{f'; and {len(diff) - 8} more' if len(diff) > 8 else ''}. Resuming it with this config "
        f"would mix the two: choose another train.run_dir or remove {out}"
    )


def finished(out: Path, verbose: bool) -> dict | None:
    """results.json of a finished run, or None."""
    results_file = out / "results.json"
    if not results_file.is_file():
        return None
    results = json.loads(results_file.read_text())
    if verbose:
        log.info(f"{out}: finished earlier, not re-run (delete it to train again); its results:")
        log.info(fold_summary(results, out))
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
    with open(path, "a+") as f:  # writable: NFS grants flock on files open for writing only
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            raise DataError(
                f"{out} is being trained by another process ({f.read().strip() or 'starting'}, "
                f"per {path}); wait for it to finish, or stop it"
            ) from None
        except OSError as e:  # e.g. Lustre mounted without flock
            warnings.warn(
                f"{path}: the file system does not support locks ({e.strerror}); nothing stops "
                f"a second process from training {out} at the same time",
                stacklevel=2,
            )
        f.truncate(0)
        f.write(f"{socket.gethostname()} {os.getpid()}\n")
        f.flush()
        yield


def carry_metrics(out: Path, step: str) -> None:
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
