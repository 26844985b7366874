"""200 conversations arriving at once against 5 agents of capacity 3, for real: WebSocket
visitors and agents through the local gateway, the dispatch function invoked asynchronously
through its Lambda Invoke API, moto deciding every conditional transaction.

Checked: no agent ever holds more than 3 (from the frames each agent receives, and from the
agents' loads polled over REST while it runs); every conversation is assigned exactly once
and none is lost; resolving drains the queue until all 200 were served; once everybody is
queued, the queue is served urgent first, then first come first served.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from chalicelib.domain.routing import queue_key
from tests.e2e.clients import Api, WsClient, conversation_updates, new_conversations
from tests.integration.test_dispatch import make_team, online_agent

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

VISITORS, AGENTS, CAPACITY = 200, 5, 3
DEADLINE_S = 240.0  # ~60 s on an idle 2-core machine; the whole system runs in this one process


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"




def _open_assignments(frames: list[dict[str, Any]]) -> list[str]:
    """Conversation ids announced to agents as open and assigned, in the order announced."""
    return [c["conversation_id"] for f in frames for c in conversation_updates(f)
            if c["status"] == "open" and c.get("assignee_id")]


async def _work(agent_id: str, client: WsClient, held: set[str], peaks: dict[str, int], served: list[str],
                done: asyncio.Event) -> None:
    """Resolve each conversation this agent is given, shortly after it arrives."""
    seen = 0
    while not done.is_set():
        await asyncio.sleep(0.01)
        frames, seen = client.frames[seen:], len(client.frames)
        for c in (c for frame in frames for c in conversation_updates(frame)):
            if c["status"] == "open" and c.get("assignee_id") == agent_id:
                held.add(c["conversation_id"])
                peaks[agent_id] = max(peaks.get(agent_id, 0), len(held))
                served.append(c["conversation_id"])
                asyncio.get_running_loop().call_later(0.03, lambda cid=c["conversation_id"]: asyncio.ensure_future(
                    client.send({"action": "conversation.resolve", "conversation_id": cid})))
            elif c["status"] == "resolved":
                held.discard(c["conversation_id"])


async def _heartbeat(agents: list[WsClient], done: asyncio.Event) -> None:
    """As the workbench does: a ping every 30 s (here 20) keeps the agents reachable."""
    while not done.is_set():
        try:
            await asyncio.wait_for(done.wait(), 20)
        except asyncio.TimeoutError:
            await asyncio.gather(*(a.send({"action": "ping"}) for a in agents))


async def _poll_loads(api: Api, token: str, worst: list[int], done: asyncio.Event) -> None:
    import httpx

    while not done.is_set():
        try:
            agents = (await api.get("/v1/routing/agents", token)).json()["agents"]
        except httpx.HTTPError:  # a slow answer under load: skip this sample
            continue
        worst.append(max(a["load"] for a in agents))
        await asyncio.sleep(0.5)


async def test_two_hundred_arrivals_five_agents_of_capacity_three(api: Api, stack: object) -> None:
    team = make_team(stack, AGENTS, CAPACITY)
    token = await api.agent_token(team.tenant, 0)
    # A rule: complaints are urgent (the classifier reads the first message).
    response = await api.http.post("/v1/routing/rules", headers={"Authorization": f"Bearer {token}"}, json={
        "name": "complaints first", "position": 1, "priority": "urgent",
        "conditions": [{"field": "type", "op": "equals", "value": "complaint"}]})
    assert response.status_code == 201, response.text
    agents = [(await online_agent(api, team, i))[1] for i in range(AGENTS)]
    observer = agents[0]  # every agent hears every assignment: one of them keeps the order

    tokens = await asyncio.gather(*(api.visitor_token(team.tenant) for _ in range(VISITORS)))
    visitors = await asyncio.gather(*(WsClient.connect(api.ws_url, t) for t in tokens))
    texts = ["I want to complain, this is terrible" if i % 5 == 0 else f"question number {i}"
             for i in range(VISITORS)]

    done = asyncio.Event()
    held: dict[str, set[str]] = {a: set() for a in team.agent_ids}
    peaks: dict[str, int] = {}
    served: list[str] = []
    worst_loads: list[int] = []
    workers = [asyncio.ensure_future(_work(a, c, held[a], peaks, served, done))
               for a, c in zip(team.agent_ids, agents)]
    poller = asyncio.ensure_future(_poll_loads(api, token, worst_loads, done))
    pinger = asyncio.ensure_future(_heartbeat(agents, done))

    started = time.monotonic()
    acks = await asyncio.gather(*(v.send_message(t, timeout=DEADLINE_S) for v, t in zip(visitors, texts)))
    assert all(a["action"] == "message.ack" for a in acks), [a for a in acks if a["action"] != "message.ack"][:3]
    conversations = {a["conversation_id"] for a in acks}
    print(f"all {VISITORS} acked after {time.monotonic() - started:.1f}s, {len(set(served))} served")
    assert len(conversations) == VISITORS
    # Every new conversation (with its priority and queue time) has been told to the observer,
    # by the dispatcher's rounds (`conversation.new` or `conversations.new`), each once.
    told: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while len(told) < VISITORS and time.monotonic() < deadline:
        told = [item["conversation"] for f in observer.frames for item in new_conversations(f)]
        await asyncio.sleep(0.05)
    news = {c["conversation_id"]: c for c in told}
    assert len(news) == len(told) == VISITORS
    all_queued_at = len(observer.frames)
    print(f"new conversations told after {time.monotonic() - started:.1f}s, {len(set(served))} served, "
          f"in {sum(1 for f in observer.frames if new_conversations(f))} frames")
    while len(set(served)) < VISITORS and time.monotonic() - started < DEADLINE_S:
        await asyncio.sleep(0.1)
    done.set()
    await asyncio.gather(*workers, poller, pinger)
    elapsed = time.monotonic() - started
    print(f"{len(set(served))} served after {elapsed:.1f}s")

    assert len(set(served)) == VISITORS, f"{len(set(served))} of {VISITORS} served in {elapsed:.1f}s"
    assert sorted(served) == sorted(conversations)  # each exactly once, none lost, no stranger
    assignments = _open_assignments(observer.frames)
    assert sorted(assignments) == sorted(conversations)  # announced once each
    assert max(peaks.values()) <= CAPACITY, peaks
    assert worst_loads and max(worst_loads) <= CAPACITY, worst_loads
    # Urgent before normal, then first come first served, for everything assigned once all were queued.
    later = _open_assignments(observer.frames[all_queued_at:])
    keys = [queue_key(news[c]["priority"], news[c]["queued_at"], c) for c in later]
    assert len(later) > VISITORS // 2
    assert keys == sorted(keys)
    assert {news[c]["priority"] for c in conversations} == {"urgent", "normal"}
    # All resolved: every load is back to zero.
    await asyncio.sleep(0.3)
    loads = (await api.get("/v1/routing/agents", token)).json()["agents"]
    assert [a["load"] for a in loads] == [0] * AGENTS
    await asyncio.gather(*(c.close() for c in [*agents, *visitors]))
