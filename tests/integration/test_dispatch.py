"""Routing and dispatch end to end: real WebSocket clients, the local gateway (with its
Lambda Invoke API running the dispatch function) and moto."""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.clients import Api, Tenant, WsClient, action_is, conversation_updates, new_client_msg_id, reply_to

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Team:
    tenant: Tenant
    agent_ids: list[str]


def make_team(stack: object, count: int, capacity: int, supervisor: bool = True) -> Team:
    """A tenant with `count` agents of `capacity` each; the first one a supervisor."""
    from chalicelib.adapters.repositories import DynamoRouting
    from chalicelib.adapters.tables import AgentItem
    from local.seed import seed_tenant

    tag = uuid.uuid4().hex[:8]
    seeded = seed_tenant(f"Team {tag}", [(f"agent{i}-{tag}@e2e.kefu.dev", f"Agent{i}") for i in range(count)],
                         f"pw-{tag}")
    repo = DynamoRouting()
    ids = [a["agent_id"] for a in seeded.agents]
    for agent_id in ids:
        repo.save_profile(seeded.tenant_id, agent_id, frozenset(), frozenset(), 0, capacity)
    if supervisor:
        AgentItem(seeded.tenant_id, ids[0]).update(actions=[AgentItem.role.set("supervisor")])
    return Team(Tenant(seeded.tenant_id, seeded.site_key, [a["email"] for a in seeded.agents], seeded.password), ids)


async def online_agent(api: Api, team: Team, index: int) -> tuple[str, WsClient]:
    token, client = await api.agent(team.tenant, index)
    await client.send({"action": "presence.set", "state": "online"})
    await client.wait_for(action_is("agent.presence"))
    return token, client


def assigned_to(conversation_id: str | None = None, agent_id: str | None = None) -> Any:
    """A frame that tells agents `conversation_id` (any, if None) is open and assigned (to
    `agent_id`, if given)."""
    def matches(frame: dict[str, Any]) -> bool:
        return any(bool(c.get("assignee_id")) and c["status"] == "open"
                   and conversation_id in (None, c["conversation_id"]) and agent_id in (None, c["assignee_id"])
                   for c in conversation_updates(frame))
    return matches


async def test_a_new_conversation_is_dispatched_to_an_online_agent(api: Api, stack: object) -> None:
    team = make_team(stack, 2, 2)
    _, ann = await online_agent(api, team, 0)
    _, visitor = await api.visitor(team.tenant)
    ack = await visitor.send_message("How much is the blue one?")
    cid = ack["conversation_id"]
    update = await ann.wait_for(assigned_to(cid))
    assert update["conversation"]["assignee_id"] == team.agent_ids[0]
    assert update["conversation"]["message_type"] == "pre-sales"
    status = await visitor.wait_for(action_is("queue.status", state="assigned"))
    assert status["agent_name"] == "Agent0"
    agents = (await api.get("/v1/routing/agents", await api.agent_token(team.tenant, 0))).json()["agents"]
    assert {a["agent_id"]: a["load"] for a in agents}[team.agent_ids[0]] == 1
    await ann.send({"action": "conversation.resolve", "conversation_id": cid})
    await ann.wait_for(lambda f: f.get("action") == "conversation.updated"
                       and f["conversation"]["status"] == "resolved")
    agents = (await api.get("/v1/routing/agents", await api.agent_token(team.tenant, 0))).json()["agents"]
    assert {a["agent_id"]: a["load"] for a in agents}[team.agent_ids[0]] == 0
    for client in (ann, visitor):
        await client.close()


