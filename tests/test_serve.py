"""The HTTP API through a real server on the loopback interface, and the web page in a real
headless browser (Chromium from the system's packages, driven by Playwright)."""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from builders import REAL_DATA, requires_real_data

from mtl_aug.cli import main
from mtl_aug.inference.evaluate import load_ensemble
from mtl_aug.inference.predict import NO_SPEECH, predict_files

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`mtl-aug serve` in a subprocess on a free loopback port, stopped on exit."""

    def __init__(self, checkpoint: str, log: Path, *options: str):
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.log = log
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mtl_aug",
                "serve",
                "--checkpoint",
                checkpoint,
                "--port",
                self.url.rsplit(":", 1)[1],
                *options,
            ],
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
            assert self.proc.poll() is None, log.read_text()
        self.stop()
        raise AssertionError(f"the server did not answer in 60 s: {log.read_text()}")

    def post(self, name: str, data: bytes, timeout: float = 60, **params) -> httpx.Response:
        return httpx.post(
            self.url + "/predict", files={"file": (name, data)}, params=params, timeout=timeout
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server(checkpoints, tmp_path_factory):
    s = Server(
        checkpoints["defaults"],
        tmp_path_factory.mktemp("server") / "log.txt",
        "--max-mb",
        "1",
        "--max-seconds",
        "25",
        "--max-pending",
        "32",
    )
    yield s
    s.stop()


def _wav(wave: np.ndarray, sr: int = 16000, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wave, sr, format="WAV", subtype=subtype)
    return buffer.getvalue()


def test_api_answers_as_predict_does(server, checkpoints, speech):
    meta = httpx.get(server.url + "/metadata", timeout=10).json()
    assert meta["class_names"] == ["angry", "happy", "neutral", "sad"]
    assert meta["limits"] == {
        "max_mb": 1.0,
        "max_seconds": 25.0,
        "max_pending": 32,
        "window_seconds": 10.0,
    }
    assert meta["accepted"]["sample_rates"][0] == 8000 and meta["accepted"]["max_channels"] == 2
    # the tiny corpus: fold spk00, 2 training speakers of 12 utterances (3 per class)
    per_class = {c: 6 for c in meta["class_names"]}
    level = round(load_ensemble([checkpoints["defaults"]], "cpu")[0].training_level, 2)
    assert meta["training"] == [
        {"speakers": 2, "utterances": 24, "per_class": per_class, "level_dbfs": level}
    ]
    rows, _ = predict_files(speech[:4], [checkpoints["defaults"]])
    for path, row in zip(speech[:4], rows, strict=True):
        r = server.post(path.name, path.read_bytes())
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["emotion"] == row["pred"] and body["file"] == path.name
        assert body["duration"] == row["duration"] and body["speech"] == row["speech"]
        if not row["speech"]:  # the synthetic stand-in, where the real corpora are absent
            continue
        np.testing.assert_allclose(
            [body["probs"][c] for c in meta["class_names"]],
            [row[f"p_{c}"] for c in meta["class_names"]],
            atol=2e-5,
        )
        assert len(body["windows"]) == 1 and "spectrogram" not in body
    long = speech[-1]
    body = server.post(long.name, long.read_bytes(), detail="true").json()
    assert [(w["start"], w["end"]) for w in body["windows"]] == [
        (0.0, 10.0),
        (10.0, 20.0),
        (20.0, 23.0),
    ]
    row = predict_files([long], [checkpoints["defaults"]])[0][0]
    assert body["emotion"] == row["pred"] and row["windows"] == 3
    np.testing.assert_allclose(
        [body["probs"][c] for c in meta["class_names"]],  # the windows' mean
        [row[f"p_{c}"] for c in meta["class_names"]],
        atol=2e-5,
    )
    spec = body["spectrogram"]
    n_mels = load_ensemble([checkpoints["defaults"]], "cpu")[0].cfg.features.n_mels
    assert (
        len(spec["logmel"]) == len(spec["attention"]) == 576 and len(spec["logmel"][0]) == n_mels
    )  # 2301 frames / 4
    assert max(spec["attention"]) == 1.0


@requires_real_data
def test_api_answers_no_speech_found_as_predict_does(server, checkpoints, no_speech):
    """Silence, white noise and a real background recording: 200 with no emotion, `speech`
    false and the reason, where `predict` says the same; a real EMODB file gets an emotion."""
    files = no_speech
    emodb = REAL_DATA / "emodb" / "wav" / "03a01Fa.wav"
    rows, _ = predict_files([*files, emodb], [checkpoints["defaults"]])
    for path, row in zip([*files, emodb], rows, strict=True):
        r = server.post(path.name, path.read_bytes(), detail="true")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["speech"] == row["speech"] and body["emotion"] == row["pred"]
        if row["speech"]:
            assert body["emotion"] in body["probs"] and body["reason"] == ""
        else:
            assert body["emotion"] is None and body["probs"] is None and body["windows"] == []
            assert body["reason"] == NO_SPEECH == "no speech found"
            # what was heard is still shown, without attention: nothing was judged
            assert body["spectrogram"]["logmel"] and body["spectrogram"]["attention"] is None
    assert [r["speech"] for r in rows] == [False, False, False, True]


def test_serve_refuses_a_limit_that_would_refuse_everything(checkpoints):
    """Before the server starts (a subprocess with a timeout: a server that started would hang)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mtl_aug",
            "serve",
            "--checkpoint",
            checkpoints["defaults"],
            "--port",
            str(_free_port()),
            "--max-pending",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--max-pending must be at least 1" in done.stderr


