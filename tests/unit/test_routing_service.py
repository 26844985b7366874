"""RoutingService on in-memory fakes: queueing with rules, dispatch rounds, pick-up races
lost cleanly, transfers with notes, @mentions, offline hand-off, the lease."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.model import Connection, Group
from chalicelib.domain.routing import Condition, RoutingRule
from tests.fakes import FakeServices, build_services, with_routing


def setup(agents: int = 2, capacity: int = 2, presence: str = "online"
          ) -> tuple[FakeServices, Any, Any, Any, list[Connection]]:
    """A tenant whose agents are connected; with presence "away" nobody can take a new
    conversation as it is created, so visitors' conversations wait in the queue."""
    world = build_services()
    routing, repo, trigger = with_routing(world)
    tenant = world.add_tenant()
    connections = []
    for i in range(agents):
        agent = world.add_agent(tenant, f"Agent{i}")
        repo.add_agent(tenant.tenant_id, agent.agent_id, f"Agent{i}", capacity=capacity, presence=presence)
        connections.append(world.connect_agent(agent))  # live connection + heartbeat
    return world, routing, repo, trigger, connections


def set_presence(repo: Any, agents: list[Connection], presence: str = "online") -> None:
    for agent in agents:
        repo.agent_states[(agent.tenant_id, agent.principal_id)].presence = presence


def visitor_says(world: FakeServices, text: str) -> tuple[Connection, str]:
    tenant_id = next(iter(world.tenant_repo.items))
    visitor = world.add_visitor(world.tenant_repo.items[tenant_id])
    tab = world.connect_visitor(visitor)
    world.send(tab, {"action": "message.send", "client_msg_id": f"m-{tab.connection_id}", "text": text})
    [ack] = world.gateway.frames(tab.connection_id, "message.ack")
    return tab, ack["conversation_id"]


def test_new_conversations_are_queued_by_the_rules_and_trigger_dispatch() -> None:
    world, routing, repo, trigger, _ = setup()
    tenant_id = next(iter(world.tenant_repo.items))
    repo.put_group(Group(tenant_id, "g_support", "Support"))
    repo.put_rule(RoutingRule(tenant_id, "r1", "complaints", 1, (Condition("type", "equals", "complaint"),),
                              "g_support", "urgent"))
    _, cid = visitor_says(world, "I want to complain, this is unacceptable")
    conversation = world.conversation_repo.get(tenant_id, cid)
    assert conversation is not None and conversation.queued_at is not None
    assert (conversation.group_id, conversation.priority, conversation.message_type) == (
        "g_support", "urgent", "complaint")
    assert trigger.requests[-1] == (tenant_id, [cid])


def test_dispatch_spreads_by_load_within_capacity_and_tells_the_visitors() -> None:
    world, routing, repo, trigger, agents = setup(agents=2, capacity=1, presence="away")
    tenant_id = next(iter(world.tenant_repo.items))
    tabs = [visitor_says(world, f"question {i}") for i in range(3)]
    set_presence(repo, agents)  # back from a break: the queue is theirs
    result = routing.dispatch(tenant_id)
    assert (result.assigned, result.leased) == (2, True)
    loads = sorted(a.load for a in repo.agents(tenant_id))
    assert loads == [1, 1]
    told = {cid: world.gateway.frames(t.connection_id, "queue.status")[-1] for t, cid in tabs}
    assert sorted(f["state"] for f in told.values()) == ["assigned", "assigned", "queued"]
    [(waiting, status)] = [(cid, f) for cid, f in told.items() if f["state"] == "queued"]
    assert status["position"] == 1 and status["expected_wait_ms"] > 0
    # Resolving frees a slot and asks for dispatch; the waiting one is served.
    done = next(cid for cid in told if cid != waiting)
    first = world.conversation_repo.get(tenant_id, done)
    owner = next(c for c in agents if c.principal_id == first.assignee_id)  # type: ignore[union-attr]
    world.send(owner, {"action": "conversation.resolve", "conversation_id": done})
    assert trigger.requests[-1][0] == tenant_id
    assert routing.dispatch(tenant_id).assigned == 1
    tab = next(t for t, cid in tabs if cid == waiting)
    assert world.gateway.frames(tab.connection_id, "queue.status")[-1]["state"] == "assigned"
    assert sorted(a.load for a in repo.agents(tenant_id)) == [1, 1]


