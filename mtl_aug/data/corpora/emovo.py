"""EMOVO (Costantini et al. 2014), Italian: <speaker>/<emo>-<speaker>-<sentence>.wav anywhere
under the root; 6 actors (f1-f3 female, m1-m3 male), 7 emotions x 14 sentences each. Native
labels are the Italian codes: dis (disgust), gio (joy), neu, pau (fear), rab (anger),
sor (surprise), tri (sadness). 48 kHz, mostly stereo (loading averages the channels)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ...errors import DataError
from ..manifest import Report, audio_files, inspect_audio, make_row, write_manifest
from .expected import check_count

FILE = re.compile(r"^([a-z]+)-([a-z]+\d+)-([a-z]+\d+)$", re.IGNORECASE)
EMOTIONS = ("dis", "gio", "neu", "pau", "rab", "sor", "tri")
SPEAKERS = ("f1", "f2", "f3", "m1", "m2", "m3")
EXPECTED = {e: 6 * 14 for e in EMOTIONS}


def prepare_emovo(root: Path, out: Path, strict: bool = False) -> pd.DataFrame:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"EMOVO folder {root} does not exist")
    files = audio_files(root)
    if not any(FILE.match(p.stem) for p in files):
        raise DataError(
            f"no <emotion>-<speaker>-<sentence> audio files under {root}: "
            "is this EMOVO (f1/dis-f1-b1.wav ...)?"
        )
    report = Report("emovo", strict)
    rows = []
    for path in files:
        m = FILE.match(path.stem)
        if not m:
            report.skip("file name not of the form <emotion>-<speaker>-<sentence>", path)
            continue
        emotion, speaker, _sentence = (g.lower() for g in m.groups())
        if emotion not in EMOTIONS:
            report.skip(f"unknown emotion code '{emotion}'", path)
            continue
        if speaker not in SPEAKERS:
            report.skip(f"unknown speaker '{speaker}'", path)
            continue
        folder = path.parent.name.lower()
        if folder in SPEAKERS and folder != speaker:
            report.skip("the file name's speaker differs from its folder's", path)
            continue
        audio = inspect_audio(path, report)
        if audio is None:
            continue
        rows.append(
            make_row(
                root,
                path,
                "emovo",
                audio,
                speaker=speaker,
                gender=speaker[0].upper(),
                emotion=emotion,
                style="acted",
            )
        )
    extra = check_count(report, rows, EXPECTED)
    return write_manifest(rows, out, root, report, extra=extra)