async def test_arrivals_racing_for_the_last_places_are_born_assigned_within_capacity(api: Api, stack: object) -> None:
    """12 first messages at once against 2 agents of capacity 2: the handlers, in parallel,
    read the same free agents and race their creation transactions; the agent's condition
    lets exactly as many through as there is room, the rest are born queued (and, once one
    waits, nobody behind it is born assigned)."""
    from chalicelib.adapters.repositories import DynamoConversations, DynamoRouting

    team = make_team(stack, 2, 2)
    agents = [(await online_agent(api, team, i))[1] for i in range(2)]
    tokens = await asyncio.gather(*(api.visitor_token(team.tenant) for _ in range(12)))
    visitors = await asyncio.gather(*(WsClient.connect(api.ws_url, t) for t in tokens))
    frames = [{"action": "message.send", "client_msg_id": new_client_msg_id("race"), "text": f"question {i}"}
              for i in range(12)]
    await asyncio.gather(*(v.send(f) for v, f in zip(visitors, frames)))
    acks = await asyncio.gather(*(v.wait_for(reply_to(f["client_msg_id"]), timeout=30)
                                  for v, f in zip(visitors, frames)))
    assert all(a["action"] == "message.ack" for a in acks), acks
    ids = [a["conversation_id"] for a in acks]
    assert len(set(ids)) == 12
    stored = DynamoConversations().get_many(team.tenant.tenant_id, ids)
    born = [c for c in stored.values() if c.assignee_id and c.assigned_at == c.created_at]
    assert 1 <= len(born) <= 4, [(c.assignee_id, c.created_at, c.assigned_at) for c in stored.values()]
    # Once the dispatcher has run: four assigned in all, two per agent, the loads agreeing.
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        stored = DynamoConversations().get_many(team.tenant.tenant_id, ids)
        assigned = [c for c in stored.values() if c.assignee_id]
        if len(assigned) >= 4 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.1)
    loads = {a.agent_id: a.load for a in DynamoRouting().agents(team.tenant.tenant_id)}
    assert loads == {agent_id: 2 for agent_id in team.agent_ids}
    assert sorted(c.assignee_id for c in assigned) == sorted(team.agent_ids * 2)  # type: ignore[type-var]
    assert sum(1 for c in stored.values() if c.queued_at is not None and not c.assignee_id) == 8
    for visitor, cid in zip(visitors, ids):  # each visitor hears where they stand
        state = "assigned" if stored[cid].assignee_id else "queued"
        await visitor.wait_for(action_is("queue.status", state=state), timeout=20)
    for client in (*agents, *visitors):
        await client.close()


async def test_nobody_online_offers_to_leave_a_message(api: Api, stack: object) -> None:
    team = make_team(stack, 1, 2)
    _, visitor = await api.visitor(team.tenant)
    await visitor.send_message("hello?")
    status = await visitor.wait_for(action_is("queue.status", state="offline"))
    assert status["leave_message"] is True and status["position"] == 1
    left = await visitor.request({"action": "message.leave", "email": "Sam@Example.com", "name": "Sam",
                                  "text": "Please call me back"}, action_is("message.left"))
    token = await api.agent_token(team.tenant, 0)
    stored = (await api.get("/v1/left-messages", token)).json()["left_messages"]
    assert [(m["id"], m["email"], m["text"], m["reason"]) for m in stored] == [
        (left["message_id"], "sam@example.com", "Please call me back", "no_agent")]
    # An agent coming online takes the waiting conversation.
    _, ann = await online_agent(api, team, 0)
    await ann.wait_for(assigned_to())
    for client in (ann, visitor):
        await client.close()


async def test_two_agents_picking_up_at_once_exactly_one_wins(api: Api, stack: object) -> None:
    team = make_team(stack, 2, 3)
    (_, ann), (_, ben) = await api.agent(team.tenant, 0), await api.agent(team.tenant, 1)  # not online: no dispatch
    _, visitor = await api.visitor(team.tenant)
    cid = (await visitor.send_message("anyone?"))["conversation_id"]
    marks = [len(ann.frames), len(ben.frames)]
    frame = {"action": "conversation.pickup", "conversation_id": cid}
    await asyncio.gather(ann.send(frame), ben.send(frame))

    def outcome(agent_id: str) -> Any:  # its own error, or the conversation assigned to itself
        return lambda f: f.get("action") == "error" or (
            assigned_to(cid, agent_id)(f))

    outcomes = await asyncio.gather(ann.wait_for(outcome(team.agent_ids[0]), since=marks[0]),
                                    ben.wait_for(outcome(team.agent_ids[1]), since=marks[1]))
    errors = [o for o in outcomes if o["action"] == "error"]
    assert len(errors) == 1 and errors[0]["code"] == "conflict", outcomes
    summary = (await api.get(f"/v1/conversations/{cid}", await api.agent_token(team.tenant, 0))).json()
    winner = summary["assignee_id"]
    assert winner in team.agent_ids and errors[0]["details"]["assignee_id"] == winner
    loads = {a["agent_id"]: a["load"] for a in
             (await api.get("/v1/routing/agents", await api.agent_token(team.tenant, 0))).json()["agents"]}
    assert sorted(loads.values()) == [0, 1] and loads[winner] == 1
    for client in (ann, ben, visitor):
        await client.close()