def _refused_by_both() -> dict[str, tuple[int, bytes, str]]:
    """Files that `predict` and the API both refuse (accept.read_accepted): name -> the API's
    status, the bytes, and a phrase of the reason both give."""
    nan = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    nan[100] = np.nan
    return {
        "empty.wav": (400, b"", "empty"),
        "notes.wav": (415, b"just some text, not audio at all", "not audio"),
        "nan.wav": (422, _wav(nan, subtype="FLOAT"), "NaN"),
        "tiny.wav": (422, _wav(np.zeros(800, np.int16)), "under the 0.1 s"),
        "five_ms.wav": (422, _wav(np.full(40, 1000, np.int16), sr=8000), "0.005 s of audio"),
        # an odd rate would make the resampler's memory grow out of proportion to the file
        "odd_rate.wav": (415, _wav(np.zeros(8001, np.int16), sr=8001), "at 8001 Hz"),
        "surround.wav": (415, _wav(np.zeros((16000, 6), np.int16)), "6 channels"),
    }


def test_api_and_predict_refuse_the_same_files_for_the_same_reasons(
    server, checkpoints, speech, tmp_path, capsys
):
    cases = _refused_by_both()
    for name, (status, data, reason) in cases.items():
        r = server.post(name, data)
        assert r.status_code == status and reason in r.json()["detail"], (name, r.text)
    folder = tmp_path / "audio"
    folder.mkdir()
    for name, (_, data, _) in cases.items():
        (folder / name).write_bytes(data)
    good = folder / "good.wav"
    good.write_bytes(speech[0].read_bytes())
    rows, errors = predict_files(sorted(folder.iterdir()), [checkpoints["defaults"]])
    assert [Path(r["file"]).name for r in rows] == ["good.wav"]
    assert len(errors) == len(cases)
    for name, (_, _, reason) in cases.items():
        assert any(e.startswith(str(folder / name)) and reason in e for e in errors), (name, errors)
    # the command: each refused file named and counted, the batch goes on (exit 0)
    out = tmp_path / "pred.csv"
    assert (
        main(["predict", str(folder), "--checkpoint", checkpoints["defaults"], "--out", str(out)])
        == 0
    )
    err = capsys.readouterr().err
    assert (
        f"1 files predicted, 0 without speech (no emotion), {len(cases)} skipped "
        "(missing, unreadable or refused)" in err
    )
    assert f"skipped: {folder / 'odd_rate.wav'}: audio at 8001 Hz" in err
    assert len(out.read_text().splitlines()) == 2  # the header and good.wav


