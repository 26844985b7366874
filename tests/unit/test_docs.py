"""The docs cannot drift from the code: every frame example in docs/protocol.md is checked
against the protocol models, and docs/openapi.json must be what its generator builds now."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, get_args, get_origin

import pytest
from pydantic import BaseModel, TypeAdapter

from chalicelib.api.schemas import ENDPOINTS
from chalicelib.domain import errors
from chalicelib.domain import protocol as p

DOCS = Path(__file__).resolve().parents[2] / "docs"
PROTOCOL_MD = DOCS / "protocol.md"
# ```json client / ```json server: the second word says which way the frame travels.
FENCE = re.compile(r"^```json(?P<info>[^\n]*)\n(?P<body>.*?)^```\s*$", re.MULTILINE | re.DOTALL)
SERVER = TypeAdapter(p.ServerFrame)


def _examples() -> list[tuple[str, int, dict[str, Any]]]:
    """(direction, line, frame) for every JSON block with an "action" in protocol.md."""
    text = PROTOCOL_MD.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        try:
            data = json.loads(match.group("body"))
        except ValueError as error:
            pytest.fail(f"protocol.md line {line}: the JSON example does not parse: {error}")
        if not isinstance(data, dict) or "action" not in data:
            continue
        direction = match.group("info").strip()
        assert direction in ("client", "server"), (
            f"protocol.md line {line}: a frame example must be fenced ```json client or ```json server")
        found.append((direction, line, data))
    return found


EXAMPLES = _examples()


def _actions(union: Any) -> set[str]:
    """The `action` literals of the frame models in a discriminated union."""
    members = get_args(get_args(union)[0])
    actions = set()
    for model in members:
        annotation = model.model_fields["action"].annotation
        assert get_origin(annotation) is Literal
        actions.update(get_args(annotation))
    return actions


@pytest.mark.parametrize("direction,line,frame", EXAMPLES, ids=[f"line{e[1]}-{e[2]['action']}" for e in EXAMPLES])
def test_example_matches_the_models(direction: str, line: int, frame: dict[str, Any]) -> None:
    if direction == "client":
        parsed = p.parse_client_frame(json.dumps(frame))
        assert parsed.action == frame["action"]  # type: ignore[attr-defined]
    else:
        parsed = SERVER.validate_python(frame)
        # Exactly what the server sends: no field the model lacks, none it would add.
        sent = json.loads(parsed.model_dump_json(exclude_none=True))
        assert sent == frame, f"protocol.md line {line}: the server would send {json.dumps(sent)}"


def test_every_client_action_has_an_example() -> None:
    shown = {f["action"] for d, _, f in EXAMPLES if d == "client"}
    assert _actions(p.ClientFrame) - shown == set()
    assert set(p.CLIENT_ACTIONS) == _actions(p.ClientFrame)


def test_every_server_action_has_an_example() -> None:
    shown = {f["action"] for d, _, f in EXAMPLES if d == "server"}
    assert _actions(p.ServerFrame) - shown == set()


def test_every_error_code_is_in_the_table() -> None:
    text = PROTOCOL_MD.read_text(encoding="utf-8")
    codes = {v.code for v in vars(errors).values() if isinstance(v, type) and issubclass(v, errors.KefuError)}
    missing = {code for code in codes if f"| `{code}` |" not in text}
    assert missing == set()


def test_limits_match_the_code() -> None:
    text = PROTOCOL_MD.read_text(encoding="utf-8")
    for constant in ("MAX_FRAME_BYTES", "MAX_TEXT_CHARS", "MAX_DRAFT_CHARS"):
        assert f"`{constant}`" in text, constant
    assert f"{p.MAX_FRAME_BYTES:,}" in text and f"{p.MAX_TEXT_CHARS} characters" in text
    assert f"{p.MAX_DRAFT_CHARS} characters" in text


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_openapi", DOCS / "generate_openapi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_openapi_json_is_current() -> None:
    committed = (DOCS / "openapi.json").read_text(encoding="utf-8")
    assert committed == _generator().render(), (
        "docs/openapi.json is stale: run .venv/bin/python docs/generate_openapi.py")


def test_openapi_covers_every_endpoint_and_model() -> None:
    document = json.loads((DOCS / "openapi.json").read_text(encoding="utf-8"))
    assert document["openapi"].startswith("3.1")
    for (method, path), (_request, response, _summary, auth) in ENDPOINTS.items():
        operation = document["paths"][path][method.lower()]
        assert (operation["security"] == []) == (auth == "none")
        if isinstance(response, type) and issubclass(response, BaseModel):
            assert response.__name__ in document["components"]["schemas"]


def test_rest_overview_mentions_every_route() -> None:
    text = (DOCS / "rest-api.md").read_text(encoding="utf-8")
    missing = [f"{m} {path}" for (m, path) in ENDPOINTS if f"{m} {path}" not in text]
    assert missing == []


def test_article_update_documents_its_version_conflict() -> None:
    document = json.loads((DOCS / "openapi.json").read_text(encoding="utf-8"))
    put = document["paths"]["/v1/kb/articles/{article_id}"]["put"]
    assert "article_changed" in put["responses"]["409"]["description"]
    assert "`article_changed`" in (DOCS / "rest-api.md").read_text(encoding="utf-8")