def test_nobody_reachable_offers_to_leave_a_message() -> None:
    world, routing, repo, _, agents = setup(agents=1)
    tenant_id = next(iter(world.tenant_repo.items))
    world.chat.disconnect(agents[0].connection_id)  # the only agent's workbench closed
    tab, cid = visitor_says(world, "hello?")
    routing.dispatch(tenant_id)
    [status] = world.gateway.frames(tab.connection_id, "queue.status")
    assert status["state"] == "offline" and status["leave_message"] is True
    world.send(tab, {"action": "message.leave", "email": "Sam@Example.com", "text": "call me"})
    [left] = world.gateway.frames(tab.connection_id, "message.left")
    [stored] = repo.left_messages(tenant_id, 10)
    assert (stored.message_id, stored.email, stored.conversation_id, stored.reason) == (
        left["message_id"], "sam@example.com", cid, "no_agent")


def test_second_pickup_gets_a_conflict_error() -> None:
    world, routing, repo, _, (ann, ben) = setup(presence="away")  # so it waits in the queue
    tenant_id = next(iter(world.tenant_repo.items))
    _, cid = visitor_says(world, "anyone?")
    world.send(ann, {"action": "conversation.pickup", "conversation_id": cid})
    world.send(ben, {"action": "conversation.pickup", "conversation_id": cid})
    [error] = world.gateway.frames(ben.connection_id, "error")
    assert error["code"] == "conflict" and error["details"]["assignee_id"] == ann.principal_id
    assert {a.agent_id: a.load for a in repo.agents(tenant_id)} == {ann.principal_id: 1, ben.principal_id: 0}


def test_transfer_to_an_agent_writes_a_note_and_notifies_them() -> None:
    world, routing, repo, _, (ann, ben) = setup(presence="away")  # so it waits in the queue
    tenant_id = next(iter(world.tenant_repo.items))
    _, cid = visitor_says(world, "my order is broken")
    set_presence(repo, [ann, ben])
    world.send(ann, {"action": "conversation.pickup", "conversation_id": cid})
    world.send(ann, {"action": "conversation.transfer", "conversation_id": cid, "to_agent_id": ben.principal_id,
                     "note": "he knows refunds"})
    assert world.conversation_repo.get(tenant_id, cid).assignee_id == ben.principal_id  # type: ignore[union-attr]
    [notice] = world.gateway.frames(ben.connection_id, "notification")
    assert (notice["kind"], notice["text"], notice["from_agent_id"]) == ("transfer", "he knows refunds",
                                                                         ann.principal_id)
    notes = [f["message"] for f in world.gateway.frames(ben.connection_id, "message.new") if f["message"]["internal"]]
    assert notes and "he knows refunds" in notes[-1]["text"]
    assert {a.agent_id: a.load for a in repo.agents(tenant_id)} == {ann.principal_id: 0, ben.principal_id: 1}


def test_mentions_in_notes_notify_the_colleague_only() -> None:
    world, routing, repo, _, (ann, ben) = setup()
    _, cid = visitor_says(world, "question")
    world.send(ann, {"action": "message.send", "client_msg_id": "n-1", "conversation_id": cid, "internal": True,
                     "text": "@Agent1 could you look? cc @Agent0"})
    assert [f["kind"] for f in world.gateway.frames(ben.connection_id, "notification")] == ["mention"]
    assert world.gateway.frames(ann.connection_id, "notification") == []


