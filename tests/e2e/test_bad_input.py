"""Behaviour 5: bad frames get an error frame with a stable code, leave the connection
usable and write nothing; bad tokens cannot connect; one tenant's token reads nothing
of another tenant's, over WebSocket or REST."""
from __future__ import annotations

import json
import time

import jwt
import pytest
from websockets.exceptions import InvalidStatus

from tests.e2e.clients import Api, Chat, WsClient, action_is, delivered_message, message_new, start_chat

pytestmark = pytest.mark.anyio


def send_frame(**fields: object) -> str:
    return json.dumps({"action": "message.send", "client_msg_id": "bad-1", **fields})


BAD_FRAMES = [
    ("{not json", "malformed_json"),
    ("", "malformed_json"),
    ('{"action": "message.delete", "client_msg_id": "x"}', "unknown_action"),
    ('{"text": "no action"}', "unknown_action"),
    (send_frame(text="x" * (32 * 1024 + 1)), "frame_too_large"),
    (send_frame(text="é" * (16 * 1024 + 1)), "frame_too_large"),  # 32 KB is counted in bytes
    ("[1, 2]", "invalid_frame"),
    ("null", "invalid_frame"),
    (json.dumps({"action": "message.send", "text": "no id"}), "invalid_frame"),
    (send_frame(), "invalid_frame"),
    (send_frame(text="   "), "invalid_frame"),
    (send_frame(text="bell\x07"), "invalid_frame"),
    (send_frame(text="x" * 4001), "invalid_frame"),
    (send_frame(text="hi", client_msg_id="has space"), "invalid_frame"),
    (send_frame(text="hi", extra="field"), "invalid_frame"),
    (send_frame(text="hi", v=2), "invalid_frame"),
    ('{"action": "read", "conversation_id": "c", "seq": -1}', "invalid_frame"),
    ('{"action": "typing", "state": "maybe"}', "invalid_frame"),
    ('{"action": "sync"}', "invalid_frame"),
]


async def check_rejected_without_effect(api: Api, chat: Chat, client: WsClient,
                                        frames: list[tuple[str, str]]) -> None:
    """Each bad frame gets its error code, then a valid message on the same socket is acked,
    and the conversation holds exactly the accepted messages."""
    cid = chat.conversation_id
    accepted = [m["client_msg_id"] for m in await api.messages(cid, chat.agent_token)]
    for raw, code in frames:
        error = await client.request(raw, action_is("error"))
        assert error["code"] == code, (raw[:80], error)
        assert error["message"]
        ack = await client.send_message(f"still here after {code}", cid)
        assert ack["action"] == "message.ack", (raw[:80], ack)
        accepted.append(ack["client_msg_id"])
        assert ack["seq"] == len(accepted)
    assert [m["client_msg_id"] for m in await api.messages(cid, chat.agent_token)] == accepted


async def test_bad_frames_get_a_stable_error_and_change_nothing(api, tenant) -> None:
    chat = await start_chat(api, tenant)
    # All of them from the agent (agents are not rate limited), a few from the visitor too.
    await check_rejected_without_effect(api, chat, chat.agent, BAD_FRAMES)
    await check_rejected_without_effect(api, chat, chat.visitor, [BAD_FRAMES[i] for i in (0, 2, 4, 9)])
    stored = await api.messages(chat.conversation_id, chat.agent_token)
    await chat.agent.settle()
    visitor_sent = [m["client_msg_id"] for m in stored if m["sender_role"] == "visitor"]
    assert [delivered_message(f, chat.conversation_id)["client_msg_id"]
            for f in chat.agent.received(message_new(chat.conversation_id))] == visitor_sent
    await chat.close()


async def test_errors_name_the_frame_they_answer(api, tenant) -> None:
    chat = await start_chat(api, tenant)
    error = await chat.visitor.request(send_frame(text=""), action_is("error"))
    assert (error["code"], error["ref"]) == ("invalid_frame", "bad-1")
    assert error["details"]["problems"][0]["field"] == "text"
    error = await chat.visitor.request(send_frame(text="x" * 40_000), action_is("error"))
    assert error["details"] == {"limit_bytes": 32 * 1024, "size_bytes": len(send_frame(text="x" * 40_000))}
    # Agents must say which conversation they write or type into.
    for frame in ({"action": "message.send", "client_msg_id": "a-1", "text": "hi"},
                  {"action": "typing", "state": "start"}):
        error = await chat.agent.request(frame, action_is("error"))
        assert error["code"] == "invalid_frame", error
    assert await api.last_seq(chat.conversation_id, chat.agent_token) == 1
    await chat.close()


