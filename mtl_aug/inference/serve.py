"""`mtl-aug serve`: an HTTP API and a web page around a trained model (one checkpoint or an
ensemble), through the lone-file inference that `predict` and the exported model compute
(export.Deployed). FastAPI + uvicorn: typed endpoints, a bounded server and no other service.

Bounds: an upload over `max_mb` is refused (413, FastAPI's body limit) before it is read past the
limit, with a JSON reason as every other refusal (body_limit.py); audio over `max_seconds`, or
that `predict` refuses too (accept.py: the sample rate, the channels, ...) is refused (4xx) from
its header where it can be, before it is decoded. A request without the audio in the multipart
field `file`, or with a bad query parameter, is refused (400) with a sentence too, not FastAPI's
list of validation errors. At most `max_pending` requests wait for the model (503 beyond, with a
Retry-After); one request at a time is decoded and computed, in a worker thread, so one decoded
file is in memory at once and the server keeps answering meanwhile."""

from __future__ import annotations

import io
import logging
import threading
from importlib import resources
from pathlib import Path

import torch
from fastapi import FastAPI, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse

from ..errors import ConfigError
from .accept import Accepted, Refused, accepted, read_accepted
from .body_limit import JsonBodyLimit
from .export import Deployed, metadata
from .limits import MAX_MB, MAX_PENDING, MAX_SECONDS, WINDOW_SECONDS
from .predict import file_warning, speech_check, windows
from .requests import invalid_request

log = logging.getLogger(__name__)

MAX_COLUMNS = 600  # the spectrogram sent to the page: at most this many time columns
# The 503 "busy" answer's Retry-After, in seconds. One request is computed at a time, so a place
# in the queue frees as soon as the one being computed is answered: the longest audio the
# defaults accept (120 s, twelve 10 s windows) takes about 1.6 s on one CPU thread (the shipped
# model, detail or not; a 30 s file 0.5 s), so a client retrying after 2 s finds room.
RETRY_AFTER = 2


