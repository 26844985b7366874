"""Behaviours 2 and 3: a resent client_msg_id is stored and delivered once with the same
ack, even across a dropped connection; a reconnecting client catches up with `sync`
without losing or repeating a message; every tab of a visitor gets the agent's messages."""
from __future__ import annotations

import time

import pytest

from tests.e2e.clients import WsClient, message_new, new_client_msg_id, start_chat

pytestmark = pytest.mark.anyio

ACK_IDENTITY = ("client_msg_id", "conversation_id", "seq", "created_at")


def same_ack(a: dict, b: dict) -> bool:
    return all(a[k] == b[k] for k in ACK_IDENTITY)


async def test_resending_a_client_msg_id_stores_and_delivers_it_once(api, tenant) -> None:
    chat = await start_chat(api, tenant)
    cid = chat.conversation_id
    cmid = new_client_msg_id("v")

    first = await chat.visitor.send_message("only once", cid, cmid)
    again = await chat.visitor.send_message("only once", cid, cmid)
    assert first["action"] == again["action"] == "message.ack"
    assert same_ack(first, again) and again["duplicate"] is True

    # The visitor's first message, resent without conversation_id (as a widget does before
    # it knows the id), is also recognised.
    opening = await chat.visitor.send_message("hello", None, chat.first_ack["client_msg_id"])
    assert same_ack(opening, chat.first_ack)

    agent_cmid = new_client_msg_id("a")
    agent_first = await chat.agent.send_message("agent once", cid, agent_cmid)
    assert same_ack(agent_first, await chat.agent.send_message("agent once", cid, agent_cmid))

    marker = await chat.visitor.send_message("marker", cid)
    await chat.agent.wait_for(message_new(cid, marker["client_msg_id"]))
    await chat.visitor.wait_for(message_new(cid, agent_cmid))
    await chat.visitor.settle()
    assert len(chat.agent.received(message_new(cid, cmid))) == 1
    assert len(chat.visitor.received(message_new(cid, agent_cmid))) == 1

    stored = [m["client_msg_id"] for m in await api.messages(cid, chat.agent_token)]
    assert stored == [chat.first_ack["client_msg_id"], cmid, agent_cmid, marker["client_msg_id"]]
    await chat.close()


async def test_resend_after_a_dropped_connection_is_stored_once(api, tenant) -> None:
    chat = await start_chat(api, tenant)
    cid = chat.conversation_id

    # Dropped after the ack: the client did not persist it and resends on a new socket.
    acked_cmid = new_client_msg_id("v")
    acked = await chat.visitor.send_message("sent before the drop", cid, acked_cmid)
    await chat.visitor.close()
    visitor = await WsClient.connect(api.ws_url, chat.visitor_token)
    assert same_ack(acked, await visitor.send_message("sent before the drop", cid, acked_cmid))

    # Dropped before the ack could arrive: the first copy may still be in flight when the
    # resend arrives; either way the resend's ack names the one stored copy.
    lost_cmid = new_client_msg_id("v")
    await visitor.send({"action": "message.send", "client_msg_id": lost_cmid, "conversation_id": cid,
                        "text": "ack lost"})
    await visitor.close()
    visitor = await WsClient.connect(api.ws_url, chat.visitor_token)
    resent = await visitor.send_message("ack lost", cid, lost_cmid)
    assert resent["action"] == "message.ack", resent

    marker = await visitor.send_message("marker", cid)
    await chat.agent.wait_for(message_new(cid, marker["client_msg_id"]))
    await chat.agent.settle()
    for cmid in (acked_cmid, lost_cmid):
        assert len(chat.agent.received(message_new(cid, cmid))) == 1, cmid

    stored = await api.messages(cid, chat.visitor_token)
    assert [m["client_msg_id"] for m in stored] == [
        chat.first_ack["client_msg_id"], acked_cmid, lost_cmid, marker["client_msg_id"]]
    assert [m["seq"] for m in stored] == [1, 2, 3, 4]
    by_cmid = {m["client_msg_id"]: m for m in stored}
    assert same_ack(resent, {**by_cmid[lost_cmid], "conversation_id": cid})
    await visitor.close()
    await chat.agent.close()


