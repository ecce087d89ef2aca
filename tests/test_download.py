"""download_emodb against a real loopback HTTP server: full download, resume, errors."""

import io
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import soundfile as sf

from mtl_aug.data import download
from mtl_aug.data.download import download_emodb
from mtl_aug.errors import DataError

NAMES = ("03a01Fa.wav", "03a01Nc.wav")


def make_zip(tmp_path, nested=""):
    """A zip laid out like the EMODB archive: wav/ (optionally under `nested`/), two sine files."""
    src = tmp_path / "src"
    (src / "wav").mkdir(parents=True)
    t = np.arange(1600) / 16000
    for i, name in enumerate(NAMES):
        sf.write(
            src / "wav" / name,
            0.3 * np.sin(2 * np.pi * (220 + 110 * i) * t),
            16000,
            subtype="PCM_16",
        )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in NAMES:
            zf.write(src / "wav" / name, f"{nested}wav/{name}")
        zf.writestr(f"{nested}lablaut/readme.txt", "labels")
    return buf.getvalue()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        if self.path != "/download.zip":
            self.send_error(404)
            return
        body, status = srv.payload, 200
        rng = self.headers.get("Range")
        if rng and srv.honour_range:
            start = int(rng.removeprefix("bytes=").rstrip("-"))
            status, body = 206, body[start:]
        self.send_response(status)
        if status == 206:
            self.send_header(
                "Content-Range", f"bytes {start}-{len(srv.payload) - 1}/{len(srv.payload)}"
            )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.payload = make_zip(tmp_path)
    srv.honour_range = True
    srv.requests = []
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/download.zip"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


@pytest.fixture
def archived(monkeypatch):
    """The bytes of download.zip as it was unpacked (zipfile tolerates junk before a zip)."""
    seen = []
    unpack = download._unpack

    def record(archive, dest):
        seen.append(archive.read_bytes())
        unpack(archive, dest)

    monkeypatch.setattr(download, "_unpack", record)
    return seen


def assert_unpacked(dest):
    for name in NAMES:
        wave, sr = sf.read(dest / "wav" / name)
        assert sr == 16000 and len(wave) == 1600
    assert (dest / "lablaut" / "readme.txt").is_file()


def test_full_download_unpacks_and_second_run_does_not_hit_server(server, tmp_path):
    dest = tmp_path / "emodb"
    assert download_emodb(dest, server.url, timeout=5) == dest
    assert_unpacked(dest)
    assert server.requests == [("/download.zip", None)]
    download_emodb(dest, server.url, timeout=5)
    assert len(server.requests) == 1


def test_nested_archive_is_moved_up(server, tmp_path):
    server.payload = make_zip(tmp_path / "n", nested="emodb/")
    dest = tmp_path / "emodb"
    download_emodb(dest, server.url, timeout=5)
    assert_unpacked(dest)
    assert not (dest / "emodb").exists()


def test_resume_sends_range_and_appends(server, tmp_path, archived):
    dest = tmp_path / "emodb"
    dest.mkdir()
    k = len(server.payload) // 3
    (dest / "download.zip.part").write_bytes(server.payload[:k])
    download_emodb(dest, server.url, timeout=5)
    assert server.requests == [("/download.zip", f"bytes={k}-")]
    assert archived == [server.payload]
    assert_unpacked(dest)


def test_server_ignoring_range_restarts_from_scratch(server, tmp_path, archived):
    server.honour_range = False
    dest = tmp_path / "emodb"
    dest.mkdir()
    (dest / "download.zip.part").write_bytes(b"stale bytes that must be discarded")
    download_emodb(dest, server.url, timeout=5)
    assert server.requests == [("/download.zip", "bytes=34-")]
    assert archived == [server.payload]
    assert_unpacked(dest)


def test_404_raises_data_error_naming_url(server, tmp_path):
    url = server.url.replace("download.zip", "missing.zip")
    with pytest.raises(DataError, match="missing.zip") as info:
        download_emodb(tmp_path / "emodb", url, timeout=5)
    assert url in str(info.value) and "404" in str(info.value)


def test_closed_port_raises_data_error_naming_url(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    url = f"http://127.0.0.1:{port}/download.zip"
    with pytest.raises(DataError) as info:
        download_emodb(tmp_path / "emodb", url, timeout=5)
    msg = str(info.value)
    assert url in msg and "download.zip.part" in msg and "re-running resumes" in msg


def test_non_zip_body_raises_data_error_and_deletes_file(server, tmp_path):
    server.payload = b"<html>not an archive</html>"
    dest = tmp_path / "emodb"
    with pytest.raises(DataError, match="not a zip") as info:
        download_emodb(dest, server.url, timeout=5)
    assert server.url in str(info.value)
    assert not (dest / "download.zip").exists() and not (dest / "download.zip.part").exists()
