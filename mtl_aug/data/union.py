"""Several corpora in one run (docs/multi_corpus.md): the union of the unlabelled manifests and
each training corpus's own log-mel statistics (features.corpus_stats = per_corpus)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from ..config import Config
from ..errors import DataError
from .audio import LogMel
from .corpora import read_corpus

if TYPE_CHECKING:
    from .dataset import UtteranceDataset

# an unlabelled manifest that is no labelled training corpus (LibriSpeech: up to 100 h) has its
# statistics taken over this many of its utterances, spread evenly over the manifest
UNLABELLED_CORPUS_STATS_UTTERANCES = 200


def read_unlabelled(cfg: Config, held_out: set[tuple[str, str]]) -> tuple[pd.DataFrame, list[str]]:
    """The union of the data.unlabelled manifests, each row's manifest name in `source` (and,
    for two or more, its speaker as `name:<speaker>`). Where a labelled corpus is named, the
    rows of the run's validation and test speakers, `held_out` as (corpus, speaker in its
    manifest), are left out, all their audio (utterances outside the class set too), so that no
    evaluated speaker trains the auxiliary tasks; returns the rows and one note a manifest
    (`name rows`, and how many were left out)."""
    parts = cfg.data.unlabelled_parts
    frames, notes = [], []
    for part in parts:
        df = read_corpus(cfg.data.manifest_dir, part)
        keep = ~pd.Series([(part, s) in held_out for s in df["speaker"]], index=df.index)
        if not keep.any():
            raise DataError(
                f"data.unlabelled: every row of {part} is of a validation or test speaker of "
                "this run: none is left for the auxiliary tasks"
            )
        df = df[keep].copy()
        if len(parts) > 1:
            df["speaker"] = f"{part}:" + df["speaker"]
        df["source"] = part
        gone = int((~keep).sum())
        notes.append(
            f"{part} {len(df)}" + (f" ({gone} of val/test speakers left out)" if gone else "")
        )
        frames.append(df)
    return pd.concat(frames, ignore_index=True), notes


def clamped(stats: torch.Tensor) -> torch.Tensor:
    """(2, F) statistics with the std floored as LogMel.fit floors the pooled one."""
    return torch.stack([stats[0], stats[1].clamp(min=1e-3)])


def set_corpus_stats(
    logmel: LogMel, train: UtteranceDataset, unlabelled: UtteranceDataset | None = None
) -> dict[str, torch.Tensor]:
    """features.corpus_stats = per_corpus: each labelled training item is given the statistics
    of its corpus's training items; each unlabelled item those of its manifest, which are the
    same for a labelled corpus named there (its rows here are training utterances) and, for
    another manifest, its own over up to UNLABELLED_CORPUS_STATS_UTTERANCES of its items.
    Returns the statistics by corpus (2, F each)."""
    sources = train.df["source"].tolist()
    stats = {k: clamped(v) for k, v in logmel.speaker_stats(sources, train.wave).items()}
    train.set_stats(sources, stats)
    if unlabelled is not None:
        keys = unlabelled.df["source"].tolist()
        for name, idx in pd.Series(range(len(keys))).groupby(keys).indices.items():
            if name not in stats:
                n = min(len(idx), UNLABELLED_CORPUS_STATS_UTTERANCES)
                spread = idx[np.unique(np.linspace(0, len(idx) - 1, n).round().astype(int))]
                stats[name] = clamped(logmel.stats([unlabelled.wave(int(i)) for i in spread]))
        unlabelled.set_stats(keys, stats)
    return stats
