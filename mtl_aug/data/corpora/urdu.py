"""URDU (Latif et al. 2018): <Emotion>/SGX_FYY_EZZ.{wav,flac}, gender G and speaker number X
(SM1_F01_A12: male speaker 1); 4 emotion folders Angry, Happy, Neutral, Sad."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .folders import prepare_folders

SPEAKER = r"/S(?P<speaker>(?P<gender>[MF])\d+)_F\d+_"


def prepare_urdu(root: Path, out: Path, strict: bool = False) -> pd.DataFrame:
    return prepare_folders(root, out, strict, corpus="urdu", speaker=SPEAKER)