def test_a_busy_lease_marks_dirty_and_the_holder_runs_again() -> None:
    world, routing, repo, _, _ = setup()
    tenant_id = next(iter(world.tenant_repo.items))
    assert repo.acquire_lease(tenant_id, "someone", world.clock.now_ms(), 10_000).taken
    assert routing.dispatch(tenant_id).leased is False
    assert repo.release_lease(tenant_id, "someone") == (False, [])  # dirty: run another round
    assert repo.release_lease(tenant_id, "someone") == (True, [])
    assert routing.dispatch(tenant_id).leased is True


def test_the_dispatcher_tells_agents_of_new_conversations_one_frame_per_round() -> None:
    world, routing, repo, trigger, (ann, ben) = setup(agents=2, capacity=1)
    tenant_id = next(iter(world.tenant_repo.items))
    cids = [visitor_says(world, f"question {i}")[1] for i in range(3)]
    assert trigger.new == cids
    for agent in (ann, ben):  # the handlers left the telling to the dispatcher
        assert world.gateway.frames(agent.connection_id, "conversation.new") == []
    routing.dispatch(tenant_id, hints=cids, news=cids)
    for agent in (ann, ben):
        [frame] = world.gateway.frames(agent.connection_id, "conversations.new")
        summaries = {i["conversation"]["conversation_id"]: i["conversation"] for i in frame["conversations"]}
        assert sorted(summaries) == sorted(cids)
        assert sorted(i["message"]["text"] for i in frame["conversations"]) == [f"question {i}" for i in range(3)]
        assigned = [c for c in summaries.values() if c.get("assignee_id")]
        assert len(assigned) == 2 and all("queued_at" not in c for c in assigned)  # as they are after the round
        [waiting] = [c for c in summaries.values() if not c.get("assignee_id")]
        assert waiting["queued_at"] and waiting["last_message_preview"].startswith("question")
        # ... and then the assignments, as for any conversation (an agent keeps the state updates tell)
        [update] = world.gateway.frames(agent.connection_id, "conversations.updated")
        assert sorted(c["conversation_id"] for c in update["conversations"]) == sorted(c["conversation_id"]
                                                                                    for c in assigned)
        actions = [f["action"] for f in world.gateway.frames(agent.connection_id)
                   if f["action"].startswith("conversation")]
        assert actions == ["conversations.new", "conversations.updated"]


def test_news_left_on_a_busy_lease_are_told_by_the_holders_next_round() -> None:
    world, routing, repo, _, (ann, _) = setup()
    tenant_id = next(iter(world.tenant_repo.items))
    _, cid = visitor_says(world, "hello there")
    assert repo.acquire_lease(tenant_id, "someone", world.clock.now_ms(), 10_000).taken
    assert routing.dispatch(tenant_id, hints=[cid], news=[cid]).leased is False  # left on the lease
    assert world.gateway.frames(ann.connection_id, "conversation.new") == []
    assert repo.release_lease(tenant_id, "someone") == (False, [cid])  # the holder gets them for its next round
    # A holder that dies leaves them on the lease for whoever takes it once it has expired.
    assert routing.dispatch(tenant_id, hints=[cid], news=[cid]).leased is False
    world.clock.advance(10_001)
    assert routing.dispatch(tenant_id).leased is True
    [frame] = world.gateway.frames(ann.connection_id, "conversation.new")
    assert frame["conversation"]["conversation_id"] == cid
    assert (frame["message"]["seq"], frame["message"]["text"]) == (1, "hello there")  # it rides along


def test_when_dispatch_cannot_be_asked_the_handler_tells_the_agents_itself() -> None:
    world, routing, repo, trigger, (ann, ben) = setup()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Lambda is unreachable")

    trigger.request = broken
    _, cid = visitor_says(world, "anyone there?")
    for agent in (ann, ben):
        [frame] = world.gateway.frames(agent.connection_id, "conversation.new")
        assert frame["conversation"]["conversation_id"] == cid
        assert frame["message"]["text"] == "anyone there?"  # the first message rides along