async def test_sync_after_reconnect_returns_exactly_the_missed_messages(api, tenant) -> None:
    chat = await start_chat(api, tenant)
    cid = chat.conversation_id
    reply = await chat.agent.send_message("first answer", cid)
    await chat.visitor.wait_for(message_new(cid, reply["client_msg_id"]))
    last_seen = reply["seq"]
    await chat.visitor.close()

    missed = [await chat.agent.send_message(f"missed {i}", cid) for i in range(5)]

    visitor = await WsClient.connect(api.ws_url, chat.visitor_token)
    caught_up = await visitor.sync(cid, after_seq=last_seen)
    assert caught_up["action"] == "messages", caught_up
    assert [m["client_msg_id"] for m in caught_up["messages"]] == [a["client_msg_id"] for a in missed]
    assert [m["seq"] for m in caught_up["messages"]] == list(range(last_seen + 1, last_seen + 6))
    assert [m["text"] for m in caught_up["messages"]] == [f"missed {i}" for i in range(5)]
    assert caught_up["last_seq"] == last_seen + 5 and caught_up["has_more"] is False

    # Live delivery resumes on the new socket, and nothing missed arrives a second time.
    live = await chat.agent.send_message("after reconnect", cid)
    await visitor.wait_for(message_new(cid, live["client_msg_id"]))
    await visitor.settle()
    assert [f["message"]["seq"] for f in visitor.received(message_new(cid))] == [live["seq"]]
    await visitor.close()
    await chat.agent.close()


async def test_agent_catches_up_with_sync_after_reconnect(api, tenant) -> None:
    chat = await start_chat(api, tenant)
    cid = chat.conversation_id
    await chat.agent.close()

    missed = [await chat.visitor.send_message(f"are you there? {i}", cid) for i in range(3)]

    agent = await WsClient.connect(api.ws_url, chat.agent_token)
    caught_up = await agent.sync(cid, after_seq=1)
    assert [m["client_msg_id"] for m in caught_up["messages"]] == [a["client_msg_id"] for a in missed]
    assert [m["seq"] for m in caught_up["messages"]] == [2, 3, 4]
    await agent.close()
    await chat.visitor.close()


async def test_a_post_that_reaches_a_connection_while_it_opens_does_not_cost_it(api, tenant, stack,
                                                                                monkeypatch) -> None:
    """API Gateway answers Gone to a post that reaches a connection before its $connect has
    returned, and a dispatch round or a fan-out running in parallel can post in that window
    (an agent's $connect itself asks for a dispatch round). Here the $connect handler, once
    done, posts to its own connection the way such a round would: the post is answered Gone,
    and still the connection opens, stays registered and gets its answers."""
    from chalicelib import bootstrap
    from chalicelib.adapters.repositories import DynamoConnections, DynamoConversations
    from chalicelib.domain import protocol as p
    from chalicelib.domain.clock import SystemClock
    from chalicelib.domain.errors import ConnectionGone
    from chalicelib.services.notifier import Notifier

    gateway = bootstrap.services().gateway
    notifier = Notifier(DynamoConnections(), DynamoConversations(), gateway, SystemClock())
    answers: dict[str, str] = {}
    real_connect = stack.gateway._ws_handlers["$connect"]

    def connect_then_post(event, context):
        result = real_connect(event, context)
        connection_id = event["requestContext"]["connectionId"]
        try:
            gateway.post(connection_id, b'{"action": "pong", "server_time": 0}')
            answers[connection_id] = "delivered"
        except ConnectionGone:
            answers[connection_id] = "gone"
        notifier.reply(connection_id, p.Pong(server_time=0))  # Gone again: the notifier's own path
        return result

    chat = await start_chat(api, tenant)
    cid = chat.conversation_id
    await chat.agent.close()
    missed = await chat.visitor.send_message("are you there?", cid)
    monkeypatch.setitem(stack.gateway._ws_handlers, "$connect", connect_then_post)
    agent = await WsClient.connect(api.ws_url, chat.agent_token)
    monkeypatch.undo()

    [(connection_id, answer)] = answers.items()
    assert answer == "gone"
    assert DynamoConnections().get(connection_id) is not None
    caught_up = await agent.sync(cid, after_seq=1)
    assert [m["client_msg_id"] for m in caught_up["messages"]] == [missed["client_msg_id"]]
    reply = await agent.send_message("here now", cid)
    assert reply["action"] == "message.ack", reply
    await chat.visitor.wait_for(message_new(cid, reply["client_msg_id"]))
    assert not [f for f in agent.frames if f.get("action") == "pong"]  # nothing from the window leaked out
    await agent.close()
    await chat.visitor.close()