def test_api_refuses_bad_uploads_with_a_reason(server, speech):
    rng = np.random.default_rng(0)
    cases = {
        "long.wav": (413, _wav(np.zeros(26 * 8000, np.int16), sr=8000), "over the limit of 25 s"),
        "big.wav": (
            413,
            _wav(rng.standard_normal(300_000).astype(np.float32) * 0.1, subtype="FLOAT"),
            "the upload is 1.2 MB; the limit is 1 MB",
        ),  # 1.2 MB
    }
    for name, (status, data, reason) in cases.items():
        r = server.post(name, data)
        # every refusal is JSON with its reason, the body limit's too
        assert r.status_code == status and r.json()["detail"] == (
            reason if name == "big.wav" else f"{name}: 26.0 s of audio, over the limit of 25 s"
        ), (name, r.status_code, r.text)

    # a body over the limit without a Content-Length (chunked) is cut off as it arrives
    def chunks():
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        for _ in range(40):
            yield b"x" * 65536

    r = httpx.post(
        server.url + "/predict",
        content=chunks(),
        timeout=30,
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 413
    assert r.json()["detail"].startswith("the upload is over 1 MB (cut off after 1.")
    assert server.post(speech[0].name, speech[0].read_bytes()).status_code == 200  # still serving


def test_api_warns_about_a_truncated_upload(server, speech):
    """An upload cut short is answered as far as it goes, with predict's warning."""
    data = speech[0].read_bytes()
    r = server.post("cut.wav", data[: len(data) // 2])
    assert r.status_code == 200 and r.json()["speech"] is True, r.text
    assert r.json()["warning"].startswith("truncated: the header promises ")


def test_api_refuses_a_request_without_the_file_field_with_a_sentence(server, speech):
    """No upload, or the audio in another field: 400 (as an empty file) with one sentence that
    names the field expected and the one given, not FastAPI's list of validation errors."""
    data = speech[0].read_bytes()
    expected = 'no file uploaded: send the audio as multipart form field "file"'
    cases = {
        "an empty POST": ({}, f"{expected} (the request has no form)"),
        "the audio in another field": (
            {"files": {"audio": ("a.wav", data)}},
            f'{expected} (this request has the field "audio")',
        ),
        "a form of other fields": (
            {"data": {"other": "1"}, "files": {"upload": ("a.wav", data)}},
            f'{expected} (this request has the fields "other", "upload")',
        ),
        "JSON": (
            {"json": {"file": "a.wav"}},
            f"{expected} (the request is application/json, not a multipart form)",
        ),
        "text in the field": (
            {"data": {"file": "a.wav"}},
            'the multipart form field "file" holds text, not a file: send the audio as a file '
            "upload in it",
        ),
        "a bad query parameter": (
            {"files": {"file": ("a.wav", data)}, "params": {"detail": "maybe"}},
            'the query parameter "detail" must be true or false, got "maybe"',
        ),
    }
    for case, (request, reason) in cases.items():
        r = httpx.post(server.url + "/predict", timeout=10, **request)
        assert (r.status_code, r.json()) == (400, {"detail": reason}), (case, r.text)
    assert server.post(speech[0].name, data).status_code == 200  # still serving


def test_api_busy_answer_says_when_to_retry(checkpoints, speech):
    """Past `max_pending` waiting requests: 503 with a Retry-After (whole seconds) and a reason
    that says the same; the waiting request is answered once the model is free."""
    from fastapi.testclient import TestClient

    from mtl_aug.inference.serve import Model, create_app

    class Gate:
        """The model's lock, held until `release` is set: a request is being computed."""

        def __init__(self):
            self.entered, self.release = threading.Event(), threading.Event()

        def __enter__(self):
            self.entered.set()
            assert self.release.wait(60)

        def __exit__(self, *exc):
            return False

    model = Model([checkpoints["defaults"]])
    model.lock = gate = Gate()
    data = speech[0].read_bytes()
    with TestClient(create_app(model, max_pending=1)) as client, ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.post, "/predict", files={"file": ("a.wav", data)})
        assert gate.entered.wait(60)  # the first request holds the model
        busy = client.post("/predict", files={"file": ("b.wav", data)})
        gate.release.set()
        assert first.result(timeout=60).status_code == 200
    # a small whole number of seconds: about the time the longest accepted audio takes
    assert busy.status_code == 503 and busy.headers["retry-after"] == "2"
    assert busy.json() == {"detail": "busy: 1 request waiting for the model; try again in 2 s"}


def test_api_serves_20_requests_at_once_and_refuses_beyond_its_queue(
    server, checkpoints, speech, tmp_path
):
    data = speech[1].read_bytes()
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: server.post("a.wav", data), range(20)))
    assert [a.status_code for a in answers] == [200] * 20
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    # a queue of one: the rest are told the server is busy, and it answers /health meanwhile
    small = Server(checkpoints["defaults"], tmp_path / "log.txt", "--max-pending", "1")
    try:
        long = speech[-1].read_bytes()
        with ThreadPoolExecutor(20) as pool:
            posts = [pool.submit(small.post, "l.wav", long) for _ in range(20)]
            health = [pool.submit(httpx.get, small.url + "/health", timeout=30) for _ in range(5)]
            answers = [f.result() for f in posts]
            assert [h.result().status_code for h in health] == [200] * 5
    finally:
        small.stop()
    codes = sorted(a.status_code for a in answers)
    assert set(codes) == {200, 503} and codes.count(200) >= 1
    assert all("busy" in a.json()["detail"] for a in answers if a.status_code == 503)
    assert all(a.headers["retry-after"] == "2" for a in answers if a.status_code == 503)


