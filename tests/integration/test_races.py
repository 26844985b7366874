"""Races: every state change two Lambdas could race on, raced for real.

Real WebSocket clients send at the same instant through the local gateway, whose thread
pool runs the handlers in parallel as Lambda would; moto (serialized per request, like
DynamoDB) stores the result. Each test then reads the outcome back and checks that the
conditional write or transaction let exactly the right writers through.
"""
from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import pytest

from tests.e2e.clients import Api, Tenant, WsClient, action_is, new_client_msg_id, reply_to

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _conversation(api: Api, tenant: Tenant) -> tuple[str, WsClient, str]:
    token, visitor = await api.visitor(tenant)
    ack = await visitor.send_message("hello")
    assert ack["action"] == "message.ack", ack
    return token, visitor, ack["conversation_id"]


async def _send_at_once(clients: list[tuple[WsClient, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Put every frame on the wire before waiting for any answer."""
    await asyncio.gather(*(client.send(frame) for client, frame in clients))
    return list(await asyncio.gather(*(
        client.wait_for(reply_to(frame["client_msg_id"]), timeout=30) for client, frame in clients)))


async def _send_in_a_row(client: WsClient, frames: list[dict[str, Any]]) -> None:
    """Back to back, as a page that calls the widget's API in a loop: the gateway stamps them
    (requestTimeEpoch) in the order they arrive, and their invocations overlap."""
    for frame in frames:
        await client.send(frame)


async def test_parallel_senders_get_contiguous_unique_sequence_numbers(api: Api, tenant: Tenant) -> None:
    visitor_token, visitor, conversation_id = await _conversation(api, tenant)
    agents = [(await api.agent(tenant, i % 2))[1] for i in range(4)]
    rounds = 10
    sent: list[str] = []
    for _ in range(rounds):
        batch = [(agent, {"action": "message.send", "client_msg_id": new_client_msg_id("race"),
                          "conversation_id": conversation_id, "text": "parallel"}) for agent in agents]
        sent += [frame["client_msg_id"] for _, frame in batch]
        replies = await _send_at_once(batch)
        assert all(r["action"] == "message.ack" for r in replies), replies
    stored = await api.messages(conversation_id, visitor_token)
    assert [m["seq"] for m in stored] == list(range(1, len(sent) + 2))  # contiguous, no gaps
    assert sorted(m["client_msg_id"] for m in stored[1:]) == sorted(sent)  # each exactly once
    assert await api.last_seq(conversation_id, visitor_token) == len(sent) + 1
    for client in agents + [visitor]:
        await client.close()


async def test_first_messages_from_many_tabs_open_one_conversation(api: Api, tenant: Tenant) -> None:
    token = await api.visitor_token(tenant)
    tabs = [await WsClient.connect(api.ws_url, token) for _ in range(5)]
    batch = [(tab, {"action": "message.send", "client_msg_id": new_client_msg_id("tab"), "text": f"tab {i}"})
             for i, tab in enumerate(tabs)]
    replies = await _send_at_once(batch)
    assert all(r["action"] == "message.ack" for r in replies), replies
    conversation_ids = {r["conversation_id"] for r in replies}
    assert len(conversation_ids) == 1, conversation_ids
    stored = await api.messages(conversation_ids.pop(), token)
    assert sorted(m["client_msg_id"] for m in stored) == sorted(f["client_msg_id"] for _, f in batch)
    assert [m["seq"] for m in stored] == [1, 2, 3, 4, 5]
    for tab in tabs:
        await tab.close()


async def test_two_agents_answering_at_once_one_becomes_assignee(api: Api, tenant: Tenant) -> None:
    visitor_token, visitor, conversation_id = await _conversation(api, tenant)
    (_, ann), (_, ben) = await api.agent(tenant, 0), await api.agent(tenant, 1)
    batch = [(agent, {"action": "message.send", "client_msg_id": new_client_msg_id("first"),
                      "conversation_id": conversation_id, "text": "I'll take it"}) for agent in (ann, ben)]
    replies = await _send_at_once(batch)
    assert all(r["action"] == "message.ack" for r in replies), replies
    summary = (await api.get(f"/v1/conversations/{conversation_id}", visitor_token)).json()
    winner = summary["assignee_id"]
    first = min(replies, key=lambda r: r["seq"])
    first_sender = ann if first["client_msg_id"] == batch[0][1]["client_msg_id"] else ben
    welcome = await first_sender.request({"action": "hello"}, action_is("welcome"))
    assert winner == welcome["principal_id"]  # the agent whose message came first, and only one
    updates = visitor.received(lambda f: f.get("action") == "conversation.updated")
    assert {u["conversation"]["assignee_id"] for u in updates} == {winner}
    for client in (visitor, ann, ben):
        await client.close()


async def test_concurrent_resolves_change_status_once(api: Api, tenant: Tenant) -> None:
    visitor_token, visitor, conversation_id = await _conversation(api, tenant)
    agents = [(await api.agent(tenant, i % 2))[1] for i in range(4)]
    mark = len(visitor.frames)
    await asyncio.gather(*(a.send({"action": "conversation.resolve", "conversation_id": conversation_id})
                           for a in agents))
    await visitor.wait_for(action_is("conversation.updated"), since=mark)
    await visitor.settle(0.8)
    updates = [f for f in visitor.frames[mark:] if f.get("action") == "conversation.updated"]
    assert len(updates) == 1 and updates[0]["conversation"]["status"] == "resolved"
    summary = (await api.get(f"/v1/conversations/{conversation_id}", visitor_token)).json()
    assert summary["status"] == "resolved"
    for client in agents + [visitor]:
        await client.close()


async def test_read_marks_only_move_forward(api: Api, tenant: Tenant) -> None:
    visitor_token, visitor, conversation_id = await _conversation(api, tenant)
    for i in range(5):
        assert (await visitor.send_message(f"m{i}", conversation_id))["action"] == "message.ack"
    agents = [(await api.agent(tenant, i % 2))[1] for i in range(6)]
    await asyncio.gather(*(a.send({"action": "read", "conversation_id": conversation_id, "seq": seq})
                           for a, seq in zip(agents, [6, 2, 4, 1, 5, 3])))
    await visitor.wait_for(lambda f: f.get("action") == "read" and f["seq"] == 6)
    await visitor.settle(0.5)
    summary = (await api.get(f"/v1/conversations/{conversation_id}", visitor_token)).json()
    assert summary["agent_read_seq"] == 6
    receipts = [f["seq"] for f in visitor.frames if f.get("action") == "read"]
    # Only real advances are announced (a conditional write), so no mark is told twice; two
    # advances racing may be delivered in either order, and clients keep the highest.
    assert len(receipts) == len(set(receipts)) and max(receipts) == 6, receipts
    for client in agents + [visitor]:
        await client.close()


async def test_concurrent_page_views_all_land_in_the_trail(api: Api, tenant: Tenant) -> None:
    token = await api.visitor_token(tenant)
    tabs = [await WsClient.connect(api.ws_url, token) for _ in range(4)]
    _, agent = await api.agent(tenant)
    urls = [f"https://shop.example/page-{i}" for i in range(4)]
    await asyncio.gather(*(tab.send({"action": "page.view", "url": url, "title": url})
                           for tab, url in zip(tabs, urls)))
    for _ in urls:
        await agent.wait_for(action_is("visitor.updated"), since=0)
    await agent.settle(0.8)
    welcome = await tabs[0].request({"action": "hello"}, action_is("welcome"))
    agent_token = await api.agent_token(tenant)
    profile = (await api.get(f"/v1/visitors/{welcome['principal_id']}", agent_token)).json()
    assert sorted(p["url"] for p in profile["trail"]) == sorted(urls)  # none lost to a racing tab
    for client in tabs + [agent]:
        await client.close()


async def test_parallel_bursts_cannot_overspend_the_rate_limit(api: Api, tenant: Tenant) -> None:
    token = await api.visitor_token(tenant)
    tabs = [await WsClient.connect(api.ws_url, token) for _ in range(3)]
    first_at = time.monotonic()
    first = await tabs[0].send_message("opening")
    conversation_id = first["conversation_id"]
    batch = [(tabs[i % 3], {"action": "message.send", "client_msg_id": new_client_msg_id("burst"),
                            "conversation_id": conversation_id, "text": f"spam {i}"}) for i in range(24)]
    started = time.monotonic()
    replies = await _send_at_once(batch)
    elapsed = time.monotonic() - started + (started - first_at)
    accepted = [r for r in replies if r["action"] == "message.ack"]
    limited = [r for r in replies if r.get("code") == "rate_limited"]
    assert len(accepted) + len(limited) == len(batch), replies
    # Burst 10 with one spent on "opening", refilling 1 token a second: never more than that.
    assert 1 <= len(accepted) <= 9 + math.ceil(elapsed), (len(accepted), elapsed)
    assert limited, "24 messages at once must exceed a burst of 10"
    stored = await api.messages(conversation_id, token)
    assert len(stored) == 1 + len(accepted)
    assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
    for tab in tabs:
        await tab.close()


async def test_presence_frames_that_overlap_store_the_last_one_sent(api: Api, tenant: Tenant) -> None:
    """Each frame is its own invocation and they overlap: the presence stored is the one the
    agent chose last, whichever invocation happens to finish first."""
    token, agent = await api.agent(tenant)
    states = ["online", "away", "offline"]
    for round_ in range(10):
        sequence = [states[(round_ + i) % 3] for i in range(9)]
        await _send_in_a_row(agent, [{"action": "presence.set", "state": state} for state in sequence])
        deadline = time.monotonic() + 5
        while (await api.get("/v1/agents/me", token)).json()["presence"] != sequence[-1]:
            assert time.monotonic() < deadline, (round_, sequence, "the last choice was never stored")
            await asyncio.sleep(0.05)
        await agent.settle(0.5)  # an overtaken frame's invocation still finishing must not win
        me = (await api.get("/v1/agents/me", token)).json()
        assert me["presence"] == sequence[-1], (round_, sequence, me["presence"])
    await agent.close()


async def test_identify_frames_that_overlap_store_what_was_sent_last(api: Api, tenant: Tenant) -> None:
    """`Kefu.identify` called several times in a row: each frame is its own invocation and
    they overlap, yet every field ends as the frame sent last that set it said, however
    the invocations happen to finish."""
    visitor_token, visitor, conversation_id = await _conversation(api, tenant)
    agent_token, agent = await api.agent(tenant)
    visitor_id = (await api.get(f"/v1/conversations/{conversation_id}", agent_token)).json()["visitor_id"]
    for round_ in range(4):
        tab = await WsClient.connect(api.ws_url, visitor_token)  # the frame limit is per socket
        sent = [{"action": "identify", "name": f"r{round_}-n{i}", "attributes": {"plan": f"r{round_}-p{i}"},
                 **({"phone": f"+1555000{round_}{i}"} if i % 2 else {})} for i in range(9)]
        await _send_in_a_row(tab, sent)
        want = (sent[-1]["name"], sent[-1]["attributes"]["plan"], sent[-2]["phone"])
        deadline = time.monotonic() + 5

        async def stored() -> tuple[str, str, str]:
            profile = (await api.get(f"/v1/visitors/{visitor_id}", agent_token)).json()
            return profile.get("name"), profile.get("attributes", {}).get("plan"), profile.get("phone")

        while await stored() != want:
            assert time.monotonic() < deadline, (round_, want, await stored())
            await asyncio.sleep(0.05)
        await tab.settle(0.5)  # an overtaken frame's invocation still finishing must not win
        assert await stored() == want, round_
        assert not tab.received(action_is("error")), tab.received(action_is("error"))
        await tab.close()
    await visitor.close()
    await agent.close()


async def test_page_views_sent_in_a_row_keep_their_order(api: Api, tenant: Tenant) -> None:
    """A single-page app reports route changes in quick succession; the invocations overlap,
    yet the trail lists the pages in the order they were visited and the current page (what
    the agent sees the visitor on) is the last one."""
    token = await api.visitor_token(tenant)
    agent_token = await api.agent_token(tenant)
    for round_ in range(3):
        tab = await WsClient.connect(api.ws_url, token)  # the frame limit is per socket
        urls = [f"https://shop.example/r{round_}/step-{i}" for i in range(7)]
        await _send_in_a_row(tab, [{"action": "page.view", "url": url, "title": url} for url in urls])
        welcome = await tab.request({"action": "hello"}, action_is("welcome"))

        async def trail() -> list[str]:
            profile = (await api.get(f"/v1/visitors/{welcome['principal_id']}", agent_token)).json()
            return [p["url"] for p in profile["trail"] if f"/r{round_}/" in p["url"]]

        deadline = time.monotonic() + 5
        while len(await trail()) < len(urls):
            assert time.monotonic() < deadline, (round_, await trail())
            await asyncio.sleep(0.05)
        await tab.settle(0.3)
        profile = (await api.get(f"/v1/visitors/{welcome['principal_id']}", agent_token)).json()
        assert await trail() == urls, round_
        assert profile["current_page"]["url"] == urls[-1]
        assert not tab.received(action_is("error")), tab.received(action_is("error"))
        await tab.close()
