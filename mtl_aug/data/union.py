"""Several corpora in one run (docs/multi_corpus.md): the union of the unlabelled manifests."""

from __future__ import annotations

import pandas as pd

from ..config import Config
from ..errors import DataError
from .corpora import read_corpus


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
