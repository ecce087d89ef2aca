"""Any other corpus, described by a CSV with columns path, speaker, emotion [, gender, session,
utt_id]. The utterance id is the `utt_id` column where given, else the audio file's path (below
the CSV's folder; the full path for a file outside it), so equal file names never collide."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...errors import DataError
from ..manifest import Report, inspect_audio, make_row, read_csv_text, write_manifest

REQUIRED = ("path", "speaker", "emotion")


def prepare_generic(
    csv: Path, out: Path, strict: bool = False, corpus: str | None = None, encoding: str = "utf-8"
) -> pd.DataFrame:
    """Relative paths in the CSV are relative to the CSV's folder, which becomes the data root."""
    csv = Path(csv)
    if csv.is_dir():
        raise DataError(
            f"{csv} is a folder: CORPUS=generic reads a CSV file (columns: path, speaker, emotion"
            " [, gender, session, utt_id]); for a folder per emotion use CORPUS=folders"
        )
    if not csv.is_file():
        raise DataError(
            f"generic corpus CSV {csv} not found (columns: path, speaker, emotion"
            " [, gender, session, utt_id])"
        )
    table = read_csv_text(csv, encoding)
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise DataError(f"{csv}: missing required columns {missing}")
    corpus = corpus or Path(out).stem
    root = csv.parent
    report = Report(corpus, strict)
    rows = []
    for i, rec in table.iterrows():
        path = Path(rec["path"])
        path = path if path.is_absolute() else root / path
        if not rec["speaker"] or not rec["emotion"]:
            report.skip(f"row {i + 2}: empty speaker or emotion", path)
            continue
        if not path.is_file():
            report.skip("audio file missing", path)
            continue
        audio = inspect_audio(path, report)
        if audio is None:
            continue
        fields = dict(
            speaker=rec["speaker"],
            emotion=rec["emotion"],
            gender=rec.get("gender"),
            session=rec.get("session"),
            utt_id=rec.get("utt_id") or None,
        )
        if path.resolve().is_relative_to(root.resolve()):
            row = make_row(root, path, corpus, audio, id_from_path=True, **fields)
        else:  # outside the CSV's folder: the absolute path, also as the id
            anchor = Path(path.resolve().anchor)
            row = make_row(anchor, path, corpus, audio, id_from_path=True, **fields)
            row["path"] = str(path.resolve())
        rows.append(row)
    return write_manifest(rows, out, root, report)
