"""Berlin EMODB: wav/SSTTTEV.wav (speaker, text, emotion, version)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ...errors import DataError
from ..manifest import Report, inspect_audio, make_row, write_manifest

NAME = re.compile(r"^(\d\d)([a-b]\d\d)([WLEAFTN])([a-z])$")
MALE = {"03", "10", "11", "12", "15"}
FEMALE = {"08", "09", "13", "14", "16"}


def prepare_emodb(root: Path, out: Path, strict: bool = False) -> pd.DataFrame:
    root = Path(root)
    wav_dir = root / "wav"
    if not wav_dir.is_dir():
        raise DataError(
            f"no wav/ folder under {root}: is this the unpacked EMODB (wav/03a01Fa.wav ...)?"
        )
    report = Report("emodb", strict)
    rows = []
    for wav in sorted(wav_dir.iterdir()):
        if wav.suffix.lower() != ".wav":
            report.skip("not a .wav file", wav)
            continue
        m = NAME.match(wav.stem)
        if not m:
            report.skip("file name not of the form SSTTTEV (unknown speaker or emotion code)", wav)
            continue
        speaker, _text, emo, _version = m.groups()
        if speaker not in MALE | FEMALE:
            report.skip(f"unknown speaker '{speaker}'", wav)
            continue
        audio = inspect_audio(wav, report)
        if audio is None:
            continue
        rows.append(
            make_row(
                root,
                wav,
                "emodb",
                audio,
                speaker=speaker,
                gender="M" if speaker in MALE else "F",
                emotion=emo,
                style="acted",
            )
        )
    return write_manifest(rows, out, root, report)
