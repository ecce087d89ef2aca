"""TESS, the Toronto emotional speech set (Dupuis & Pichora-Fuller 2010):
<OAF|YAF>_<emotion>/<OAF|YAF>_<word>_<emotion>.wav anywhere under the root. Two speakers, both
female (OAF older, YAF younger), 200 words x 7 emotions each; native labels are the file names'
codes angry, disgust, fear, happy, neutral, ps (pleasant surprise), sad."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ...errors import DataError
from ..manifest import Report, audio_files, inspect_audio, make_row, write_manifest
from .expected import check_count

FOLDER = re.compile(r"^(OAF|YAF)_(.+)$", re.IGNORECASE)
FILE = re.compile(r"^([A-Z]+)_([a-z]+)_([a-z]+)$", re.IGNORECASE)
# folder or file-name emotion (lower-cased) -> native code; copies differ in the folders' case
# and spelling (OAF_Pleasant_surprise, YAF_pleasant_surprised)
EMOTIONS = {
    **{e: e for e in ("angry", "disgust", "fear", "happy", "neutral", "ps", "sad")},
    "pleasant_surprise": "ps",
    "pleasant_surprised": "ps",
}
TYPOS = {"OA_bite_neutral": "OAF"}  # upstream file name with its speaker cut short
# Replaced in the GitHub copy NidupDorji/SpeechEmotionRecognitionSystemUsingPython by other
# recordings (5 s, 44.1 kHz float, peaks above 1.0); left out of every copy so counts agree.
REPLACED = {"OAF_back_angry", "YAF_beg_sad"}
REPLACED_REASON = "replaced in the GitHub copy by another recording (5 s at 44.1 kHz)"
EXPECTED = {e: 400 for e in ("angry", "disgust", "fear", "happy", "neutral", "ps", "sad")}
EXPECTED.update(angry=399, sad=399)  # less the two replaced files


def prepare_tess(root: Path, out: Path, strict: bool = False) -> pd.DataFrame:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"TESS folder {root} does not exist")
    files = [p for p in audio_files(root) if FOLDER.match(p.parent.name)]
    if not files:
        raise DataError(
            f"no audio files in OAF_<emotion>/ or YAF_<emotion>/ folders under {root}: "
            "is this TESS (OAF_angry/OAF_back_angry.wav ...)?"
        )
    report = Report("tess", strict)
    rows = []
    for path in files:
        speaker, folder_emo = FOLDER.match(path.parent.name).groups()
        speaker = speaker.upper()
        emotion = EMOTIONS.get(folder_emo.lower())
        if emotion is None:
            report.skip(f"unknown emotion folder '{path.parent.name}'", path)
            continue
        m = FILE.match(path.stem)
        if not m:
            report.skip("file name not of the form <speaker>_<word>_<emotion>", path)
            continue
        if EMOTIONS.get(m.group(3).lower()) != emotion:
            report.skip("the file name's emotion differs from its folder's", path)
            continue
        if m.group(1).upper() != speaker and TYPOS.get(path.stem) != speaker:
            report.skip("the file name's speaker differs from its folder's", path)
            continue
        if path.stem in REPLACED:
            report.exclude(REPLACED_REASON, path)
            continue
        audio = inspect_audio(path, report)
        if audio is None:
            continue
        rows.append(
            make_row(
                root,
                path,
                "tess",
                audio,
                speaker=speaker,
                gender="F",
                emotion=emotion,
                style="acted",
            )
        )
    extra = check_count(report, rows, EXPECTED)
    return write_manifest(rows, out, root, report, extra=extra)
