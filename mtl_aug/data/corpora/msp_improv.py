"""MSP-IMPROV: consensus labels from Evaluation.txt, audio MSP-IMPROV-S01A-F01-P-FM01.wav
anywhere under the root (its release files them as Audio/session1/S01A/P/...)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ...errors import DataError
from ..manifest import Report, inspect_audio, make_row, write_manifest

# UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:4.0; V:2.2; D:3.4; N:2.0
HEADER = re.compile(r"^UTD-IMPROV-(\S+)\.avi;\s*([A-Za-z])\s*;")
NAME = re.compile(r"^S\d\d[AHNS]-([FM])0([1-6])-([PRST])-[FM]{2}\d\d$")
STYLE = {"P": "natural", "R": "read", "S": "improvised", "T": "target"}
KEPT = {"A", "H", "N", "S"}
DROPPED = {"O": "consensus label O (other)", "X": "consensus label X (no agreement)"}


def prepare_msp_improv(root: Path, out: Path, strict: bool = False) -> pd.DataFrame:
    root = Path(root)
    evaluations = sorted(root.rglob("Evaluation.txt"))
    if not evaluations:
        raise DataError(f"no Evaluation.txt under {root}: is this the MSP-IMPROV release folder?")
    if len(evaluations) > 1:
        raise DataError(
            f"{len(evaluations)} Evaluation.txt files under {root} "
            f"({', '.join(map(str, evaluations))}): "
            "point at a folder holding one release"
        )
    evaluation = evaluations[0]
    report = Report("msp_improv", strict)
    audio_index: dict[str, Path] = {}
    for wav in sorted(root.rglob("MSP-IMPROV-*.wav")):
        if wav.stem in audio_index:
            report.skip(
                f"a second copy of an utterance's audio (the first, {audio_index[wav.stem]}, is "
                f"used)",
                wav,
            )
        else:
            audio_index[wav.stem] = wav
    if not audio_index:
        raise DataError(f"no MSP-IMPROV-*.wav files under {root} (expected Audio/session*/...)")
    rows = []
    for line in evaluation.read_text(errors="replace").splitlines():
        m = HEADER.match(line.strip())
        if not m:
            continue
        name, label = m.group(1), m.group(2).upper()
        nm = NAME.match(name)
        if not nm:
            report.skip("unparseable utterance name in Evaluation.txt", name)
            continue
        if label in DROPPED:
            report.skip(DROPPED[label], name)
            continue
        if label not in KEPT:
            report.skip(f"unknown label code '{label}'", name)
            continue
        wav = audio_index.get(f"MSP-IMPROV-{name}")
        if wav is None:
            report.skip("audio file missing", f"MSP-IMPROV-{name}.wav")
            continue
        audio = inspect_audio(wav, report)
        if audio is None:
            continue
        gender, session, style = nm.groups()
        rows.append(
            make_row(
                root,
                wav,
                "msp_improv",
                audio,
                speaker=f"{gender}0{session}",
                gender=gender,
                session=session,
                emotion=label,
                style=STYLE[style],
            )
        )
    return write_manifest(rows, out, root, report)
