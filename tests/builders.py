"""What the tests build: short audio and bad-file writers, fake corpora in each corpus' native
layout (under tmp_path), sidecar readers, tiny configs, and where the real corpora are. Test
files import these as plain functions; conftest.py holds the fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mtl_aug.config import Config, load_config

# Real corpora shared beside the repository (read-only); tests that need them are skipped
# when the folder is absent.
REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
requires_real_data = pytest.mark.skipif(
    not REAL_DATA.is_dir(), reason=f"real corpora not available: {REAL_DATA} does not exist"
)

SR = 16000


# ---------------------------------------------------------------- audio writers


def write_audio(
    path: Path,
    seconds: float = 0.3,
    sr: int = SR,
    channels: int = 1,
    subtype: str = "PCM_16",
    freq: float = 220.0,
    fmt: str | None = None,
) -> Path:
    """A short sine (channel c at freq * (c + 1), amplitude 0.3 / (c + 1)); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(round(seconds * sr))) / sr
    chans = [0.3 / (c + 1) * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)]
    data = chans[0] if channels == 1 else np.stack(chans, axis=1)
    sf.write(str(path), data.astype(np.float32), sr, subtype=subtype, format=fmt)
    return path


# kind -> a word the skip reason must contain
BAD_KINDS = {
    "empty": "empty",
    "zero_bytes": "empty",
    "truncated": "truncated",
    "text": "not readable",
    "nan": "NaN",
}


