"""Behaviour 4: 50 conversations at once, 20 messages each way, through the local gateway
with real WebSocket clients: each message reaches the other side exactly once, in order,
and every agent connection of the tenant sees every conversation."""
from __future__ import annotations

import asyncio
import time

import pytest

from tests.e2e.clients import Api, Tenant, WsClient, delivered_message, message_new, new_conversations

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CONVERSATIONS = 50
MESSAGES_EACH_WAY = 20
AGENT_CONNECTIONS = 3  # two agents, the first with two tabs
TIMEOUT = 180.0  # 2,000 messages and 8,000 deliveries through one process on 2 cores: ~100 s


def texts(side: str, n: int) -> list[str]:
    return [f"{side}{n}-{k}" for k in range(MESSAGES_EACH_WAY)]


async def visitor_side(api: Api, tenant: Tenant, n: int, opened: asyncio.Future[str]) -> WsClient:
    """One visitor sends its messages, one in flight at a time, honouring rate_limited."""
    visitor = await WsClient.connect(api.ws_url, await api.visitor_token(tenant))
    conversation_id = None
    for text in texts("v", n):
        ack = await visitor.deliver(text, conversation_id, client_msg_id=text, timeout=TIMEOUT)
        if conversation_id is None:
            conversation_id = ack["conversation_id"]
            opened.set_result(conversation_id)
    return visitor


async def agent_side(agent: WsClient, n: int, opened: asyncio.Future[str]) -> None:
    conversation_id = await opened
    for text in texts("a", n):
        await agent.deliver(text, conversation_id, client_msg_id=text, timeout=TIMEOUT)


def delivered(client: WsClient, conversation_id: str) -> list[str]:
    return [delivered_message(f, conversation_id)["text"] for f in client.received(message_new(conversation_id))]


def assert_exactly_once_in_order(received: list[str], *streams: list[str]) -> None:
    """`received` is the merge of `streams`, each message once, each stream in its order."""
    assert sorted(received) == sorted(t for stream in streams for t in stream), "lost or repeated"
    for stream in streams:
        members = set(stream)
        assert [t for t in received if t in members] == stream, "out of order"


async def test_fifty_conversations_at_once(api, tenant) -> None:
    tokens = [await api.agent_token(tenant, 0), await api.agent_token(tenant, 0), await api.agent_token(tenant, 1)]
    agents = [await WsClient.connect(api.ws_url, token) for token in tokens[:AGENT_CONNECTIONS]]
    opened = [asyncio.get_running_loop().create_future() for _ in range(CONVERSATIONS)]
    started = time.monotonic()
    results = await asyncio.wait_for(asyncio.gather(
        *(visitor_side(api, tenant, n, opened[n]) for n in range(CONVERSATIONS)),
        *(agent_side(agents[n % AGENT_CONNECTIONS], n, opened[n]) for n in range(CONVERSATIONS)),
    ), timeout=2 * TIMEOUT)
    elapsed = time.monotonic() - started
    visitors: list[WsClient] = list(results[:CONVERSATIONS])
    conversation_ids = [future.result() for future in opened]
    assert len(set(conversation_ids)) == CONVERSATIONS

    # Let the last fan-outs land: wait for each conversation's last message on every socket.
    for n, cid in enumerate(conversation_ids):
        last_visitor, last_agent = texts("v", n)[-1], texts("a", n)[-1]
        await visitors[n].wait_for(message_new(cid, last_agent), timeout=TIMEOUT)
        for index, agent in enumerate(agents):
            if index != n % AGENT_CONNECTIONS:
                await agent.wait_for(message_new(cid, last_agent), timeout=TIMEOUT)
            await agent.wait_for(message_new(cid, last_visitor), timeout=TIMEOUT)
    await asyncio.sleep(0.5)

    for n, cid in enumerate(conversation_ids):
        from_visitor, from_agent = texts("v", n), texts("a", n)
        assert_exactly_once_in_order(delivered(visitors[n], cid), from_agent)
        for index, agent in enumerate(agents):
            # Every agent connection gets every message but the ones it sent itself. The first
            # rides in the dispatcher's conversation.new, which may come after the next ones
            # (the visitor's own handler sends those; protocol.md: place messages by seq).
            got = delivered(agent, cid)
            assert got.count(from_visitor[0]) == 1, "the opening message lost or repeated"
            streams = [from_visitor[1:]] if index == n % AGENT_CONNECTIONS else [from_visitor[1:], from_agent]
            assert_exactly_once_in_order([t for t in got if t != from_visitor[0]], *streams)
        stored = await api.messages(cid, tokens[0])
        assert [m["seq"] for m in stored] == list(range(1, 2 * MESSAGES_EACH_WAY + 1))
        assert_exactly_once_in_order([m["text"] for m in stored], from_visitor, from_agent)
    for agent in agents:  # each new conversation told once (in fewer frames: the dispatcher's rounds)
        told = [item["conversation"]["conversation_id"] for f in agent.frames for item in new_conversations(f)]
        assert sorted(told) == sorted(conversation_ids)

    await asyncio.gather(*(client.close() for client in visitors + agents))
    print(f"\n{CONVERSATIONS} conversations x {2 * MESSAGES_EACH_WAY} messages in {elapsed:.1f}s")
