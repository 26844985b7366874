"""Write docs/openapi.json (OpenAPI 3.1) from `chalicelib.api.schemas.ENDPOINTS`.

Run `.venv/bin/python docs/generate_openapi.py` after changing a REST route or model;
`tests/unit/test_docs.py` fails while the committed file differs from what this builds.

ENDPOINTS says, for each (method, path): the request model (a JSON body for POST/PUT/PATCH,
query parameters for GET/DELETE), the response model, a summary and who may call it. The
error responses each operation lists are derived from those facts (see `_error_statuses`).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402
from pydantic.json_schema import models_json_schema  # noqa: E402

from chalicelib.api.schemas import ENDPOINTS  # noqa: E402
from chalicelib.domain import errors  # noqa: E402

OUTPUT = ROOT / "docs" / "openapi.json"
REF = "#/components/schemas/{model}"
BODY_METHODS = {"POST", "PUT", "PATCH"}

# What ENDPOINTS cannot say: a second success status, and errors particular to one route.
SUCCESS = {
    ("POST", "/v1/visitor/sessions"): {
        "201": "A new visitor: no token was sent, or it was expired, forged or of another tenant.",
        "200": "A returning visitor: the token sent was still valid for this site; a fresh one is issued.",
    },
    ("POST", "/v1/canned-replies"): {"201": "Created."},
    ("POST", "/v1/uploads"): {"201": "Upload with a multipart POST of `fields` plus the file to `url`."},
    ("POST", "/v1/tickets"): {"201": "Created; its SLA timer is running."},
    ("POST", "/v1/conversations/{conversation_id}/ticket"): {"201": "Created from the conversation."},
    ("POST", "/v1/tickets/{number}/replies"): {"201": "Mailed to the requester; the ticket as it is now."},
    ("POST", "/v1/tickets/{number}/notes"): {"201": "The note, as it is in the timeline."},
    ("POST", "/v1/visitor/left-messages"): {"201": "The message is ticket `number`; the answer comes by mail."},
}
EXTRA_ERRORS = {
    ("PATCH", "/v1/tickets/{number}"): {
        "409": "`conflict`: `version` is not the current one (another agent saved first: reload, re-apply, "
               "send again); `invalid_transition`: the status cannot change that way."},
    ("PUT", "/v1/kb/articles/{article_id}"): {
        "409": "`article_changed`: someone saved the article since the `version` this edit started "
               "from (reload, re-apply, send again)."},
    ("POST", "/v1/conversations/{conversation_id}/ticket"): {
        "409": "`ticket_exists`: the conversation already has a ticket (`details.number`)."},
    ("POST", "/v1/public/tickets/lookup"): {
        "404": "`ticket_not_found`: no ticket with that number and email (the same answer for both).",
        "429": "`rate_limited`: too many lookups from this address or for this number in the last minute."},
    ("POST", "/v1/public/tickets/rating"): {"401": "`unauthenticated`: the link's token is invalid or expired.",
                                           "409": "`conflict`: the ticket is not solved."},
    ("GET", "/v1/public/tickets/rating"): {"401": "`unauthenticated`: the link's token is invalid or expired.",
                                          "409": "`conflict`: the ticket is not solved."},
    ("PUT", "/v1/ticket-settings/sla"): {"403": "`forbidden`: only supervisors and admins change settings."},
    ("PUT", "/v1/ticket-settings/routing"): {"403": "`forbidden`: only supervisors and admins change settings."},
    ("POST", "/v1/visitor/sessions"): {"404": "`not_found`: no tenant has this site key."},
    ("POST", "/v1/agent/login"): {"401": "`unauthenticated`: wrong email or password (the same answer for both)."},
}
ERROR_DESCRIPTIONS = {
    "400": "`invalid_frame` (a field breaks its schema; `details.problems` lists them) or "
           "`malformed_json` (the body is not JSON).",
    "401": "`unauthenticated`: the bearer token is missing, forged or expired.",
    "403": "`forbidden`: the token is valid but not an agent's.",
    "404": "`not_found` / `conversation_not_found`: it does not exist, or it is not yours "
           "(the same answer for both).",
}


def error_codes() -> list[str]:
    """Every stable `code` of the error classes in `chalicelib.domain.errors` (that module
    only, so the list does not depend on which other modules happen to be imported)."""
    return sorted({
        value.code for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.KefuError)
    })


def error_schema() -> dict[str, Any]:
    return {
        "title": "Error",
        "description": "Every error answer: a stable machine-readable `code` and a message safe to show.",
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "enum": error_codes()},
                    "message": {"type": "string"},
                    "details": {
                        "type": "object",
                        "additionalProperties": True,
                        "description": "Structured context, present only when there is some "
                                       "(e.g. `problems`: [{field, problem}], `limit_bytes`).",
                    },
                },
            }
        },
    }


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
        for name in re.findall(r"{(\w+)}", path)
    ]


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    parameters = []
    for name, field_schema in schema.get("properties", {}).items():
        field_schema = _not_null(field_schema)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if "description" in field_schema:
            parameter["description"] = field_schema.pop("description")
        parameter["schema"] = field_schema
        parameters.append(parameter)
    return parameters


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null: drop pydantic's `null` branch."""
    schema = {k: v for k, v in schema.items() if k != "title"}
    branches = [b for b in schema.get("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1 and len(schema["anyOf"]) == 2:
        del schema["anyOf"]
        schema = {**branches[0], **schema}
    if schema.get("default", 0) is None:
        del schema["default"]
    return schema


def _error_statuses(method: str, path: str, request: type[BaseModel] | None, auth: str) -> dict[str, str]:
    statuses: dict[str, str] = {}
    if request is not None:
        statuses["400"] = ERROR_DESCRIPTIONS["400"]
    if auth != "none":
        statuses["401"] = ERROR_DESCRIPTIONS["401"]
    if auth in ("agent", "supervisor"):
        statuses["403"] = ERROR_DESCRIPTIONS["403"]
    if "{" in path:
        statuses["404"] = ERROR_DESCRIPTIONS["404"]
    statuses.update(EXTRA_ERRORS.get((method, path), {}))
    return dict(sorted(statuses.items()))


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[{}]", "", path).strip("/").replace("-", "_").split("/")
    return "_".join([method.lower(), *words])


def build_document() -> dict[str, Any]:
    """The OpenAPI document as a dict (what `docs/openapi.json` must hold)."""
    models: list[tuple[type[BaseModel], Any]] = []
    for (method, _path), (request, response, _summary, _auth) in ENDPOINTS.items():
        if request is not None and method in BODY_METHODS:
            models.append((request, "validation"))
        if response is not None:
            models.append((response, "serialization"))
    unique = list(dict.fromkeys(models))
    refs, definitions = models_json_schema(unique, ref_template=REF)
    schemas: dict[str, Any] = dict(sorted(definitions.get("$defs", {}).items()))
    schemas["Error"] = error_schema()

    paths: dict[str, dict[str, Any]] = {}
    for (method, path), (request, response, summary, auth) in ENDPOINTS.items():
        operation: dict[str, Any] = {
            "operationId": _operation_id(method, path),
            "summary": summary,
            "description": f"Who may call it: {auth}.",
            "tags": [path.split("/")[2]],
            "security": [] if auth == "none" else [{"bearerAuth": []}],
            "x-kefu-auth": auth,
        }
        parameters = _path_parameters(path)
        if request is not None and method not in BODY_METHODS:
            parameters += _query_parameters(request)
        if parameters:
            operation["parameters"] = parameters
        if request is not None and method in BODY_METHODS:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(request, "validation")]}},
            }
        responses: dict[str, Any] = {}
        if response is None:
            responses["204"] = {"description": "Done; no body."}
        else:
            content = {"application/json": {"schema": refs[(response, "serialization")]}}
            for status, text in SUCCESS.get((method, path), {"200": "OK"}).items():
                responses[status] = {"description": text, "content": content}
        for status, text in _error_statuses(method, path, request, auth).items():
            responses[status] = {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
            }
        operation["responses"] = dict(sorted(responses.items()))
        paths.setdefault(path, {})[method.lower()] = operation

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kefu REST API",
            "version": "1",
            "description": "Sessions, sign-in and conversation reads. Real-time chat is the "
                           "WebSocket protocol in docs/protocol.md; this is docs/rest-api.md's "
                           "machine-readable half, generated by docs/generate_openapi.py.",
        },
        "servers": [
            {"url": "http://127.0.0.1:8000", "description": "`make run`: the local gateway"},
            {
                "url": "https://{api_id}.execute-api.{region}.amazonaws.com/api",
                "description": "A deployed stack (the REST API's stage is `api`)",
                "variables": {"api_id": {"default": "abcdef1234"}, "region": {"default": "us-east-1"}},
            },
        ],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A visitor token from POST /v1/visitor/sessions or an agent "
                                   "token from POST /v1/agent/login (HS256, signed by Kefu).",
                }
            },
        },
    }


def render() -> str:
    return json.dumps(build_document(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(ENDPOINTS)} operations)")


if __name__ == "__main__":
    main()