def write_bad(path: Path, kind: str) -> Path:
    """An unusable file with an audio suffix: no samples, no bytes at all, truncated, text, or
    float with NaN."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "zero_bytes":
        path.write_bytes(b"")
    elif kind == "empty":
        sf.write(str(path), np.zeros(0, dtype=np.float32), SR, subtype="PCM_16")
    elif kind == "truncated":
        write_audio(path, seconds=0.4)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "text":
        path.write_text("this is a transcript, not audio\n")
    elif kind == "nan":
        sig = 0.1 * np.sin(np.linspace(0, 100, int(0.3 * SR))).astype(np.float32)
        sig[100:120] = np.nan
        sf.write(str(path), sig, SR, subtype="FLOAT")
    else:
        raise ValueError(kind)
    return path


# ---------------------------------------------------------------- sidecar helpers


def sidecar(out: Path) -> dict:
    return json.loads(Path(out).with_suffix(".json").read_text())


def skipped_items(out: Path) -> list[str]:
    return [item for items in sidecar(out)["skipped"].values() for item in items]


def skip_reason_of(out: Path, name: str) -> str:
    """The skip reason under which a file whose path contains `name` was counted."""
    hits = [
        reason
        for reason, items in sidecar(out)["skipped"].items()
        if any(name in item for item in items)
    ]
    assert hits, f"{name} not among the skipped files: {sidecar(out)['skipped']}"
    return hits[0]


# ---------------------------------------------------------------- IEMOCAP

# session -> dialog -> [(speaker-turn suffix, native label)]; 10 speakers (Ses0nF, Ses0nM)
IEMOCAP_DIALOGS = {
    1: {"Ses01F_impro01": [("F000", "neu"), ("M000", "ang"), ("F001", "fru")]},
    2: {"Ses02F_script01_1": [("F000", "hap"), ("M000", "sad"), ("M001", "xxx")]},
    3: {
        "Ses03M_impro05a": [("F001", "exc"), ("M000", "neu")],
        "Ses03M_impro05b": [("F000", "sad"), ("M002", "hap")],
    },
    4: {"Ses04F_impro01": [("F000", "ang"), ("M000", "neu")]},
    5: {"Ses05M_script02_2": [("F000", "neu"), ("M000", "exc")]},
}
IEMOCAP_UTTS = {
    f"{dialog}_{turn}": (session, dialog, turn[0], emo)
    for session, dialogs in IEMOCAP_DIALOGS.items()
    for dialog, turns in dialogs.items()
    for turn, emo in turns
}


def iemocap_label_line(utt: str, emo: str, start: float = 1.0) -> str:
    return f"[{start:.4f} - {start + 0.3:.4f}]\t{utt}\t{emo}\t[2.5000, 2.5000, 2.5000]"


def iemocap_wav(root: Path, utt: str) -> Path:
    session = int(utt[4])
    return root / f"Session{session}" / "sentences" / "wav" / utt.rsplit("_", 1)[0] / f"{utt}.wav"


def iemocap_label_file(root: Path, dialog: str) -> Path:
    return root / f"Session{int(dialog[4])}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"


def make_iemocap(base: Path) -> Path:
    """IEMOCAP_full_release/Session1..5 with label files as in the release (header, turn
    lines, evaluator lines); returns the IEMOCAP_full_release folder. Clean: nothing to skip."""
    root = Path(base) / "IEMOCAP_full_release"
    for session, dialogs in IEMOCAP_DIALOGS.items():
        for dialog, turns in dialogs.items():
            lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
            for i, (turn, emo) in enumerate(turns):
                utt = f"{dialog}_{turn}"
                lines += [
                    iemocap_label_line(utt, emo, 1.0 + 2 * i),
                    "C-E1:\tNeutral;\t()",
                    "C-E2:\tFrustration; Anger;\t(irritated)",
                    "C-F1:\tExcited;\t()",
                    "A-E1:\tval 3; act 2; dom  2;\t()",
                    "",
                ]
                write_audio(iemocap_wav(root, utt), seconds=0.2 + 0.05 * i, freq=150 + 20 * session)
            label_file = iemocap_label_file(root, dialog)
            label_file.parent.mkdir(parents=True, exist_ok=True)
            label_file.write_text("\n".join(lines) + "\n")
    return root


# ---------------------------------------------------------------- MSP-IMPROV

# name (after MSP-IMPROV-) -> consensus label; sessions 1 and 2, both genders
MSP_ENTRIES = {
    "S01A-F01-P-FM01": "A",
    "S01H-M01-R-FM01": "H",
    "S02N-F01-S-FM01": "N",
    "S02S-M01-T-FM02": "S",
    "S03A-F01-P-FM02": "O",
    "S01N-F02-P-MF01": "N",
    "S01S-M02-R-MF01": "S",
    "S02A-M02-S-MF01": "A",
    "S04H-M02-P-MF02": "X",
    "S03H-F02-R-MF02": "H",
}


def msp_wav(root: Path, name: str) -> Path:
    sentence, speaker, style = name.split("-")[:3]
    return (
        root / "Audio" / f"session{int(speaker[1:])}" / sentence / style / f"MSP-IMPROV-{name}.wav"
    )


def make_msp_improv(base: Path) -> Path:
    root = Path(base) / "MSP-IMPROV"
    lines = []
    for i, (name, label) in enumerate(MSP_ENTRIES.items()):
        lines += [
            f"UTD-IMPROV-{name}.avi; {label}; A:4.0; V:2.2; D:3.4; N:2.0",
            "A1; Angry; Other; A:4.0; V:2.0; D:3.0",
            "(Happy) N1; Neutral; (Neutral, Concerned); A:2.0; V:3.0; D:2.0",
            "UTD-IMPROV evaluator note; X; not a header",
            "",
        ]
        write_audio(msp_wav(root, name), seconds=0.2 + 0.03 * (i % 4), freq=180 + 10 * i)
    root.mkdir(parents=True, exist_ok=True)
    (root / "Evaluation.txt").write_text("\n".join(lines) + "\n")
    return root


# ---------------------------------------------------------------- EMODB

# all 10 speakers; emotions W L E A F T N
EMODB_FILES = [
    "03a01Wa",
    "03a02Fc",
    "10b01Nb",
    "11a04Ta",
    "12a07La",
    "15a01Ab",
    "08a01Wa",
    "09b02Fa",
    "13a05Na",
    "14b09Ta",
    "16b10Eb",
    "16a02Eb",
]


def make_emodb(base: Path) -> Path:
    root = Path(base) / "emodb"
    for i, stem in enumerate(EMODB_FILES):
        write_audio(root / "wav" / f"{stem}.wav", seconds=0.2 + 0.02 * i, freq=120 + 15 * i)
    return root


# ---------------------------------------------------------------- LibriSpeech


def make_librispeech(base: Path) -> Path:
    """24 FLAC files (0.2-0.5 s) in LibriSpeech/<split>/<spk>/<chapter>/; returns the base."""
    root = Path(base) / "librispeech"
    k = 0
    for split, spks in (("test-clean", ("121", "237")), ("test-other", ("367", "533"))):
        for spk in spks:
            for chapter in (f"{spk}0", f"{spk}1"):
                folder = root / "LibriSpeech" / split / spk / chapter
                for utt in range(3):
                    write_audio(
                        folder / f"{spk}-{chapter}-{utt:04d}.flac",
                        fmt="FLAC",
                        seconds=0.2 + 0.1 * (k % 4),
                        freq=100 + 7 * k,
                    )
                    k += 1
                (folder / f"{spk}-{chapter}.trans.txt").write_text(f"{spk}-{chapter}-0000 HELLO\n")
    return root


# ---------------------------------------------------------------- DEMAND / noise


def make_demand(base: Path) -> Path:
    """DKITCHEN at 16 kHz (3 channels), OMEETING only at 48 kHz (2 channels)."""
    root = Path(base) / "demand"
    for ch in (1, 2, 3):
        write_audio(root / "DKITCHEN" / f"ch{ch:02d}.wav", seconds=0.3, freq=300 + ch)
    for ch in (1, 2):
        write_audio(root / "OMEETING" / f"ch{ch:02d}.wav", seconds=0.4, sr=48000, freq=500 + ch)
    return root


def tiny_cfg(manifests: Path, run_dir: Path, *overlays, corpus="synthetic_demo", **sets) -> Config:
    base = run_dir.parent / f"{run_dir.name}_base.yaml"
    base.write_text(
        f"data: {{unlabelled: librispeech, manifest_dir: '{manifests}'}}\n"
        f"train: {{run_dir: '{run_dir}', max_epochs: 2, limit_train_batches: 2}}\n"
    )
    return load_config(
        corpus,
        [str(base), "debug", *overlays],
        [f"{k.replace('__', '.')}={v}" for k, v in sets.items()],
    )


def make_generic(base: Path, with_optional: bool = True) -> Path:
    """corpus/corpus.csv with relative paths plus one absolute path outside the folder."""
    folder = Path(base) / "corpus"
    write_audio(folder / "audio" / "a1.wav", seconds=0.25)
    write_audio(folder / "audio" / "sub" / "b1.wav", seconds=0.3)
    write_audio(folder / "c1.wav", seconds=0.35)
    outside = write_audio(Path(base) / "elsewhere" / "d1.wav", seconds=0.4)
    if with_optional:
        lines = [
            "path,speaker,emotion,gender,session",
            "audio/a1.wav,spkA,angry,F,1",
            "audio/sub/b1.wav,spkB,sad,M,1",
            "c1.wav,spkC,happy,F,2",
            f"{outside},spkD,neutral,M,2",
        ]
    else:
        lines = [
            "path,speaker,emotion",
            "audio/a1.wav,spkA,angry",
            "audio/sub/b1.wav,spkB,sad",
            "c1.wav,spkC,happy",
            f"{outside},spkD,neutral",
        ]
    csv = folder / "corpus.csv"
    csv.write_text("\n".join(lines) + "\n")
    return csv