def forged_tokens(tenant_id: str) -> list[str]:
    now = int(time.time())
    claims = {"tid": tenant_id, "role": "agent", "sub": "a_forged", "name": "Mallory", "iss": "kefu",
              "iat": now, "exp": now + 3600}
    wrong_key = jwt.encode(claims, "not-the-server-secret-" * 3, algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    header, payload, signature = wrong_key.split(".")
    return [wrong_key, unsigned, f"{header}.{payload}.", "not-a-jwt", "a.b.c"]


async def test_missing_or_forged_tokens_are_refused_at_the_handshake(api, tenant) -> None:
    for token in [None, "", *forged_tokens(tenant.tenant_id)]:
        with pytest.raises(InvalidStatus) as refused:
            await WsClient.connect(api.ws_url, token)
        assert refused.value.response.status_code == 403, token
    # An agent token is fine, and a visitor's token altered by one character is not.
    visitor_token = await api.visitor_token(tenant)
    tampered = visitor_token[:-2] + ("A" if visitor_token[-2] != "A" else "B") + visitor_token[-1]
    with pytest.raises(InvalidStatus) as refused:
        await WsClient.connect(api.ws_url, tampered)
    assert refused.value.response.status_code == 403
    client = await WsClient.connect(api.ws_url, visitor_token)
    await client.close()


async def two_tenants(api: Api, make_tenant) -> tuple[Chat, Chat]:
    chat_a = await start_chat(api, make_tenant(), "tenant A's secret")
    chat_b = await start_chat(api, make_tenant(), "tenant B's secret")
    return chat_a, chat_b


async def test_a_tenant_reads_nothing_of_another_tenant_over_websocket(api, make_tenant) -> None:
    chat_a, chat_b = await two_tenants(api, make_tenant)
    cid_b = chat_b.conversation_id
    before_b = (await api.get(f"/v1/conversations/{cid_b}", chat_b.agent_token)).json()
    _, other_visitor = await api.visitor(chat_b.tenant)  # same tenant, not their conversation

    attempts = [
        {"action": "sync", "conversation_id": cid_b},
        {"action": "message.send", "client_msg_id": "intruder-1", "conversation_id": cid_b, "text": "hi"},
        {"action": "read", "conversation_id": cid_b, "seq": 1},
        {"action": "typing", "conversation_id": cid_b, "state": "start", "draft": "x"},
    ]
    for client in (chat_a.agent, chat_a.visitor, other_visitor):
        for frame in attempts:
            error = await client.request(frame, action_is("error"))
            assert error["code"] == "conversation_not_found", (frame, error)
    # A foreign conversation and one that does not exist look alike: ids are no oracle.
    missing = await chat_a.agent.request({"action": "sync", "conversation_id": "c_does_not_exist"},
                                         action_is("error"))
    foreign = await chat_a.agent.request({"action": "sync", "conversation_id": cid_b}, action_is("error"))
    assert (missing["code"], missing["message"]) == (foreign["code"], foreign["message"])

    await chat_b.visitor.settle()
    assert "tenant B's secret" not in "".join(chat_a.agent.raw + chat_a.visitor.raw + other_visitor.raw)
    assert not chat_b.visitor.received(lambda f: f.get("action") in ("typing", "read", "message.new"))
    assert not chat_b.agent.received(lambda f: f.get("action") in ("typing", "read"))
    assert (await api.get(f"/v1/conversations/{cid_b}", chat_b.agent_token)).json() == before_b
    assert [m["text"] for m in await api.messages(cid_b, chat_b.agent_token)] == ["tenant B's secret"]
    for client in (chat_a, chat_b, other_visitor):
        await client.close()


async def test_a_tenant_reads_nothing_of_another_tenant_over_rest(api, make_tenant) -> None:
    chat_a, chat_b = await two_tenants(api, make_tenant)
    cid_b = chat_b.conversation_id
    other_visitor_token = await api.visitor_token(chat_b.tenant)
    answers = []
    for token in (chat_a.agent_token, chat_a.visitor_token, other_visitor_token):
        for path in (f"/v1/conversations/{cid_b}", f"/v1/conversations/{cid_b}/messages"):
            response = await api.get(path, token)
            assert "secret" not in response.text
            answers.append((path, response.status_code, response.headers.get("content-type"), response.text))
    listed = (await api.get("/v1/conversations", chat_a.agent_token)).json()["conversations"]
    assert [c["conversation_id"] for c in listed] == [chat_a.conversation_id]
    await chat_a.close()
    await chat_b.close()
    # The same answer as for a conversation that does not exist: 404 conversation_not_found.
    for path, status, content_type, text in answers:
        assert (status, content_type) == (404, "application/json"), (path, text)
        assert json.loads(text)["error"]["code"] == "conversation_not_found"