@pytest.fixture
def page(server):
    """The web page in headless Chromium (fake microphone allowed), the model's description
    loaded; skipped without Chromium."""
    if CHROMIUM is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
            ],
        )
        try:
            page = browser.new_context(permissions=["microphone"]).new_page()
            page.goto(server.url + "/")
            page.wait_for_function(
                "document.getElementById('model').textContent.includes('trained on')"
            )
            yield page
        finally:
            browser.close()


def test_page_says_which_model_answers_and_what_it_accepts(page):
    described = page.inner_text("#model")
    assert "angry, happy, neutral, sad (class set four_class)" in described
    assert "trained on synthetic_demo: 2 speakers, 24 utterances (angry 6," in described
    # what is accepted, stated on the page, all of it: no range to misread, no README
    accepted = page.inner_text("#accepted")
    rates = "8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200 or 96000"
    assert f"{rates} Hz" in accepted and "WAV, FLAC, OGG or MP3" in accepted
    assert "mono or stereo" in accepted and "from 0.1 s to 25 s long, at most 1 MB" in accepted
    text = page.inner_text("body")
    assert "README" not in text and "kHz" not in text
    assert "less reliable" in page.inner_text("#caution")


def test_page_shows_the_answer_bars_and_attention_in_a_real_browser(server, speech, page):
    expected = server.post(speech[0].name, speech[0].read_bytes()).json()
    page.set_input_files("#file", str(speech[0]))
    page.wait_for_selector("#spectrogram[data-drawn]", timeout=30000)
    assert page.inner_text("#emotion") == expected["emotion"]
    bars = page.query_selector_all(".bar")
    assert [b.get_attribute("data-emotion") for b in bars] == sorted(
        expected["probs"], key=lambda c: -expected["probs"][c]
    )
    assert page.query_selector(".bar.top").get_attribute("data-emotion") == expected["emotion"]
    assert "mtl_aug model trained on synthetic_demo" in page.inner_text("#answered")
    # the attention line is drawn in white over the spectrogram
    white = page.evaluate("""() => { const c = document.getElementById('spectrogram');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] > 250 && d[i + 1] > 250 && d[i + 2]
        > 250) n++;
        return n; }""")
    assert white > 200
    # audio without speech: the reason where the emotion would be, and no bars
    silence = _wav(np.zeros(16000, np.int16))
    page.set_input_files(
        "#file", {"name": "silence.wav", "mimeType": "audio/wav", "buffer": silence}
    )
    page.wait_for_function("document.getElementById('emotion').textContent === 'no speech found'")
    assert page.query_selector_all(".bar") == []
    # a refused file shows the server's reason
    page.set_input_files(
        "#file", {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not audio"}
    )
    page.wait_for_function("document.getElementById('status').className === 'error'")
    assert "not audio" in page.inner_text("#status")
    # and nothing of the previous file's result is left to read as the refused file's
    assert page.is_hidden("#result") and page.query_selector_all(".bar") == []
    assert page.get_attribute("#spectrogram", "data-drawn") is None
    # the microphone (Chromium's fake device): record, stop, and the recording is judged
    page.click("#record")
    page.wait_for_timeout(1200)
    page.click("#record")
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('recording.wav')",
        timeout=30000,
    )
    # Chromium's fake microphone plays a beep: no speech, so no model is said to have answered
    assert page.inner_text("#emotion") == "no speech found"
    assert page.inner_text("#answered") == ""


