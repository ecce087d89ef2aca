"""openSMILE ComParE_2016 functionals (6373 per utterance) from the audio the network reads
(data.audio.load_audio at data.sample_rate), cached per corpus so that each protocol does not
extract them again. The cache keys each utterance on its manifest row (IDENTITY: the path as the
manifest writes it, `{data_root}/...`, not the absolute path): a corpus prepared again from
another place keeps its functionals, and only utterances the cache lacks are extracted."""

from __future__ import annotations

import json
import logging
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Config
from ..data.audio import load_audio
from ..data.datamodule import load_labelled
from ..data.manifest import ROOT_TOKEN, manifest_path, read_manifest
from ..errors import DataError

log = logging.getLogger(__name__)

FEATURE_SET = "ComParE_2016"
N_FUNCTIONALS = 6373
# what identifies an utterance's audio in the cache: its manifest row's id, its path as the
# manifest writes it (`{data_root}/...` below the folder it was prepared from, else absolute)
# and its header facts (a file re-recorded or resampled under the same name reads otherwise)
IDENTITY = ("utt_id", "path", "duration", "sample_rate", "channels")


def smile():
    import opensmile

    return opensmile.Smile(
        feature_set=opensmile.FeatureSet.ComParE_2016,
        feature_level=opensmile.FeatureLevel.Functionals,
    )


def extract(paths: list[str], sample_rate: int) -> np.ndarray:
    """(N, 6373) float32 functionals of the files, read as the network reads them. openSMILE
    leaves a functional undefined (NaN) on some very short inputs: set to 0 and counted."""
    s, rows = smile(), []
    for p in paths:
        wave = load_audio(p, sample_rate).numpy()
        rows.append(s.process_signal(wave, sample_rate).to_numpy(dtype=np.float32)[0])
    x = np.stack(rows) if rows else np.zeros((0, N_FUNCTIONALS), np.float32)
    bad = ~np.isfinite(x)
    if bad.any():
        log.warning(
            f"{int(bad.any(1).sum())} of {len(x)} utterances had undefined functionals "
            f"({int(bad.sum())} values), set to 0"
        )
        x[bad] = 0.0
    return x


def cache_file(cfg: Config, corpus: str) -> Path:
    name = f"{corpus}.{FEATURE_SET}.{cfg.data.sample_rate}.npz"
    return Path(cfg.train.run_dir) / "features" / name


def _version(sample_rate: int) -> str:
    """What the numbers depend on besides the audio: a cache made otherwise is not used."""
    import opensmile

    return f"{FEATURE_SET} {sample_rate} opensmile {opensmile.__version__}"


def _identities(manifest: Path) -> list[tuple[str, ...]]:
    """Each row's IDENTITY, as strings, the path as the manifest writes it (`{data_root}/...`)."""
    raw = read_manifest(manifest, data_root=ROOT_TOKEN)  # the token replaced by itself
    return list(zip(*(raw[c].astype(str) for c in IDENTITY), strict=True))


def _cached(cache: Path, version: str) -> dict[tuple[str, ...], np.ndarray]:
    """The cache's rows by identity; none (said why) from another version or an older format."""
    if not cache.is_file():
        return {}
    try:
        with np.load(cache, allow_pickle=False) as z:
            if "rows" not in z.files or tuple(z["columns"].tolist()) != IDENTITY:
                log.info(
                    f"{cache}: written by an older mtl_aug (rows keyed on absolute paths), "
                    "extracted again"
                )
                return {}
            if str(z["version"]) != version:
                log.info(f"{cache}: made with {z['version']}, not {version}: extracted again")
                return {}
            return {tuple(r): x for r, x in zip(z["rows"].tolist(), z["x"], strict=True)}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        log.warning(f"{cache}: not readable ({type(exc).__name__}: {exc}), extracted again")
        return {}


def manifest_functionals(cfg: Config, corpus: str) -> dict[str, np.ndarray]:
    """Every utterance of one prepared manifest: {absolute path: (6373,) functionals}, cached
    under train.run_dir/features/. The cache's rows are keyed on the manifest's IDENTITY
    columns (the path as written, `{data_root}/...`, not the absolute one), so a corpus that
    moves keeps them; the rows it lacks (new utterances; files named by absolute paths that
    moved) are extracted and added. It holds the manifest's utterances only: rows the manifest
    no longer has are dropped when it is written again. All are extracted again when the
    sample rate or the openSMILE version changes."""
    manifest = manifest_path(cfg.data.manifest_dir, corpus)
    df = read_manifest(manifest)
    ids = _identities(manifest)  # the same rows in the same order
    if len(ids) != len(df):  # cannot happen unless the manifest changes while this runs
        raise DataError(f"{manifest} changed while it was read: run again")
    version, cache = _version(cfg.data.sample_rate), cache_file(cfg, corpus)
    cached = _cached(cache, version)
    where = dict(zip(ids, df["path"], strict=True))
    todo = [i for i in where if i not in cached]
    dropped = len(cached.keys() - where.keys())
    if todo:
        log.info(
            f"{corpus}: {len(todo)} of {len(where)} utterances not in the feature cache, "
            f"extracting their {FEATURE_SET} functionals"
        )
        new = extract([where[i] for i in todo], cfg.data.sample_rate)
        cached.update(zip(todo, new, strict=True))
    kept = {i: cached[i] for i in where}
    if todo or dropped:
        if dropped:
            log.info(
                f"{corpus}: {dropped} utterances no longer in the manifest, dropped from {cache}"
            )
        rows = np.array(list(kept), dtype=str).reshape(-1, len(IDENTITY))
        x = np.stack(list(kept.values())) if kept else np.zeros((0, N_FUNCTIONALS), np.float32)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.npz")  # whole or absent
        np.savez(tmp, x=x, rows=rows, columns=np.array(IDENTITY), version=np.array(version))
        os.replace(tmp, cache)
        (cache.with_suffix(".json")).write_text(
            json.dumps({"manifest": str(manifest), "utterances": len(kept), "version": version})
            + "\n"
        )
    return {where[i]: v for i, v in kept.items()}


def labelled_functionals(
    cfg: Config, corpus: str | None = None
) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """load_labelled's frame (class map applied; `a+b` a union), its class names and the
    (N, 6373) functionals of its rows."""
    df, names, _ = load_labelled(cfg, corpus)
    table: dict[str, np.ndarray] = {}
    for part in (corpus or cfg.corpus).split("+"):
        table.update(manifest_functionals(cfg, part))
    missing = [p for p in df["path"] if p not in table]
    if missing:  # cannot happen unless a manifest changes while this runs
        raise DataError(f"{missing[0]}: no functionals in the cache of its manifest")
    return df.reset_index(drop=True), names, np.stack([table[p] for p in df["path"]])
