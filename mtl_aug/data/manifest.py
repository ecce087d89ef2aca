"""Manifest schema, read/write, audio checks during preparation, and class maps."""

from __future__ import annotations

import codecs
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from ..config import load_class_sets
from ..errors import ConfigError, DataError

log = logging.getLogger(__name__)

COLUMNS = [
    "utt_id",
    "path",
    "corpus",
    "speaker",
    "gender",
    "session",
    "style",
    "emotion",
    "duration",
    "sample_rate",
    "channels",
]
ROOT_TOKEN = "{data_root}"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")  # what libsndfile (>= 1.1) decodes


def audio_files(folder: Path) -> list[Path]:
    """The audio files (by suffix: AUDIO_SUFFIXES) anywhere under `folder`, sorted. Other files
    are counted by suffix on stderr, so none is passed over silently."""
    files, other = [], Counter()
    for p in sorted(Path(folder).rglob("*")):
        if p.suffix.lower() in AUDIO_SUFFIXES:
            files.append(p)
        elif p.is_file():
            other[p.suffix.lower() or "no suffix"] += 1
    if other:
        log.warning(
            f"{folder}: {sum(other.values())} files not read, not audio by their suffix "
            f"({', '.join(f'{k} {v}' for k, v in sorted(other.items()))}; "
            f"read: {', '.join(AUDIO_SUFFIXES)})"
        )
    return files


@dataclass
class Report:
    """What a preparer kept and what it skipped, by reason, with the files named."""

    corpus: str
    strict: bool = False
    skipped: dict = field(default_factory=dict)  # reason -> [file, ...]

    def skip(self, reason: str, item: str | Path) -> None:
        if self.strict:
            raise DataError(f"{item}: {reason} (strict mode; drop --strict to skip and count)")
        self.skipped.setdefault(reason, []).append(str(item))

    def exclude(self, reason: str, item: str | Path) -> None:
        """Leave out a known defect of the corpus itself (not bad input): counted and reported
        like a skip, but never an error in strict mode."""
        self.skipped.setdefault(f"excluded: {reason}", []).append(str(item))

    @property
    def n_skipped(self) -> int:
        return sum(len(v) for v in self.skipped.values())

    def summary(self) -> str:
        lines = [f"skipped {self.n_skipped}:"] if self.skipped else []
        for reason, items in sorted(self.skipped.items()):
            shown = ", ".join(Path(i).name for i in items[:3]) + (" ..." if len(items) > 3 else "")
            lines.append(f"  {len(items):5d}  {reason}  ({shown})")
        return "\n".join(lines)


def _wav_shortfall(path: Path) -> int:
    """Bytes missing from a WAV file's data chunk (its header declares more than the file holds).

    libsndfile quietly reports the frames that are present, so truncation needs this check."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        if f.read(4) != b"RIFF":
            return 0
        f.seek(12)
        while True:
            head = f.read(8)
            if len(head) < 8:
                return 0
            chunk, length = head[:4], int.from_bytes(head[4:], "little")
            if chunk == b"data":
                if length == 0xFFFFFFFF:  # streaming writers leave the size open
                    return 0
                return max(0, f.tell() + length - size)
            f.seek(length + (length & 1), 1)


def inspect_audio(path: Path, report: Report) -> dict | None:
    """Header facts of a readable audio file, or None (reported) if it is unusable."""
    path = Path(path)
    try:
        empty = path.stat().st_size == 0
    except OSError as exc:  # e.g. a link to a file that is gone
        report.skip(f"not readable ({type(exc).__name__})", path)
        return None
    if empty:
        report.skip("empty file (0 bytes)", path)
        return None
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types for non-audio data
        report.skip(f"not readable as audio ({type(exc).__name__})", path)
        return None
    if info.frames == 0:
        report.skip("empty audio (0 samples)", path)
        return None
    try:
        data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        report.skip(f"truncated or corrupt audio ({type(exc).__name__})", path)
        return None
    missing = _wav_shortfall(path) if path.suffix.lower() == ".wav" else 0
    if data.shape[0] < info.frames or missing:
        report.skip("truncated audio (the header declares more data than the file holds)", path)
        return None
    if not np.isfinite(data).all():
        report.skip("NaN or infinite samples", path)
        return None
    return {
        "duration": round(info.frames / info.samplerate, 4),
        "sample_rate": info.samplerate,
        "channels": info.channels,
    }


def make_row(
    root: Path, path: Path, corpus: str, audio: dict, id_from_path: bool = False, **fields
) -> dict:
    """A manifest row; the utterance id is the file name without suffix, or with `id_from_path`
    its path below `root` (folders joined by `_`), for layouts that repeat file names."""
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    row = {c: "" for c in COLUMNS}
    utt_id = Path(rel).with_suffix("").as_posix().replace("/", "_") if id_from_path else path.stem
    row.update(utt_id=utt_id, path=f"{ROOT_TOKEN}/{rel}", corpus=corpus, **audio)
    row.update({k: v for k, v in fields.items() if v is not None})
    return row


def read_csv_text(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    """A user's CSV, every cell a string; bytes the encoding cannot decode are an error naming
    the file, the line and how to read it."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(
            f"--encoding {encoding}: not an encoding Python knows (e.g. utf-8, latin-1, cp1252)"
        ) from None
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
    except UnicodeDecodeError:
        for number, line in enumerate(Path(path).read_bytes().split(b"\n"), 1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}, line {number}: byte {line[exc.start : exc.start + 1]!r} is not "
                    f"{encoding}; "
                    "save the file as UTF-8, or name its encoding (--encoding latin-1, cp1252, "
                    "...; "
                    "make manifests ENCODING=...)"
                ) from None
        raise