def test_a_round_assigns_one_per_agent_in_one_transaction_and_falls_back_one_by_one() -> None:
    world, routing, repo, _, agents = setup(agents=3, capacity=2, presence="away")
    tenant_id = next(iter(world.tenant_repo.items))
    cids = [visitor_says(world, f"question {i}")[1] for i in range(5)]
    set_presence(repo, agents)
    queued = [c.conversation_id for c in repo.queue(tenant_id, 10)]
    assert sorted(queued) == sorted(cids)
    batches: list[list[tuple[str, str]]] = []
    together = repo.assign_together

    def spy(tenant: str, pairs: list[tuple[str, str]], now_ms: int, reachable_since: int) -> bool:
        batches.append(pairs)
        if len(batches) == 1:  # the first conversation is picked up by hand just before
            repo.assign(tenant, pairs[0][0], pairs[0][1], now_ms)
        return together(tenant, pairs, now_ms, reachable_since)

    repo.assign_together = spy
    assert routing.dispatch(tenant_id).assigned == 4  # the fifth went by hand
    # Queue order, no agent twice in a transaction: 3 agents, then the 2 left.
    assert [[c for c, _ in b] for b in batches] == [queued[:3], queued[3:]]
    assert all(len({a for _, a in b}) == len(b) for b in batches)
    # The first transaction failed as a whole (nothing half-written) and its other two
    # conversations were then assigned one by one; nobody holds more than their capacity.
    assert sorted(a.load for a in repo.agents(tenant_id)) == [1, 2, 2]
    assert all(world.conversation_repo.get(tenant_id, c).assignee_id for c in cids)  # type: ignore[union-attr]


def test_an_agent_whose_heartbeat_went_stale_gets_the_queue_when_it_beats_again() -> None:
    from chalicelib.domain.routing import HEARTBEAT_TIMEOUT_MS

    world, routing, repo, trigger, [agent] = setup(agents=1, capacity=2)
    tenant_id = agent.tenant_id
    world.clock.advance(HEARTBEAT_TIMEOUT_MS + 1_000)  # the workbench's pings stopped: unreachable
    _, cid = visitor_says(world, "anyone there?")
    assert routing.dispatch(tenant_id).assigned == 0
    requests = len(trigger.requests)
    world.send(agent, {"action": "ping"})  # it pings again: dispatch is asked for at once
    assert trigger.requests[requests:] == [(tenant_id, [])]
    assert routing.dispatch(tenant_id).assigned == 1
    assert world.conversation_repo.get(tenant_id, cid).assignee_id == agent.principal_id  # type: ignore[union-attr]
    world.send(agent, {"action": "ping"})  # a regular beat asks for nothing
    assert len(trigger.requests) == requests + 1


# ---------------------------------------------------------------- born assigned


