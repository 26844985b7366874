"""Helpers shared by the REST blueprints: bearer tokens, bodies and JSON answers."""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from chalice.app import Request, Response

from ..domain.errors import InvalidFrame, MalformedJson

if TYPE_CHECKING:  # pydantic is imported by the first request, not by the cold start
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")
MAX_BODY_BYTES = 64 * 1024


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def parse_body(request: Request, model: type[M]) -> M:
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidFrame("request body too large", {"limit_bytes": MAX_BODY_BYTES})
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        raise MalformedJson("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidFrame("request body must be a JSON object")
    return model.model_validate(data)


def parse_query(request: Request, model: type[M]) -> M:
    return model.model_validate(dict(request.query_params or {}))


IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")


def idempotent(request: Request, scope: str, create: Callable[[], tuple["BaseModel", int]],
               lambda_context: Any = None) -> Response:
    """Answer a creating POST; with an `Idempotency-Key` header, a retry gets the first answer."""
    key = request.headers.get("idempotency-key")
    if key is None:
        model, status = create()
        return json_response(model, status)
    if not IDEMPOTENCY_KEY.match(key):
        raise InvalidFrame("Idempotency-Key must be 8-128 letters, digits or _.:-")

    def run() -> dict[str, Any]:
        model, status = create()
        return {"status": status, "body": model.model_dump(mode="json")}

    from ..bootstrap import services

    result = services().idempotency.once(f"{scope}#{request.path}", key, request.raw_body or b"", run,
                                          lambda_context)
    return Response(body=json.dumps(result["body"]), status_code=int(result["status"]),
                    headers={"Content-Type": "application/json", "Cache-Control": "no-store"})


def json_response(model: "BaseModel", status: int = 200) -> Response:
    return Response(
        body=model.model_dump_json(exclude_none=False),
        status_code=status,
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


def as_dict(model: "BaseModel") -> dict[str, Any]:
    return model.model_dump(mode="json")
