"""IEMOCAP_full_release/Session1..5: labels from dialog/EmoEvaluation/*.txt,
audio from sentences/wav/<dialog>/<utt>.wav."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from ...errors import DataError
from ..manifest import Report, inspect_audio, make_row, write_manifest

log = logging.getLogger(__name__)

# [6.2901 - 8.2357]	Ses01F_impro01_F000	neu	[2.5000, 2.5000, 2.5000]
LABEL_LINE = re.compile(r"^\[[\d.]+ - [\d.]+\]\t(\S+)\t(\S+)\t")
# Ses03M_impro05a_F000: session 3, dialog Ses03M_impro05a, spoken by the session's female actor
UTT_ID = re.compile(r"^Ses0([1-5])[FM]_(.+)_([FM])\d+$")
NATIVE = {"ang", "hap", "exc", "neu", "sad", "fru", "sur", "fea", "dis", "oth", "xxx"}
FOUR_CLASS = {"ang", "hap", "exc", "neu", "sad"}
EXPECTED_FOUR_CLASS = 5531


def prepare_iemocap(root: Path, out: Path, strict: bool = False) -> pd.DataFrame:
    root = Path(root)
    sessions = [root / f"Session{i}" for i in range(1, 6)]
    if not any(s.is_dir() for s in sessions):
        raise DataError(f"no Session1..Session5 under {root}: is this IEMOCAP_full_release?")
    report = Report("iemocap", strict)
    rows = []
    for session in sessions:
        if not session.is_dir():
            report.skip("session folder missing", session)
            continue
        label_dir = session / "dialog" / "EmoEvaluation"
        label_files = sorted(label_dir.glob("*.txt"))
        if not label_files:
            report.skip("no label files (dialog/EmoEvaluation/*.txt)", label_dir)
            continue
        wav_dir = session / "sentences" / "wav"
        for dialog in sorted(p for p in wav_dir.glob("*") if p.is_dir()):
            if not (label_dir / f"{dialog.name}.txt").is_file():
                report.skip("label file missing for dialog", label_dir / f"{dialog.name}.txt")
        for label_file in label_files:
            for line in label_file.read_text(errors="replace").splitlines():
                m = LABEL_LINE.match(line)
                if not m:
                    continue
                utt, emo = m.groups()
                um = UTT_ID.match(utt)
                if not um:
                    report.skip(f"unparseable utterance id in {label_file.name}", utt)
                    continue
                if emo not in NATIVE:
                    report.skip(f"unknown label code '{emo}'", f"{label_file}:{utt}")
                    continue
                sess, dialog_part, gender = um.groups()
                dialog = utt.rsplit("_", 1)[0]
                wav = wav_dir / dialog / f"{utt}.wav"
                if not wav.is_file():
                    report.skip("audio file missing", wav)
                    continue
                audio = inspect_audio(wav, report)
                if audio is None:
                    continue
                rows.append(
                    make_row(
                        root,
                        wav,
                        "iemocap",
                        audio,
                        speaker=f"Ses0{sess}{gender}",
                        gender=gender,
                        session=sess,
                        emotion=emo,
                        style="improvised" if dialog_part.startswith("impro") else "scripted",
                    )
                )
    four = sum(r["emotion"] in FOUR_CLASS for r in rows)
    note = (
        f"4-class view (ang, hap+exc, neu, sad): {four} utterances "
        f"(the full corpus has {EXPECTED_FOUR_CLASS})"
    )
    if four != EXPECTED_FOUR_CLASS:
        note += " -- MISMATCH: partial corpus or skipped files"
    df = write_manifest(rows, out, root, report, extra={"four_class_count": four, "check": note})
    log.info(note)
    return df
