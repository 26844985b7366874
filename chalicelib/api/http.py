"""Helpers shared by the REST blueprints: bearer tokens, bodies and JSON answers."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeVar

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


def json_response(model: "BaseModel", status: int = 200) -> Response:
    return Response(
        body=model.model_dump_json(exclude_none=False),
        status_code=status,
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


def as_dict(model: "BaseModel") -> dict[str, Any]:
    return model.model_dump(mode="json")