def test_with_an_agent_free_and_nobody_waiting_a_conversation_is_born_assigned() -> None:
    world, routing, repo, trigger, (ann, ben) = setup(agents=2, capacity=2)
    tenant_id = ann.tenant_id
    tab, cid = visitor_says(world, "hello, is the blue one in stock?")
    conversation = world.conversation_repo.get(tenant_id, cid)
    assert conversation is not None and conversation.assignee_id in (ann.principal_id, ben.principal_id)
    assert conversation.assigned_at == conversation.created_at and conversation.queued_at is None
    assert sorted(a.load for a in repo.agents(tenant_id)) == [0, 1]
    # The visitor hears it at once, from the handler, after the ack (no dispatch round needed).
    actions = [f["action"] for f in world.gateway.frames(tab.connection_id)]
    assert actions[actions.index("message.ack"):] == ["message.ack", "conversation.updated", "queue.status"]
    [status] = world.gateway.frames(tab.connection_id, "queue.status")
    assert status["state"] == "assigned" and status["agent_name"] in ("Agent0", "Agent1")
    # The agents hear of it from the dispatcher (asked as for every new conversation): the
    # news with its first message, then the assignment, as any assignment is told.
    assert trigger.new == trigger.born_assigned == [cid]
    reads: list[str] = []

    def counted(name: str) -> Any:
        read = getattr(repo, name)

        def spy(*args: Any) -> Any:
            reads.append(name)
            return read(*args)
        return spy

    repo.agents, repo.queue = counted("agents"), counted("queue")
    # Nothing waits: the dispatcher only tells (no round reads the agents or the queue) ...
    assert routing.dispatch(tenant_id, hints=[cid], news=[cid], only_news=True).assigned == 0
    assert reads == []
    for agent in (ann, ben):
        frames = [f for f in world.gateway.frames(agent.connection_id) if f["action"].startswith("conversation")]
        assert [f["action"] for f in frames] == ["conversation.new", "conversation.updated"]
        assert frames[0]["message"]["text"] == "hello, is the blue one in stock?"
        assert frames[1]["conversation"]["assignee_id"] == conversation.assignee_id
    # ... unless the lease brings it news of others (a dead holder's), which may need a round.
    assert repo.acquire_lease(tenant_id, "dead", world.clock.now_ms(), 10_000).taken
    _, other = visitor_says(world, "another question")
    assert routing.dispatch(tenant_id, hints=[other], news=[other], only_news=True).leased is False  # left on it
    world.clock.advance(10_001)
    _, third = visitor_says(world, "and a third")
    reads.clear()  # (the handlers' own reads, to find an agent)
    routing.dispatch(tenant_id, hints=[third], news=[third], only_news=True)
    assert reads == ["agents", "queue"]


def test_a_newcomer_never_overtakes_a_waiting_visitor() -> None:
    world, routing, repo, _, (ann, _) = setup(agents=2, capacity=2)
    tenant_id = ann.tenant_id
    repo.put_group(Group(tenant_id, "g_refunds", "Refunds"))  # nobody online serves it
    repo.put_rule(RoutingRule(tenant_id, "r1", "refunds", 1, (Condition("type", "equals", "after-sales"),),
                              "g_refunds", "normal"))
    _, waiting = visitor_says(world, "I want a refund")
    _, newcomer = visitor_says(world, "what does the premium plan cost?")
    for cid in (waiting, newcomer):  # both queued: the second would have overtaken the first
        conversation = world.conversation_repo.get(tenant_id, cid)
        assert conversation is not None and conversation.queued_at is not None and conversation.assignee_id is None
    assert routing.dispatch(tenant_id).assigned == 1  # dispatch serves whom it can, in order
    assert world.conversation_repo.get(tenant_id, newcomer).assignee_id  # type: ignore[union-attr]


def test_an_agent_who_filled_up_since_the_read_is_passed_over_then_the_queue_takes_it() -> None:
    world, routing, repo, _, (ann, ben) = setup(agents=2, capacity=1)
    tenant_id = ann.tenant_id
    read = repo.agents
    filled: list[str] = []

    def stale(tenant: str) -> list[Any]:
        """The agents as read; then, before the creation transaction, someone fills agents up."""
        snapshot = read(tenant)
        for agent_id in fill:
            repo.agent_states[(tenant, agent_id)].load = 1
            filled.append(agent_id)
        return snapshot

    repo.agents = stale
    fill = [ann.principal_id]
    _, cid = visitor_says(world, "first")
    assert world.conversation_repo.get(tenant_id, cid).assignee_id == ben.principal_id  # type: ignore[union-attr]
    assert {a.agent_id: a.load for a in read(tenant_id)} == {ann.principal_id: 1, ben.principal_id: 1}

    for agent_id in (ann.principal_id, ben.principal_id):
        repo.agent_states[(tenant_id, agent_id)].load = 0
    fill = [ann.principal_id, ben.principal_id]
    _, cid = visitor_says(world, "second")  # both refused in their transactions: born queued
    conversation = world.conversation_repo.get(tenant_id, cid)
    assert conversation is not None and conversation.assignee_id is None and conversation.queued_at is not None
    assert {a.agent_id: a.load for a in read(tenant_id)} == {ann.principal_id: 1, ben.principal_id: 1}
