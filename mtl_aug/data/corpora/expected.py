"""The full-corpus check of the named preparers: their kept rows against the published counts."""

from __future__ import annotations

import logging
from collections import Counter

from ...errors import DataError
from ..manifest import Report

log = logging.getLogger(__name__)


def check_count(report: Report, rows: list[dict], expected: dict[str, int]) -> dict:
    """Compare the kept rows' native emotions with `expected` (emotion -> utterances of the full
    corpus). Returns the sidecar fields `expected` and `check`, the note also logged: a match as
    information, a mismatch (naming the emotions that differ) as a warning, or in strict mode a
    DataError."""
    found = Counter(r["emotion"] for r in rows)
    total, want = sum(found.values()), sum(expected.values())
    if found == Counter(expected):
        note = f"{total} utterances, as in the full corpus"
        log.info(f"{report.corpus}: {note}")
    else:
        differ = ", ".join(
            f"{emo} {found[emo]} of {expected.get(emo, 0)}"
            for emo in sorted(set(found) | set(expected))
            if found[emo] != expected.get(emo, 0)
        )
        note = (
            f"MISMATCH: {total} utterances where the full corpus has {want} ({differ}): "
            "a partial copy, or files skipped (counted below)"
        )
        if report.strict:
            raise DataError(f"{report.corpus}: {note.replace(' (counted below)', '')}")
        log.warning(f"{report.corpus}: {note}")
    return {"expected": want, "check": note}
