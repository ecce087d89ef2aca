"""Download and unpack the Berlin EMODB corpus (stdlib only, resumable)."""

from __future__ import annotations

import http.client
import logging
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from ..errors import DataError

log = logging.getLogger(__name__)

EMODB_URL = "http://emodb.bilderbar.info/download/download.zip"
CHUNK = 1 << 16

# Everything that can go wrong on the wire, as opposed to on the local disk.
NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError)


def download_emodb(dest: Path, url: str | None = None, timeout: float = 60) -> Path:
    """Download the EMODB archive and unpack it so that `dest/wav/*.wav` exist; return `dest`."""
    dest = Path(dest)
    url = url or EMODB_URL
    wav_dir = dest / "wav"
    if wav_dir.is_dir() and any(wav_dir.glob("*.wav")):
        log.info(f"EMODB already present in {wav_dir}; nothing to download.")
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "download.zip"
    part = dest / "download.zip.part"

    if not (archive.is_file() and zipfile.is_zipfile(archive)):
        try:
            _fetch(url, part, timeout)
        except NETWORK_ERRORS as err:
            reason = err if isinstance(err, urllib.error.HTTPError) else getattr(err, "reason", err)
            raise DataError(
                f"could not download {url}: {reason}.\n"
                f"The partial download is kept at {part}; re-running resumes it.\n"
                f"Without internet access, download the archive elsewhere and unpack it "
                f"so that {wav_dir} exists."
            ) from err
        part.replace(archive)
        if not zipfile.is_zipfile(archive):
            archive.unlink()
            raise DataError(
                f"{archive} downloaded from {url} is not a zip archive "
                f"(deleted it; re-run to download again)."
            )

    _unpack(archive, dest)
    archive.unlink()
    n = len(list(wav_dir.glob("*.wav")))
    log.info(f"EMODB unpacked: {n} wav files in {wav_dir}")
    return dest


def _fetch(url: str, part: Path, timeout: float) -> None:
    """Download `url` into `part`, resuming from its current size when the server allows."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url)
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        # 416: the part already holds the whole file; the zip check afterwards decides.
        if err.code == 416 and have:
            log.info(f"{part} is already complete ({have} bytes)")
            return
        raise
    with response:
        if response.status == 206:
            mode = "ab"
            log.info(f"Resuming {url} at {have} bytes")
        else:
            mode, have = "wb", 0  # server ignored the Range header: start over
            log.info(f"Downloading {url}")
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        got = have
        next_mark = 0.1
        with open(part, mode) as out:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                got += len(chunk)
                if total and got / total >= next_mark:
                    log.info(f"  {got / 1e6:.1f} / {total / 1e6:.1f} MB ({100 * got // total}%)")
                    while next_mark <= got / total:
                        next_mark += 0.1
        if total is not None and got < total:
            raise http.client.IncompleteRead(b"", total - got)
        if total is None:
            log.info(f"  {got / 1e6:.1f} MB")


def _unpack(archive: Path, dest: Path) -> None:
    """Extract `archive` and move the folder that holds `wav/` (at any depth) up to `dest`."""
    with tempfile.TemporaryDirectory(dir=dest, prefix=".unpack-") as tmp:
        tmp = Path(tmp)
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
        holders = sorted(
            (p.parent for p in tmp.rglob("wav") if p.is_dir()), key=lambda p: len(p.parts)
        )
        if not holders:
            raise DataError(f"{archive} has no wav/ folder; is it the EMODB archive?")
        for item in holders[0].iterdir():
            target = dest / item.name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            shutil.move(str(item), str(target))
