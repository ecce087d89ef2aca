"""Noise recordings: DEMAND (<ENV>/chNN.wav; 16 kHz or 48 kHz folders, resampled on load)
or any folder of audio files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...errors import DataError
from ..manifest import Report, audio_files, inspect_audio, make_row, write_manifest


def prepare_noise(
    root: Path, out: Path, strict: bool = False, corpus: str = "demand"
) -> pd.DataFrame:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"noise folder {root} does not exist")
    files = audio_files(root)
    if not files:
        raise DataError(
            f"no audio files under {root}: expected DEMAND's <ENV>/chNN.wav "
            "or a folder of noise recordings"
        )
    report = Report(corpus, strict)
    rows = []
    for path in files:
        audio = inspect_audio(path, report)
        if audio is None:
            continue
        # DEMAND: the environment folder is the "speaker" (a noise type); flat folder: the file
        env = path.parent.name if path.parent != root else path.stem
        rows.append(
            make_row(root, path, corpus, audio, id_from_path=True, speaker=env, style="noise")
        )
    return write_manifest(rows, out, root, report)
