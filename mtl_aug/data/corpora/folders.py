"""The common "one folder per emotion" layout: <root>/<Emotion>/<file>.{wav,flac,ogg}, the
speaker (and optionally the gender) parsed from the file's path by a regular expression."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ...errors import DataError
from ..manifest import Report, audio_files, inspect_audio, make_row, write_manifest


def speaker_pattern(regex: str) -> re.Pattern:
    """`regex` compiled; it must have a named group `speaker` (and may have `gender`)."""
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise DataError(
            f"speaker regex {regex!r} is not a valid regular expression ({exc})"
        ) from exc
    if "speaker" not in pattern.groupindex:
        raise DataError(
            f"speaker regex {regex!r} needs a named group (?P<speaker>...), "
            "e.g. '^(?P<speaker>[^_]+)_' for files named <speaker>_<rest>"
        )
    return pattern


def prepare_folders(
    root: Path,
    out: Path,
    strict: bool = False,
    corpus: str | None = None,
    speaker: str | None = None,
) -> pd.DataFrame:
    """The emotion is the first folder under `root`, lower-cased (Angry/ -> angry); `speaker`
    is searched in the file's path relative to `root` (so it may match a folder or the file
    name). The utterance id is that relative path, so equal file names in two emotion
    folders stay apart. Files directly under `root` have no emotion and are skipped."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"corpus folder {root} does not exist (expected <root>/<emotion>/<file>)")
    if not speaker:
        raise DataError(
            "a folder-per-emotion corpus needs SPEAKER='<regex with (?P<speaker>...)>' "
            "to find each file's speaker"
        )
    pattern = speaker_pattern(speaker)
    corpus = corpus or Path(out).stem
    files = audio_files(root)
    if not any(p.parent != root for p in files):
        raise DataError(
            f"no audio files in emotion folders under {root} (expected <root>/<emotion>/<file>)"
        )
    report = Report(corpus, strict)
    rows = []
    for path in files:
        rel = path.relative_to(root)
        if len(rel.parts) < 2:
            report.skip("not in an emotion folder", path)
            continue
        m = pattern.search(rel.as_posix())
        if not m or not m.group("speaker"):
            report.skip(f"speaker regex {speaker!r} does not match the path", path)
            continue
        audio = inspect_audio(path, report)
        if audio is None:
            continue
        gender = m.groupdict().get("gender")
        rows.append(
            make_row(
                root,
                path,
                corpus,
                audio,
                id_from_path=True,
                speaker=m.group("speaker"),
                gender=gender.upper() if gender else None,
                emotion=rel.parts[0].lower(),
            )
        )
    return write_manifest(rows, out, root, report)
