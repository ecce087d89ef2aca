"""nEMO (Christop, LREC-COLING 2024), Polish: data.tsv (anywhere under the root) lists each
utterance, its audio in samples/ beside it (samples/<speaker>_<emotion>_<n>.wav, 24 kHz mono).
9 actors, 4,481 utterances; native labels are data.tsv's emotion words anger, fear, happiness,
neutral, sadness, surprised. The table's columns: file_id, emotion, raw_text, normalized_text,
speaker_id (left-padded with spaces), gender (male/female), age; the manifest has no text
column, so the texts stay in data.tsv."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from ...errors import DataError
from ..manifest import Report, audio_files, inspect_audio, make_row, write_manifest
from .expected import check_count

TABLE = "data.tsv"
AUDIO = "samples"
COLUMNS = ("file_id", "emotion", "speaker_id", "gender")
EMOTIONS = ("anger", "fear", "happiness", "neutral", "sadness", "surprised")
GENDERS = {"male": "M", "female": "F"}
FILE = re.compile(r"^([^_]+)_([^_]+)_\d+$")  # EB0_anger_1
EXPECTED = {
    "anger": 749,
    "fear": 736,
    "happiness": 749,
    "neutral": 809,
    "sadness": 769,
    "surprised": 669,
}


def find_table(root: Path) -> Path:
    """The one data.tsv under `root` (the unpacked tree may sit deeper), or a DataError."""
    tables = sorted(p for p in root.rglob(TABLE) if p.is_file())
    if not tables:
        raise DataError(
            f"no {TABLE} under {root}: is this nEMO ({TABLE} beside samples/EB0_anger_1.wav ...)?"
        )
    if len(tables) > 1:
        raise DataError(
            f"{len(tables)} files named {TABLE} under {root} ({', '.join(map(str, tables))}): "
            "give the folder of one nEMO copy"
        )
    return tables[0]


def read_table(path: Path) -> pd.DataFrame:
    """data.tsv, every cell a string (texts may hold quotes: read as they are)."""
    try:
        table = pd.read_csv(
            path, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE
        )
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; nEMO's {TABLE} is UTF-8") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: not a tab-separated table ({str(exc).strip()})") from None
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise DataError(
            f"{path}: missing columns {missing} (nEMO's {TABLE} has file_id, emotion, raw_text, "
            "normalized_text, speaker_id, gender, age)"
        )
    return table


def prepare_nemo(root: Path, out: Path, strict: bool = False) -> pd.DataFrame:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"nEMO folder {root} does not exist")
    tsv = find_table(root)
    samples = tsv.parent / AUDIO
    if not samples.is_dir():
        raise DataError(f"{tsv}: no {AUDIO}/ folder beside it (nEMO's audio folder)")
    table = read_table(tsv)
    report = Report("nemo", strict)
    rows, listed = [], set()
    for rec in table.to_dict("records"):
        name = rec["file_id"].strip()
        path = samples / name
        if not name or Path(name).name != name:
            report.skip(f"file_id is not a file name in {AUDIO}/", f"{tsv}:{rec['file_id']!r}")
            continue
        if name in listed:
            report.skip(f"listed again in {TABLE}", path)
            continue
        listed.add(name)
        speaker, emotion = rec["speaker_id"].strip(), rec["emotion"].strip()
        gender = GENDERS.get(rec["gender"].strip().lower())
        if emotion not in EMOTIONS:
            report.skip(f"unknown emotion '{emotion}'", path)
            continue
        if not speaker:
            report.skip("empty speaker_id", path)
            continue
        if gender is None:
            report.skip(f"unknown gender '{rec['gender'].strip()}'", path)
            continue
        m = FILE.match(Path(name).stem)
        if m and m.group(1) != speaker:
            report.skip(f"the file name's speaker differs from {TABLE}'s", path)
            continue
        if m and m.group(2) != emotion:
            report.skip(f"the file name's emotion differs from {TABLE}'s", path)
            continue
        if not path.is_file():
            report.skip(f"audio file missing (listed in {TABLE})", path)
            continue
        audio = inspect_audio(path, report)
        if audio is None:
            continue
        rows.append(
            make_row(
                root,
                path,
                "nemo",
                audio,
                speaker=speaker,
                gender=gender,
                emotion=emotion,
                style="acted",
            )
        )
    for path in audio_files(samples):
        if path.relative_to(samples).as_posix() not in listed:
            report.skip(f"audio file not listed in {TABLE}", path)
    extra = check_count(report, rows, EXPECTED)
    return write_manifest(rows, out, root, report, extra=extra)
