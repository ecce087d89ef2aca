"""What a request to the HTTP API must hold besides the audio's own rules (accept.py): the
audio in the multipart field FIELD, and valid query parameters. FastAPI's validation errors
for a request that lacks them, as the one sentence every other refusal is (serve.py: 400)."""

from __future__ import annotations

import json

from fastapi.exceptions import RequestValidationError
from starlette.datastructures import FormData

FIELD = "file"  # the multipart form field that carries the audio


def _quoted(names) -> str:
    return ", ".join(json.dumps(n) for n in names)


def invalid_request(exc: RequestValidationError, content_type: str) -> str:
    """FastAPI's validation errors for a request to /predict (`content_type` its header), as one
    sentence: what was expected, and what was given instead."""
    content_type = content_type.split(";")[0].strip()
    reasons = []
    for error in exc.errors():
        where, name = error["loc"][0], error["loc"][-1]
        if where == "body" and name == FIELD and error["type"] == "missing":
            given = list(dict.fromkeys(exc.body.keys())) if isinstance(exc.body, FormData) else []
            if given:
                instead = f"this request has the field{'s' * (len(given) > 1)} {_quoted(given)}"
            elif content_type == "multipart/form-data":
                instead = "the form has no fields"
            elif content_type:
                instead = f"the request is {content_type}, not a multipart form"
            else:
                instead = "the request has no form"
            reasons.append(
                f'no file uploaded: send the audio as multipart form field "{FIELD}" ({instead})'
            )
        elif where == "body" and name == FIELD:
            reasons.append(
                f'the multipart form field "{FIELD}" holds text, not a file: send the audio as '
                "a file upload in it"
            )
        else:  # a query parameter: `detail`, true or false
            got = f", got {json.dumps(error['input'])}" if "input" in error else ""
            msg = f"is invalid ({error['msg'][:1].lower()}{error['msg'][1:]})"
            if error["type"] == "bool_parsing":
                msg = "must be true or false"
            reasons.append(f'the {where} parameter "{name}" {msg}{got}')
    return "; ".join(reasons)
