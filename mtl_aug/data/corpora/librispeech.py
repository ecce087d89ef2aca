"""LibriSpeech (any split folders of FLAC under the root): unlabelled speech, optionally capped."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pandas as pd

from ...errors import DataError
from ..manifest import Report, inspect_audio, make_row, write_manifest

log = logging.getLogger(__name__)


def prepare_librispeech(
    root: Path, out: Path, strict: bool = False, hours: float | None = None, seed: int = 0
) -> pd.DataFrame:
    """All FLAC utterances under `root`, or a seeded random subset of about `hours` hours."""
    root = Path(root)
    files = sorted(root.rglob("*.flac"))
    if not files:
        raise DataError(
            f"no .flac files under {root}: is this a LibriSpeech folder "
            "(LibriSpeech/<split>/<speaker>/<chapter>/*.flac)?"
        )
    random.Random(seed).shuffle(files)
    report = Report("librispeech", strict)
    rows, total = [], 0.0
    for flac in files:
        if hours is not None and total >= hours * 3600:
            break
        audio = inspect_audio(flac, report)
        if audio is None:
            continue
        total += audio["duration"]
        speaker = flac.stem.split("-")[0]
        rows.append(
            make_row(
                root,
                flac,
                "librispeech",
                audio,
                speaker=speaker,
                session=flac.parent.name,
                style=flac.parents[2].name if len(flac.relative_to(root).parts) >= 4 else "",
            )
        )
    if hours is not None and total < hours * 3600:
        log.warning(
            f"{root}: HOURS={hours:g} asked for, but its usable audio is {total / 3600:.2f} h: "
            f"all of it is kept"
        )
    extra = {"hours_cap": hours, "seed": seed, "files_found": len(files)}
    return write_manifest(rows, out, root, report, extra=extra)
