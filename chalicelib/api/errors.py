"""The one place that turns domain errors into HTTP responses (WebSocket error frames are
built by the chat service from the same error classes)."""
from __future__ import annotations

import functools
import json
from typing import Any, Callable

from chalice import Blueprint
from chalice.app import Response

from ..domain.errors import InvalidFrame, KefuError


def error_body(error: KefuError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details:
        body["details"] = error.details
    return {"error": body}


def error_response(error: KefuError) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    retry = error.details.get("retry_after_ms") if error.details else None
    if retry:
        headers["Retry-After"] = str(max(1, int(retry) // 1000))
    return Response(body=json.dumps(error_body(error)), status_code=error.http_status, headers=headers)


def translate_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a REST view so domain errors and invalid bodies become a JSON error with a stable
    code. (Chalice turns any exception a view raises into a 500 before middleware sees it,
    so this has to sit around the view itself.)"""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        from pydantic import ValidationError

        try:
            return view(*args, **kwargs)
        except KefuError as error:
            return error_response(error)
        except ValidationError as error:
            problems = [
                {"field": ".".join(str(p) for p in e["loc"]) or "body", "problem": e["msg"]}
                for e in error.errors()
            ]
            return error_response(InvalidFrame("the request is invalid", {"problems": problems}))

    return guarded


class Routes(Blueprint):
    """A Chalice blueprint whose every route answers domain errors with JSON (see above)."""

    def route(self, path: str, **kwargs: Any) -> Callable[..., Any]:
        register = super().route(path, **kwargs)

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            register(translate_errors(view))
            return view

        return decorator
