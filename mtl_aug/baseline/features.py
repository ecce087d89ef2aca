"""openSMILE ComParE_2016 functionals (6373 per utterance) from the audio the network reads
(data.audio.load_audio at data.sample_rate), cached per manifest so that each protocol does not
extract them again."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Config
from ..data.audio import load_audio
from ..data.datamodule import load_labelled
from ..data.manifest import manifest_path, read_manifest
from ..errors import DataError

log = logging.getLogger(__name__)

FEATURE_SET = "ComParE_2016"
N_FUNCTIONALS = 6373


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


def _key(manifest: Path, sample_rate: int) -> str:
    import opensmile

    h = hashlib.sha256(manifest.read_bytes())
    h.update(f"{FEATURE_SET} {sample_rate} opensmile {opensmile.__version__}".encode())
    return h.hexdigest()


def manifest_functionals(cfg: Config, corpus: str) -> dict[str, np.ndarray]:
    """Every utterance of one prepared manifest: {path: (6373,) functionals}, extracted once and
    cached under train.run_dir/features/ (again when the manifest, the sample rate or the
    openSMILE version changes)."""
    manifest = manifest_path(cfg.data.manifest_dir, corpus)
    df = read_manifest(manifest)
    key, cache = _key(manifest, cfg.data.sample_rate), cache_file(cfg, corpus)
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            if str(z["key"]) == key:
                return dict(zip(z["paths"].tolist(), z["x"], strict=True))
        log.info(f"{cache}: made from another manifest or version, extracted again")
    log.info(f"{corpus}: extracting {FEATURE_SET} functionals of {len(df)} utterances")
    x = extract(df["path"].tolist(), cfg.data.sample_rate)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}.npz")  # whole or absent
    np.savez(tmp, x=x, paths=np.array(df["path"].tolist()), key=np.array(key))
    os.replace(tmp, cache)
    (cache.with_suffix(".json")).write_text(
        json.dumps({"manifest": str(manifest), "utterances": len(df), "key": key}) + "\n"
    )
    return dict(zip(df["path"].tolist(), x, strict=True))


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
