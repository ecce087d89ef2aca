"""Any other corpus, described by a CSV with columns path, speaker, emotion [, gender, session]."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..manifest import DataError, Report, inspect_audio, make_row, write_manifest

REQUIRED = ("path", "speaker", "emotion")


def prepare_generic(csv: Path, out: Path, strict: bool = False, corpus: str | None = None) -> pd.DataFrame:
    """Relative paths in the CSV are relative to the CSV's folder, which becomes the data root."""
    csv = Path(csv)
    if not csv.is_file():
        raise DataError(f"generic corpus CSV {csv} not found (columns: path, speaker, emotion"
                        " [, gender, session])")
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
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
        try:
            row = make_row(root, path, corpus, audio, speaker=rec["speaker"], emotion=rec["emotion"],
                           gender=rec.get("gender"), session=rec.get("session"))
        except ValueError:  # outside the CSV's folder: keep the absolute path
            row = make_row(path.parent, path, corpus, audio, speaker=rec["speaker"],
                           emotion=rec["emotion"], gender=rec.get("gender"), session=rec.get("session"))
            row["path"] = str(path.resolve())
        rows.append(row)
    return write_manifest(rows, out, root, report)
