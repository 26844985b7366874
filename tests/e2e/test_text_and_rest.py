"""Behaviour 7 and REST auth: message text is stored and delivered as text (markup is
neither escaped nor stripped), REST answers JSON, and REST refuses bad credentials."""
from __future__ import annotations

import json

import pytest

from tests.e2e.clients import message_new, start_chat

pytestmark = pytest.mark.anyio

TEXTS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(document.cookie)</script>",
    "a &amp; b &lt;not an entity&gt; \"quoted\" 'single' \\back\\slash",
    "中文客服 🙂 e\u0301 \u202eRTL",
    "line one\nline two\ttabbed",
]


async def test_markup_is_stored_and_delivered_as_plain_text(api, tenant) -> None:
    chat = await start_chat(api, tenant)
    cid = chat.conversation_id
    for text in TEXTS:
        sent = await chat.visitor.send_message(text, cid)
        got = await chat.agent.wait_for(message_new(cid, sent["client_msg_id"]))
        assert got["message"]["text"] == text
        reply = await chat.agent.send_message(text, cid)
        got = await chat.visitor.wait_for(message_new(cid, reply["client_msg_id"]))
        assert got["message"]["text"] == text
    raw = "".join(chat.agent.raw + chat.visitor.raw)
    assert "<img src=x onerror=alert(1)>" in raw and "<script>alert(document.cookie)</script>" in raw
    assert "&lt;img" not in raw and "\\u003c" not in raw.lower()

    stored = await api.messages(cid, chat.visitor_token)
    assert [m["text"] for m in stored[1:]] == [t for t in TEXTS for _ in (0, 1)]
    response = await api.get(f"/v1/conversations/{cid}/messages", chat.agent_token)
    assert response.headers["content-type"] == "application/json"
    assert "<img src=x onerror=alert(1)>" in response.text and "&lt;" not in response.text.replace(
        "&lt;not an entity&gt;", "")
    summary = await api.get(f"/v1/conversations/{cid}", chat.agent_token)
    assert summary.headers["content-type"] == "application/json"
    assert summary.json()["last_message_preview"] == TEXTS[-1]
    await chat.close()


async def test_agent_login_with_a_wrong_password_is_401(api, tenant) -> None:
    for email, password in ((tenant.agent_emails[0], "wrong-password"), ("nobody@e2e.kefu.dev", "x")):
        response = await api.login(email, password)
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["code"] == "unauthenticated"
        assert "token" not in response.json()
    response = await api.login(tenant.agent_emails[0], tenant.password)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json()["agent"]["email"] == tenant.agent_emails[0]


async def test_a_visitor_token_cannot_list_conversations(api, tenant) -> None:
    chat = await start_chat(api, tenant)
    response = await api.get("/v1/conversations", chat.visitor_token)
    assert response.status_code == 403, response.text
    assert json.loads(response.text)["error"]["code"] == "forbidden"
    response = await api.get("/v1/conversations", None)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthenticated"
    # The visitor may still read their own conversation.
    assert (await api.get(f"/v1/conversations/{chat.conversation_id}", chat.visitor_token)).status_code == 200
    await chat.close()