async def test_a_fan_out_forgets_gone_watchers_past_their_connect_only(api, tenant) -> None:
    """Watchers the gateway no longer knows (their $disconnect was lost): the one that
    connected before the grace is removed from the table and the conversation, the young
    one is kept (it may still be opening); the live tabs get the message either way."""
    from chalicelib.adapters.repositories import DynamoConnections, DynamoConversations
    from chalicelib.domain.model import Connection, Role
    from chalicelib.services.notifier import CONNECTING_GRACE_MS

    chat = await start_chat(api, tenant)
    cid = chat.conversation_id
    connections, conversations = DynamoConnections(), DynamoConversations()
    visitor_id = conversations.get(tenant.tenant_id, cid).visitor_id
    now = int(time.time() * 1000)
    ghosts = {"old": now - CONNECTING_GRACE_MS - 5_000, "young": now - 1_000}
    for name, connected_at in ghosts.items():
        connections.add(Connection(connection_id=f"ghost-{name}-{cid}", tenant_id=tenant.tenant_id,
                                   role=Role.VISITOR, principal_id=visitor_id, display_name="",
                                   connected_at=connected_at, expires_at=now + 3_600_000))
        conversations.add_watcher(tenant.tenant_id, cid, f"ghost-{name}-{cid}")

    reply = await chat.agent.send_message("anyone?", cid)
    await chat.visitor.wait_for(message_new(cid, reply["client_msg_id"]))
    await chat.agent.settle()

    assert connections.get(f"ghost-old-{cid}") is None
    assert connections.get(f"ghost-young-{cid}") is not None
    watchers = conversations.get(tenant.tenant_id, cid).watchers
    assert f"ghost-old-{cid}" not in watchers and f"ghost-young-{cid}" in watchers
    await chat.agent.close()
    await chat.visitor.close()


async def test_every_tab_of_a_visitor_gets_the_agents_messages(api, tenant) -> None:
    agent_token, agent = await api.agent(tenant)
    visitor_token, tab1 = await api.visitor(tenant)
    tab2 = await WsClient.connect(api.ws_url, visitor_token)  # open before the conversation exists

    opening = await tab1.send_message("hello from tab 1")
    cid = opening["conversation_id"]
    # The other tab sees what the visitor wrote in the first one.
    await tab2.wait_for(message_new(cid, opening["client_msg_id"]))
    tab3 = await WsClient.connect(api.ws_url, visitor_token)  # opened after it exists

    reply = await agent.send_message("hello, all tabs", cid)
    for tab in (tab1, tab2, tab3):
        got = await tab.wait_for(message_new(cid, reply["client_msg_id"]))
        assert got["message"]["text"] == "hello, all tabs"
    await tab1.settle()
    for tab in (tab1, tab2, tab3):
        assert len(tab.received(message_new(cid, reply["client_msg_id"]))) == 1
    for client in (tab1, tab2, tab3, agent):
        await client.close()
