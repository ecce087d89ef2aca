"""TurEV-DB (Canpolat et al. 2020): <Emotion>/<speaker>_<code>_<word>.{wav,flac}; 6 speakers,
emotion folders Angry, Calm, Happy, Sad."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .folders import prepare_folders

SPEAKER = r"/(?P<speaker>\d+)_[^/]*$"


def prepare_turev(root: Path, out: Path, strict: bool = False) -> pd.DataFrame:
    return prepare_folders(root, out, strict, corpus="turev", speaker=SPEAKER)