def write_manifest(
    rows: list[dict], out: Path, root: Path, report: Report, extra: dict = None
) -> pd.DataFrame:
    """Write `out` (CSV) and its sidecar `out.json` (data root, counts, skipped files)."""
    if not rows:
        raise DataError(
            f"no usable utterances found under {root} for {report.corpus}"
            + (f"\n{report.summary()}" if report.skipped else "")
        )
    df = pd.DataFrame(rows, columns=COLUMNS).sort_values("utt_id", kind="stable")
    dup = df[df["utt_id"].duplicated(keep=False)]
    if len(dup):
        shown = "; ".join(
            f"{u}: {', '.join(g['path'].str.replace(ROOT_TOKEN, str(root), regex=False))}"
            for u, g in list(dup.groupby("utt_id", sort=True))[:3]
        )
        raise DataError(
            f"{dup['utt_id'].nunique()} utterance ids name more than one file under {root} ({shown}"
            f"{' ...' if dup['utt_id'].nunique() > 3 else ''}): rename the files, or (generic CSV) "
            "give each row its own id in a utt_id column"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    meta = {
        "corpus": report.corpus,
        "data_root": str(root.resolve()),
        "utterances": len(df),
        "speakers": int(df["speaker"].nunique()),
        "hours": round(df["duration"].sum() / 3600, 3),
        "emotions": {k: int(v) for k, v in Counter(df["emotion"]).items() if k},
        "skipped": report.skipped,
        **(extra or {}),
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return df


def manifest_path(manifest_dir: str | Path, corpus: str) -> Path:
    return Path(manifest_dir) / f"{corpus}.csv"


def read_manifest(path: Path, data_root: str | Path | None = None) -> pd.DataFrame:
    """Read a manifest; `{data_root}` in paths becomes `data_root` or the root it was made from."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"manifest {path} not found")
    df = pd.read_csv(
        path,
        dtype={
            "speaker": str,
            "session": str,
            "emotion": str,
            "gender": str,
            "style": str,
            "utt_id": str,
        },
        keep_default_na=False,
    )
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing columns {missing} (see data_manifests/README.md)")
    if data_root is None:
        sidecar = path.with_suffix(".json")
        if not sidecar.is_file():
            raise DataError(
                f"{sidecar} not found: it holds the data root of {path}; prepare the corpus "
                "again or copy the sidecar along with the manifest"
            )
        data_root = json.loads(sidecar.read_text())["data_root"]
    df["path"] = df["path"].str.replace(ROOT_TOKEN, str(data_root), regex=False)
    return df


def class_set(name: str) -> dict:
    sets = load_class_sets()
    if name not in sets:
        raise ConfigError(f"data.classes: unknown class set '{name}' (known: {', '.join(sets)})")
    return sets[name]


def apply_class_map(df: pd.DataFrame, classes: str) -> tuple[pd.DataFrame, list[str], Counter]:
    """Keep utterances whose native emotion maps into the class set; add `label` (int).

    Returns the kept rows, the class names and a count of dropped native labels."""
    cs = class_set(classes)
    names = list(cs["names"])
    corpus = str(df["corpus"].iloc[0]) if len(df) else ""
    mapping = cs.get("map", {}).get(corpus, {n: n for n in names})
    mapped = df["emotion"].map(mapping)
    dropped = Counter(df.loc[mapped.isna(), "emotion"])
    kept = df[mapped.notna()].copy()
    kept["label"] = mapped[mapped.notna()].map({n: i for i, n in enumerate(names)}).astype(int)
    return kept.reset_index(drop=True), names, dropped
