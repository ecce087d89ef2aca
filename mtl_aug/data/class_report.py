"""How a class set takes a manifest's labels, in one line that `prepare` prints and training's
description of the corpus repeats, so that the two agree (same counts, same words)."""

from __future__ import annotations

import pandas as pd

from .manifest import apply_class_map


def class_set_summary(df: pd.DataFrame, classes: str) -> str:
    """Of a manifest's utterances (one corpus), how many and how many speakers the class set
    `classes` keeps (as training's apply_class_map will), and each label outside it, counted;
    '' for a manifest without emotion labels (unlabelled speech, noise)."""
    if not (df["emotion"] != "").any():
        return ""
    kept, names, dropped = apply_class_map(df, classes)
    head = f"class set {classes} ({', '.join(names)})"
    n, speakers = len(df), df["speaker"].nunique()
    if not dropped:
        return f"{head}: all {n} utterances and {speakers} speakers in it"
    outside = ", ".join(f"{k or '<none>'} {v}" for k, v in sorted(dropped.items()))
    return (
        f"{head}: {len(kept)} of {n} utterances and {kept['speaker'].nunique()} of {speakers} "
        f"speakers in it; {len(dropped)} label(s) outside it, dropped in training: {outside}"
    )
