"""A creating POST retried with the same Idempotency-Key (Powertools idempotency on the
idempotency table) creates once and answers the retry with the first answer."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.e2e.clients import Api, Tenant

pytestmark = pytest.mark.anyio


def _headers(token: str | None, key: str) -> dict[str, str]:
    headers = {"Idempotency-Key": key}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


async def test_a_retried_canned_reply_is_created_once(api: Api, tenant: Tenant) -> None:
    token = await api.agent_token(tenant)
    key = f"key-{uuid.uuid4().hex}"
    body = {"shortcut": "hello", "text": "Hello! How can I help?"}
    first = await api.http.post("/v1/canned-replies", json=body, headers=_headers(token, key))
    again = await api.http.post("/v1/canned-replies", json=body, headers=_headers(token, key))
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert first.json() == again.json()
    listed = (await api.get("/v1/canned-replies", token)).json()["canned_replies"]
    assert [r["id"] for r in listed] == [first.json()["id"]]
    # Without the key, the same body is a second request: the shortcut is taken.
    plain = await api.http.post("/v1/canned-replies", json=body, headers={"Authorization": f"Bearer {token}"})
    assert plain.status_code == 409 and plain.json()["error"]["code"] == "conflict"


async def test_a_key_reused_with_another_body_is_refused(api: Api, tenant: Tenant) -> None:
    token = await api.agent_token(tenant)
    key = f"key-{uuid.uuid4().hex}"
    created = await api.http.post("/v1/canned-replies", json={"shortcut": "a", "text": "A"},
                                  headers=_headers(token, key))
    assert created.status_code == 201
    reused = await api.http.post("/v1/canned-replies", json={"shortcut": "b", "text": "B"},
                                 headers=_headers(token, key))
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_conflict"
    listed = (await api.get("/v1/canned-replies", token)).json()["canned_replies"]
    assert [r["shortcut"] for r in listed] == ["a"]


async def test_a_malformed_key_is_a_clear_error(api: Api, tenant: Tenant) -> None:
    token = await api.agent_token(tenant)
    answer = await api.http.post("/v1/canned-replies", json={"shortcut": "x", "text": "X"},
                                 headers=_headers(token, "no spaces allowed"))
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_frame"
    assert (await api.get("/v1/canned-replies", token)).json()["canned_replies"] == []


async def test_concurrent_retries_of_a_visitor_session_make_one_visitor(api: Api, tenant: Tenant) -> None:
    key = f"key-{uuid.uuid4().hex}"
    answers = await asyncio.gather(*(
        api.http.post("/v1/visitor/sessions", json={"site_key": tenant.site_key}, headers=_headers(None, key))
        for _ in range(4)))
    created = [a for a in answers if a.status_code == 201]
    in_progress = [a for a in answers if a.status_code == 409]
    assert len(created) + len(in_progress) == 4, [a.text for a in answers]
    assert created, "at least the first request completes"
    assert all(a.json()["error"]["code"] == "idempotency_conflict" for a in in_progress)
    assert len({a.json()["visitor_id"] for a in created}) == 1
