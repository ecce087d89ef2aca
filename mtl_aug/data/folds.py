"""Speaker-independent folds: one speaker out for test, other held-out speaker(s) validate."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..errors import DataError


@dataclass(frozen=True)
class Fold:
    test: tuple[str, ...]
    val: tuple[str, ...]
    train: tuple[str, ...]

    @property
    def name(self) -> str:
        return "+".join(self.test) if self.test else "all"


def speakers(df: pd.DataFrame) -> list[str]:
    return sorted(df["speaker"].unique())


def validation_speakers(df: pd.DataFrame, test: str) -> tuple[str, ...]:
    """The other speaker(s) of the test speaker's session (IEMOCAP, MSP-IMPROV); where a corpus
    has no sessions, or one session would leave no training speaker, the next speaker in sorted
    order (cyclic)."""
    spk = speakers(df)
    session = df.loc[df["speaker"] == test, "session"].iloc[0]
    if session:
        same = sorted(set(df.loc[(df["session"] == session) & (df["speaker"] != test), "speaker"]))
        if same and len(spk) - 1 - len(same) >= 1:  # leave at least one training speaker
            return tuple(same)
    return (spk[(spk.index(test) + 1) % len(spk)],)


def loso_fold(df: pd.DataFrame, test: str) -> Fold:
    spk = speakers(df)
    if test not in spk:
        raise DataError(
            f"fold speaker '{test}' is not in the manifest (speakers: {', '.join(spk)})"
        )
    if len(spk) < 3:
        raise DataError(
            f"leave-one-speaker-out needs at least 3 speakers, the manifest has {len(spk)}"
        )
    val = validation_speakers(df, test)
    train = tuple(s for s in spk if s != test and s not in val)
    return Fold(test=(test,), val=val, train=train)


def loso_folds(df: pd.DataFrame) -> list[Fold]:
    return [loso_fold(df, s) for s in speakers(df)]


def all_speakers_fold(df: pd.DataFrame) -> Fold:
    """Train on a whole corpus (for cross-corpus tests): the first speaker's validation
    speaker(s) are held out for model selection, everything else trains."""
    spk = speakers(df)
    val = validation_speakers(df, spk[0]) + (spk[0],)
    return Fold(test=(), val=tuple(sorted(set(val))), train=tuple(s for s in spk if s not in val))
