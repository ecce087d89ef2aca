"""The API's 413 for a request body over the size limit as JSON with a reason, as its every
other refusal: {"detail": "the upload is 31.2 MB; the limit is 30 MB"}.

FastAPI's body limit (FastAPI(max_body_size=...)) stops reading a body at the limit, chunked
ones too, but answers in plain text ("Content Too Large"). This ASGI wrapper goes around the
whole app: a body declared too large by its Content-Length is answered here before it is read;
one that overruns the limit as it arrives (no Content-Length) is cut off by FastAPI's limit, whose
answer is rewritten here with the bytes that had arrived."""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STARLETTE_413 = (b"Content Too Large", b'{"detail":"Content Too Large"}')  # its answers, as sent


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


class JsonBodyLimit:
    """Wraps `app` (a FastAPI app built with max_body_size=`max_bytes`)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    def reason(self, size: int, complete: bool) -> str:
        limit = f"{self.max_bytes / 1e6:g} MB"
        if complete:
            return f"the upload is {_mb(size)}; the limit is {limit}"
        return f"the upload is over {limit} (cut off after {_mb(size)}); the limit is {limit}"

    async def refuse(self, send: Send, detail: str) -> None:
        body = json.dumps({"detail": detail}, separators=(",", ":")).encode()  # as FastAPI
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self.refuse(send, self.reason(int(declared), complete=True))
            return
        received, held = 0, None  # bytes of the body so far; a 413 start message held back

        async def counting() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            return message

        async def rewriting(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] == 413:
                held = message  # ours (long audio) or the body limit's: the body says which
                return
            if held is not None and message["type"] == "http.response.body":
                start, held = held, None
                if message.get("body", b"") in STARLETTE_413 and not message.get("more_body"):
                    await self.refuse(send, self.reason(received, complete=False))
                    return
                await send(start)
            await send(message)

        await self.app(scope, counting, rewriting)