async def test_transfer_with_a_note_and_a_mention(api: Api, stack: object) -> None:
    team = make_team(stack, 2, 3)
    _, ann = await online_agent(api, team, 0)
    _, visitor = await api.visitor(team.tenant)
    cid = (await visitor.send_message("my order arrived broken"))["conversation_id"]
    await ann.wait_for(assigned_to(cid))
    _, ben = await online_agent(api, team, 1)
    await ann.send({"action": "message.send", "client_msg_id": "note-1", "conversation_id": cid, "internal": True,
                    "text": "@Agent1 can you check the warehouse?"})
    mention = await ben.wait_for(action_is("notification", kind="mention"))
    assert mention["conversation_id"] == cid and mention["from_agent_id"] == team.agent_ids[0]
    await ann.send({"action": "conversation.transfer", "conversation_id": cid, "to_agent_id": team.agent_ids[1],
                    "note": "warehouse question, Ben knows"})
    notice = await ben.wait_for(action_is("notification", kind="transfer"))
    assert notice["text"] == "warehouse question, Ben knows"
    await ben.wait_for(assigned_to(cid, team.agent_ids[1]))
    note = await ben.wait_for(lambda f: f.get("action") == "message.new" and f["message"]["internal"]
                              and "Transferred" in f["message"]["text"])
    assert "warehouse question, Ben knows" in note["message"]["text"]
    assert not visitor.received(lambda f: f.get("action") == "message.new" and f["message"]["internal"])
    loads = {a["agent_id"]: a["load"] for a in
             (await api.get("/v1/routing/agents", await api.agent_token(team.tenant, 0))).json()["agents"]}
    assert loads == {team.agent_ids[0]: 0, team.agent_ids[1]: 1}
    for client in (ann, ben, visitor):
        await client.close()


def test_the_lease_carries_new_conversations_to_its_holder_in_dynamodb(stack: object) -> None:
    """The lease item's `pending` set in moto: markers add, the holder's release takes (and
    clears) them, and a lease that expired hands what it held to the next taker."""
    from chalicelib.adapters.repositories import DynamoRouting

    repo, tenant_id, now = DynamoRouting(), f"t_lease_{uuid.uuid4().hex[:8]}", 1_000_000
    assert repo.acquire_lease(tenant_id, "d1", now, 10_000).taken
    second = repo.acquire_lease(tenant_id, "d2", now + 1, 10_000, ["c_a", "c_b"])
    third = repo.acquire_lease(tenant_id, "d3", now + 2, 10_000, ["c_b", "c_c"])
    assert (second.taken, second.handed_over, third.taken, third.handed_over) == (False, True, False, True)
    assert repo.release_lease(tenant_id, "d1") == (False, ["c_a", "c_b", "c_c"])  # once each, cleared
    assert repo.release_lease(tenant_id, "d1") == (True, [])
    assert repo.acquire_lease(tenant_id, "d4", now + 3, 10_000).taken  # d4 will die holding it
    assert repo.acquire_lease(tenant_id, "d5", now + 4, 10_000, ["c_d"]).handed_over
    taken = repo.acquire_lease(tenant_id, "d6", now + 10_004, 10_000)  # d4's lease has expired
    assert (taken.taken, taken.news) == (True, ("c_d",))
    assert repo.release_lease(tenant_id, "d6") == (True, [])