@requires_real_data  # speech (the synthetic stand-in has none)
def test_page_shows_each_windows_probabilities(server, speech, page):
    """A file of several windows: the window table gives every window's probability of every
    class, as the API does, in percent (the bars' order, the window's emotion in bold), and
    their mean (the answer) below them."""
    long = speech[-1]
    expected = server.post(long.name, long.read_bytes()).json()
    page.set_input_files("#file", str(long))
    page.wait_for_selector("#spectrogram[data-drawn]", timeout=30000)
    order = sorted(expected["probs"], key=lambda c: -expected["probs"][c])  # as the bars
    header, *rows = page.query_selector_all("#windows tr")
    assert [h.inner_text() for h in header.query_selector_all("th")] == [
        "window",
        "emotion",
        *order,
    ]
    assert len(expected["windows"]) == 3
    table = [[c.inner_text() for c in row.query_selector_all("td")] for row in rows]
    assert table == [
        [span, w["emotion"], *(f"{100 * w['probs'][c]:.1f} %" for c in order)]
        for span, w in zip(
            ["0.0-10.0 s", "10.0-20.0 s", "20.0-23.0 s", "mean"],
            [*expected["windows"], expected],
            strict=True,
        )
    ]
    bold = [row.query_selector("td.top").get_attribute("data-emotion") for row in rows]
    assert bold == [w["emotion"] for w in [*expected["windows"], expected]]


@requires_real_data  # speech, then a real recording of noise
def test_page_shows_no_attention_caption_or_model_without_speech(server, speech, no_speech, page):
    """Noise after speech (real recordings of both; skipped without them): the reason, the
    spectrogram (what was heard), and neither the attention line's caption (none is drawn) nor
    the model said to have answered (it gave no emotion)."""
    page.set_input_files("#file", str(speech[0]))
    page.wait_for_selector("#spectrogram[data-drawn]", timeout=30000)
    assert "attention over time" in page.inner_text("#result")
    assert "Answered by the mtl_aug model" in page.inner_text("#answered")
    page.set_input_files("#file", str(no_speech[2]))  # 2 s of a real recording of a running tap
    page.wait_for_function("document.getElementById('emotion').textContent === 'no speech found'")
    page.wait_for_selector("#spectrogram[data-drawn]", timeout=30000)
    shown = page.inner_text("#result")
    assert "spectrogram" in shown  # what was heard is still shown
    assert "attention" not in shown and "white line" not in shown
    assert "Answered" not in shown and page.inner_text("#answered") == ""
    assert page.query_selector_all(".bar") == [] and page.inner_text("#windows") == ""
