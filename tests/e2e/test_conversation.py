"""Behaviour 1: a visitor and an agent talk both ways; typing and read receipts reach the
other side, and only the visitor's draft is shown across."""
from __future__ import annotations

import pytest

from tests.e2e.clients import action_is, delivered_message, message_new, start_chat

pytestmark = pytest.mark.anyio


async def test_messages_flow_both_ways(api, tenant) -> None:
    chat = await start_chat(api, tenant, "Hi, my parcel is late")
    cid = chat.conversation_id

    seen_by_agent = delivered_message(await chat.agent.wait_for(message_new(cid, chat.first_ack["client_msg_id"])),
                                      cid)
    assert seen_by_agent["text"] == "Hi, my parcel is late"
    assert seen_by_agent["sender_role"] == "visitor"

    reply = await chat.agent.send_message("Sorry! Let me check.", cid)
    assert reply["action"] == "message.ack" and reply["seq"] == 2
    seen_by_visitor = await chat.visitor.wait_for(message_new(cid, reply["client_msg_id"]))
    assert seen_by_visitor["message"]["text"] == "Sorry! Let me check."
    assert seen_by_visitor["message"]["sender_role"] == "agent"
    assert seen_by_visitor["message"]["sender_name"] == "Ann"

    follow_up = await chat.visitor.send_message("Order 1234", cid)
    assert follow_up["seq"] == 3
    await chat.agent.wait_for(message_new(cid, follow_up["client_msg_id"]))

    # Nobody is echoed their own message as message.new.
    await chat.visitor.settle()
    assert not chat.visitor.received(lambda f: f.get("action") == "message.new"
                                     and f["message"]["sender_role"] == "visitor")
    assert not chat.agent.received(lambda f: f.get("action") == "message.new"
                                   and f["message"]["sender_role"] == "agent")
    assert [m["text"] for m in await api.messages(cid, chat.agent_token)] == [
        "Hi, my parcel is late", "Sorry! Let me check.", "Order 1234"]
    await chat.close()


async def test_typing_shows_the_visitors_draft_but_not_the_agents(api, tenant) -> None:
    chat = await start_chat(api, tenant)
    cid = chat.conversation_id

    await chat.visitor.send({"action": "typing", "state": "start", "draft": "my order num"})
    typing = await chat.agent.wait_for(action_is("typing", role="visitor"))
    assert typing == {"v": 1, "action": "typing", "conversation_id": cid, "role": "visitor",
                      "sender_id": typing["sender_id"], "state": "start", "draft": "my order num"}

    await chat.agent.send({"action": "typing", "conversation_id": cid, "state": "start",
                           "draft": "internal: customer is rude"})
    typing = await chat.visitor.wait_for(action_is("typing", role="agent"))
    assert typing["state"] == "start" and typing["conversation_id"] == cid
    assert "draft" not in typing
    assert "internal" not in "".join(chat.visitor.raw)

    await chat.agent.send({"action": "typing", "conversation_id": cid, "state": "stop"})
    await chat.visitor.wait_for(action_is("typing", role="agent", state="stop"))
    await chat.close()


async def test_read_receipts_reach_the_other_side(api, tenant) -> None:
    chat = await start_chat(api, tenant)
    cid = chat.conversation_id

    await chat.agent.send({"action": "read", "conversation_id": cid, "seq": 1})
    receipt = await chat.visitor.wait_for(action_is("read"))
    assert receipt == {"v": 1, "action": "read", "conversation_id": cid, "role": "agent", "seq": 1}

    reply = await chat.agent.send_message("Hello!", cid)
    await chat.visitor.wait_for(message_new(cid, reply["client_msg_id"]))
    await chat.visitor.send({"action": "read", "conversation_id": cid, "seq": reply["seq"]})
    receipt = await chat.agent.wait_for(action_is("read", role="visitor"))
    assert receipt["seq"] == 2 and receipt["conversation_id"] == cid

    summary = (await api.get(f"/v1/conversations/{cid}", chat.agent_token)).json()
    assert (summary["agent_read_seq"], summary["visitor_read_seq"]) == (1, 2)
    await chat.close()