class Model:
    """The deployed model, and the lock that lets one request at a time decode and compute."""

    def __init__(self, checkpoints: list[str | Path]):
        from .evaluate import load_ensemble

        models = load_ensemble(checkpoints, device="cpu")
        self.deployed = Deployed(models).eval().requires_grad_(False)
        self.logmel = models[0].logmel
        self.meta = metadata(models, checkpoints)
        self.sr = self.meta["sample_rate"]
        self.stride = models[0].model.encoder.time_stride
        self.lock = threading.Lock()
        speech_check(torch.zeros(self.sr), self.sr)  # the detector is loaded before any request

    def predict(self, wave: torch.Tensor, detail: bool = False, truncated: str = "") -> dict:
        """The emotion of a waveform: probabilities averaged over its windows (as `predict`),
        each window's result, and with `detail` the log-mel and the attention over time. Audio
        without speech (speech_check, as `predict`) gets no emotion: `speech` false, `emotion`
        and `probs` null, and the `reason`. `truncated`: the upload's warning if it is cut short
        (read_accepted's)."""
        if reason := speech_check(wave, self.sr):
            out = {
                "emotion": None,
                "speech": False,
                "reason": reason,
                "probs": None,
                "duration": round(len(wave) / self.sr, 3),
                "warning": "",
                "windows": [],
            }
            if detail:  # the page still shows what was heard; no attention, as nothing was judged
                with torch.no_grad():
                    feats = torch.log(self.logmel.mel(wave) + 1e-6)
                out["spectrogram"] = self._spectrogram(feats, None)
            return out
        names = self.meta["class_names"]
        hop = self.meta["hop_length"]
        chunks, results, start = windows(wave, self.sr, WINDOW_SECONDS), [], 0
        frames = len(wave) // hop + 1
        attention = torch.zeros(frames)
        with torch.no_grad():
            for chunk in chunks:
                probs, _, alpha, offset = self.deployed(chunk[None])
                results.append(
                    {
                        "start": round(start / self.sr, 3),
                        "end": round((start + len(chunk)) / self.sr, 3),
                        "probs": probs[0],
                    }
                )
                # each attention weight covers `stride` log-mel frames from the window's first
                # speech frame
                first = start // hop + int(offset[0])
                spread = alpha[0].repeat_interleave(self.stride)[: max(0, frames - first)]
                attention[first : first + len(spread)] = spread / spread.max().clamp(min=1e-12)
                start += len(chunk)
            feats = (
                torch.log(self.logmel.mel(wave) + 1e-6) if detail else None
            )  # untrimmed, unnormalised
        mean = torch.stack([r["probs"] for r in results]).mean(0)
        out = {
            "emotion": names[int(mean.argmax())],
            "speech": True,
            "reason": "",
            "probs": _named(names, mean),
            "duration": round(len(wave) / self.sr, 3),
            "warning": file_warning(wave, self.sr, truncated),
            "windows": [
                {
                    **r,
                    "emotion": names[int(r["probs"].argmax())],
                    "probs": _named(names, r["probs"]),
                }
                for r in results
            ],
        }
        if detail:
            out["spectrogram"] = self._spectrogram(feats, attention)
        return out

    def _spectrogram(self, feats: torch.Tensor, attention: torch.Tensor | None) -> dict:
        """The log-mel `feats` (F, T) and the `attention` (T,) (or None) in at most MAX_COLUMNS
        time columns, for the page."""
        step = max(1, -(-feats.shape[-1] // MAX_COLUMNS))
        return {
            "seconds_per_column": step * self.meta["hop_length"] / self.sr,
            "logmel": feats[:, ::step].T.round(decimals=2).tolist(),
            # the peak of each column's frames: a short peak is not skipped
            "attention": None
            if attention is None
            else _column_max(attention, step).round(decimals=3).tolist(),
        }


def _column_max(values: torch.Tensor, step: int) -> torch.Tensor:
    """(T,) -> (ceil(T / step),): the maximum of each run of `step` values."""
    padded = torch.nn.functional.pad(values, (0, -len(values) % step), value=float("-inf"))
    return padded.view(-1, step).amax(1)


def _named(names: list[str], probs: torch.Tensor) -> dict:
    return {n: round(float(p), 5) for n, p in zip(names, probs, strict=True)}


# the status of each refusal; a request that does not say what it should (`request`: no audio in
# the multipart field `file`, a bad query parameter) is 400, as an empty file is
STATUS = {
    "request": 400,
    "empty": 400,
    "unreadable": 415,
    "format": 415,
    "long": 413,
    "corrupt": 422,
    "short": 422,
}


def read_upload(data: bytes, name: str, sample_rate: int, max_seconds: float) -> Accepted:
    """The waveform of an uploaded file and its truncation warning, or an HTTPException saying
    why not (4xx): the rules `predict` applies too (accept.read_accepted), and the server's
    `max_seconds`."""
    try:
        return read_accepted(io.BytesIO(data), name, sample_rate, max_seconds)
    except Refused as exc:
        raise HTTPException(STATUS[exc.kind], str(exc)) from None


def create_app(
    model: Model,
    max_mb: float = MAX_MB,
    max_seconds: float = MAX_SECONDS,
    max_pending: int = MAX_PENDING,
):
    """The ASGI app: FastAPI's /, /health, /metadata, POST /predict, inside JsonBodyLimit."""
    app = FastAPI(title="MTL-AUG speech emotion recognition", max_body_size=int(max_mb * 1e6))
    limits = {
        "max_mb": max_mb,
        "max_seconds": max_seconds,
        "max_pending": max_pending,
        "window_seconds": WINDOW_SECONDS,
    }
    page = resources.files(__package__).joinpath("page.html").read_text()

    @app.exception_handler(RequestValidationError)
    async def refuse_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = invalid_request(exc, request.headers.get("content-type", ""))
        return JSONResponse({"detail": detail}, status_code=STATUS["request"])

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/metadata")
    def meta() -> dict:
        return {**model.meta, "limits": limits, "accepted": accepted()}

    waiting = 0  # requests between their start and their answer (the event loop is one thread)

    def answer(data: bytes, name: str, detail: bool) -> dict:
        with model.lock:
            wave, truncated = read_upload(data, name, model.sr, max_seconds)
            return model.predict(wave, detail, truncated)

    @app.post("/predict")
    async def predict(file: UploadFile, detail: bool = False) -> dict:
        """An audio file (multipart field `file`, else 400): the emotion, the class
        probabilities, the duration, each 10 s window's result (its emotion and probabilities);
        `?detail=true` adds the log-mel and the attention."""
        nonlocal waiting
        if waiting >= max_pending:
            raise HTTPException(
                503,
                f"busy: {waiting} request{'s' * (waiting != 1)} waiting for the model; "
                f"try again in {RETRY_AFTER} s",
                headers={"Retry-After": str(RETRY_AFTER)},
            )
        waiting += 1
        try:
            name = Path(file.filename or "upload").name
            return {
                "file": name,
                **await run_in_threadpool(answer, await file.read(), name, detail),
            }
        finally:
            waiting -= 1

    return JsonBodyLimit(app, int(max_mb * 1e6))


def serve(
    checkpoints: list[str | Path],
    host: str = "127.0.0.1",
    port: int = 8000,
    max_mb: float = MAX_MB,
    max_seconds: float = MAX_SECONDS,
    max_pending: int = MAX_PENDING,
) -> None:
    import uvicorn

    for option, value, least in (
        ("--max-mb", max_mb, 0.001),
        ("--max-seconds", max_seconds, 0.1),
        ("--max-pending", max_pending, 1),
    ):
        if value < least:
            raise ConfigError(f"{option} must be at least {least}, got {value}")
    model = Model(checkpoints)
    log.info(
        f"serving {model.meta['corpus']} / {model.meta['variant']} "
        f"({', '.join(model.meta['class_names'])}) "
        f"on http://{host}:{port}/"
    )
    # uvicorn's limit counts open connections (idle keep-alive ones too): a generous bound on
    # connections, whose uploads Starlette spools to disk past 1 MB; the app bounds the requests
    uvicorn.run(
        create_app(model, max_mb, max_seconds, max_pending),
        host=host,
        port=port,
        limit_concurrency=4 * max_pending + 32,
        log_level="warning",
    )
