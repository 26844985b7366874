"""The one place that turns domain errors into HTTP responses (WebSocket error frames are
built by the chat service from the same error classes)."""
from __future__ import annotations

import json
from typing import Any, Callable

from chalice.app import Response

from ..domain.errors import InvalidFrame, KefuError


def error_body(error: KefuError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details:
        body["details"] = error.details
    return {"error": body}


def error_response(error: KefuError) -> Response:
    headers = {"Content-Type": "application/json"}
    retry = error.details.get("retry_after_ms") if error.details else None
    if retry:
        headers["Retry-After"] = str(max(1, int(retry) // 1000))
    return Response(body=json.dumps(error_body(error)), status_code=error.http_status, headers=headers)


def http_errors(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Chalice HTTP middleware: domain errors and invalid bodies get a JSON error with a stable code."""
    from pydantic import ValidationError

    try:
        return get_response(event)
    except KefuError as error:
        return error_response(error)
    except ValidationError as error:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "problem": e["msg"]}
            for e in error.errors()
        ]
        return error_response(InvalidFrame("the request body is invalid", {"problems": problems}))
