"""ChatService with in-memory fakes: sending, fan-out, notes, status, typing, reads, isolation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.domain.clock import FixedClock
from chalicelib.domain.model import Connection, ConversationStatus, Message, Role, Tenant, Visitor
from chalicelib.domain.ratelimit import RateLimit
from chalicelib.services.notifier import CONNECTING_GRACE_MS
from tests.fakes import FakeServices, build_services


@dataclass
class Scene:
    """One tenant with two agents online and one visitor with two tabs open."""

    world: FakeServices
    tenant: Tenant
    visitor: Visitor
    tab1: Connection
    tab2: Connection
    ann: Connection
    ben: Connection

    def frames(self, connection: Connection, action: str | None = None) -> list[dict[str, Any]]:
        return self.world.gateway.frames(connection.connection_id, action)

    def send(self, connection: Connection, frame: dict[str, Any]) -> None:
        self.world.send(connection, frame)

    def say(self, connection: Connection, text: str, msg_id: str, conversation_id: str | None = None,
            **extra: Any) -> None:
        frame = {"action": "message.send", "client_msg_id": msg_id, "text": text, **extra}
        if conversation_id is not None:
            frame["conversation_id"] = conversation_id
        self.send(connection, frame)

    @property
    def conversation_id(self) -> str:
        visitor = self.world.visitor_repo.get(self.tenant.tenant_id, self.visitor.visitor_id)
        assert visitor is not None and visitor.open_conversation_id
        return visitor.open_conversation_id

    def conversation(self) -> Any:
        return self.world.conversation_repo.get(self.tenant.tenant_id, self.conversation_id)

    def error(self, connection: Connection) -> dict[str, Any]:
        errors = self.frames(connection, "error")
        assert len(errors) == 1, errors
        return errors[0]


def make_scene(rate: RateLimit = RateLimit(burst=10, per_second=1.0)) -> Scene:
    world = build_services(FixedClock(), visitor_rate=rate)
    tenant = world.add_tenant()
    visitor = world.add_visitor(tenant)
    tab1, tab2 = world.connect_visitor(visitor, "tab1"), world.connect_visitor(visitor, "tab2")
    ann = world.connect_agent(world.add_agent(tenant, "Ann"), "ann")
    ben = world.connect_agent(world.add_agent(tenant, "Ben"), "ben")
    return Scene(world, tenant, visitor, tab1, tab2, ann, ben)


@pytest.fixture
def scene() -> Scene:
    return make_scene()


@pytest.fixture
def chatting(scene: Scene) -> Scene:
    """The scene after the visitor's first message, with the gateway's log cleared."""
    scene.say(scene.tab1, "hello?", "v-1")
    scene.world.gateway.clear()
    return scene


# ------------------------------------------------------------------ sending


def test_first_message_creates_the_conversation_acks_and_fans_out(scene: Scene) -> None:
    scene.say(scene.tab1, "hello?", "v-1")

    [ack] = scene.frames(scene.tab1)  # the sender gets its ack and nothing else
    assert ack["action"] == "message.ack"
    assert (ack["client_msg_id"], ack["seq"], ack["duplicate"]) == ("v-1", 1, False)
    assert ack["conversation_id"] == scene.conversation_id
    for agent in (scene.ann, scene.ben):  # one frame: the conversation and its first message
        [created] = scene.frames(agent)
        assert created["action"] == "conversation.new"
        assert created["conversation"]["visitor_id"] == scene.visitor.visitor_id
        assert (created["message"]["text"], created["message"]["seq"]) == ("hello?", 1)
    [new] = scene.frames(scene.tab2)  # the visitor's other tab sees its own message
    assert new["action"] == "message.new"
    assert new["message"]["text"] == "hello?" and new["message"]["sender_role"] == "visitor"
    conversation = scene.conversation()
    assert conversation.watchers == {"tab1", "tab2"}
    assert conversation.last_message_preview == "hello?"
    assert scene.world.metrics.counts["MessagesSent"] == 1


def test_second_message_reuses_the_conversation(chatting: Scene) -> None:
    first = chatting.conversation_id
    chatting.say(chatting.tab2, "anyone?", "v-2")
    assert chatting.frames(chatting.tab2, "message.ack")[0]["seq"] == 2
    assert chatting.conversation_id == first
    assert len(chatting.world.conversation_repo.items) == 1
    assert chatting.frames(chatting.ann, "conversation.new") == []
    assert [f["message"]["seq"] for f in chatting.frames(chatting.tab1, "message.new")] == [2]


def test_duplicate_client_msg_id_gets_the_same_ack_and_no_second_fan_out(chatting: Scene) -> None:
    chatting.say(chatting.tab1, "hello?", "v-1")
    [ack] = chatting.frames(chatting.tab1)
    assert (ack["action"], ack["seq"], ack["duplicate"]) == ("message.ack", 1, True)
    assert chatting.frames(chatting.ann) == [] and chatting.frames(chatting.tab2) == []
    assert chatting.conversation().last_seq == 1


def test_a_sequence_conflict_is_retried_on_the_fresh_conversation(chatting: Scene) -> None:
    world = chatting.world
    conversation_id = chatting.conversation_id

    def concurrent_writer(conversation: Any, message: Message) -> None:
        world.message_repo.before_append.clear()  # only once
        other = world.conversation_repo.get(conversation.tenant_id, conversation_id)
        world.message_repo.append(other, Message(
            conversation.tenant_id, conversation_id, other.last_seq + 1, "other-tab", Role.VISITOR,
            chatting.visitor.visitor_id, "", "from another Lambda", world.clock.now_ms()), None)

    world.message_repo.before_append.append(concurrent_writer)
    chatting.say(chatting.tab1, "mine", "v-2")
    assert chatting.frames(chatting.tab1, "message.ack")[0]["seq"] == 3
    assert [m.text for m in world.message_repo.list_after(chatting.tenant.tenant_id, conversation_id, 0, 10)] \
        == ["hello?", "from another Lambda", "mine"]


def test_agents_must_name_the_conversation(chatting: Scene) -> None:
    chatting.say(chatting.ann, "hi", "a-1")
    assert chatting.error(chatting.ann)["code"] == "invalid_frame"


def test_unregistered_connection_gets_unauthenticated(scene: Scene) -> None:
    scene.world.chat.handle_raw("stranger", '{"action": "ping"}')
    assert scene.world.gateway.frames("stranger")[0]["code"] == "unauthenticated"


def test_bad_frame_gets_an_error_frame_with_its_reference(scene: Scene) -> None:
    scene.send(scene.tab1, {"action": "message.send", "client_msg_id": "v-9", "text": " "})
    error = scene.error(scene.tab1)
    assert (error["code"], error["ref"]) == ("invalid_frame", "v-9")
    assert scene.world.metrics.counts["Errors"] == 1


# ------------------------------------------------------------------ rate limiting


def test_rate_limited_visitor_gets_an_error_frame_with_a_retry_hint() -> None:
    scene = make_scene(RateLimit(burst=2, per_second=0.5))
    scene.say(scene.tab1, "one", "v-1")
    scene.say(scene.tab1, "two", "v-2")
    scene.say(scene.tab1, "three", "v-3")
    error = scene.frames(scene.tab1, "error")[0]
    assert (error["code"], error["ref"]) == ("rate_limited", "v-3")
    assert 0 < error["retry_after_ms"] <= 2_001
    assert "details" not in error  # the hint is a field of its own, not repeated in details
    assert scene.conversation().last_seq == 2

    # A retry of a message that was stored is acknowledged, not refused.
    scene.world.gateway.clear()
    scene.say(scene.tab1, "two", "v-2")
    [ack] = scene.frames(scene.tab1)
    assert (ack["action"], ack["seq"], ack["duplicate"]) == ("message.ack", 2, True)

    scene.world.clock.advance(error["retry_after_ms"])
    scene.say(scene.tab1, "three", "v-3")
    assert scene.frames(scene.tab1, "message.ack")[-1]["seq"] == 3


def test_agents_are_not_rate_limited() -> None:
    scene = make_scene(RateLimit(burst=1, per_second=0.01))
    scene.say(scene.tab1, "hi", "v-1")
    for i in range(5):
        scene.say(scene.ann, f"answer {i}", f"a-{i}", scene.conversation_id)
    assert scene.frames(scene.ann, "error") == []
    assert scene.conversation().last_seq == 6


# ------------------------------------------------------------------ internal notes


def test_visitor_cannot_write_internal_notes(chatting: Scene) -> None:
    chatting.say(chatting.tab1, "psst", "v-2", internal=True)
    assert chatting.error(chatting.tab1)["code"] == "forbidden"
    assert chatting.conversation().last_seq == 1


def test_internal_notes_reach_only_agents_and_stay_out_of_the_visitors_history(chatting: Scene) -> None:
    chatting.say(chatting.ann, "VIP customer", "a-1", chatting.conversation_id, internal=True)
    assert chatting.frames(chatting.ann, "message.ack")[0]["seq"] == 2
    [note] = chatting.frames(chatting.ben, "message.new")
    assert note["message"]["internal"] is True
    assert chatting.frames(chatting.tab1) == [] and chatting.frames(chatting.tab2) == []
    conversation = chatting.conversation()
    assert conversation.assignee_id is None  # a note is not an answer
    assert conversation.last_message_preview == "hello?"

    chatting.send(chatting.tab1, {"action": "sync", "conversation_id": chatting.conversation_id})
    assert [m["text"] for m in chatting.frames(chatting.tab1, "messages")[0]["messages"]] == ["hello?"]
    chatting.send(chatting.ben, {"action": "sync", "conversation_id": chatting.conversation_id})
    assert [m["text"] for m in chatting.frames(chatting.ben, "messages")[0]["messages"]] == ["hello?",
                                                                                          "VIP customer"]


def test_a_visitor_paging_through_sync_always_makes_progress(chatting: Scene) -> None:
    chatting.say(chatting.ann, "note", "a-1", chatting.conversation_id, internal=True)
    chatting.say(chatting.ann, "How can I help?", "a-2", chatting.conversation_id)
    chatting.send(chatting.tab1, {"action": "sync", "conversation_id": chatting.conversation_id,
                                  "after_seq": 1, "limit": 1})
    [page] = chatting.frames(chatting.tab1, "messages")
    assert page["messages"] or not page["has_more"]


# ------------------------------------------------------------------ assignment and status


def test_first_agent_reply_assigns_the_conversation(chatting: Scene) -> None:
    cid = chatting.conversation_id
    chatting.say(chatting.ann, "Hi, Ann here", "a-1", cid)
    assert chatting.conversation().assignee_id == chatting.ann.principal_id
    for target in (chatting.ben, chatting.tab1, chatting.tab2):
        [updated] = chatting.frames(target, "conversation.updated")
        assert updated["conversation"]["assignee_id"] == chatting.ann.principal_id
    assert [f["message"]["text"] for f in chatting.frames(chatting.tab1, "message.new")] == ["Hi, Ann here"]

    chatting.world.gateway.clear()
    chatting.say(chatting.ben, "Ben too", "b-1", cid)
    assert chatting.conversation().assignee_id == chatting.ann.principal_id
    assert chatting.frames(chatting.ann, "conversation.updated") == []


def test_resolve_tells_everyone_and_a_visitor_message_reopens(chatting: Scene) -> None:
    cid = chatting.conversation_id
    chatting.send(chatting.ann, {"action": "conversation.resolve", "conversation_id": cid})
    assert chatting.conversation().status is ConversationStatus.RESOLVED
    for target in (chatting.ann, chatting.ben, chatting.tab1, chatting.tab2):
        assert chatting.frames(target, "conversation.updated")[0]["conversation"]["status"] == "resolved"

    chatting.world.gateway.clear()
    chatting.send(chatting.ann, {"action": "conversation.resolve", "conversation_id": cid})
    assert chatting.world.gateway.posted == {}  # already resolved: nothing to tell

    chatting.say(chatting.tab1, "one more thing", "v-2")
    assert chatting.conversation_id == cid
    assert chatting.conversation().status is ConversationStatus.OPEN
    assert chatting.frames(chatting.ann, "conversation.updated")[0]["conversation"]["status"] == "open"
    assert chatting.frames(chatting.tab1, "message.ack")[0]["seq"] == 2


def test_agent_can_reopen(chatting: Scene) -> None:
    cid = chatting.conversation_id
    chatting.world.chat.set_status(chatting.ann.identity, cid, ConversationStatus.RESOLVED)
    chatting.send(chatting.ben, {"action": "conversation.reopen", "conversation_id": cid})
    assert chatting.conversation().status is ConversationStatus.OPEN
    assert chatting.world.metrics.counts["Reopened"] == 1


@pytest.mark.parametrize("action", ["conversation.resolve", "conversation.reopen"])
def test_visitors_cannot_resolve_or_reopen(chatting: Scene, action: str) -> None:
    chatting.send(chatting.tab1, {"action": action, "conversation_id": chatting.conversation_id})
    assert chatting.error(chatting.tab1)["code"] == "forbidden"
    assert chatting.conversation().status is ConversationStatus.OPEN


def test_list_conversations_is_for_agents(chatting: Scene) -> None:
    from chalicelib.domain.errors import Forbidden

    items, _ = chatting.world.chat.list_conversations(chatting.ann.identity, "open", 10, None)
    assert [c.conversation_id for c in items] == [chatting.conversation_id]
    with pytest.raises(Forbidden):
        chatting.world.chat.list_conversations(chatting.tab1.identity, "open", 10, None)


# ------------------------------------------------------------------ typing and reads


def test_visitor_typing_draft_reaches_agents_only(chatting: Scene) -> None:
    chatting.send(chatting.tab1, {"action": "typing", "state": "start", "draft": "I want a ref"})
    for agent in (chatting.ann, chatting.ben):
        [typing] = chatting.frames(agent, "typing")
        assert (typing["role"], typing["draft"]) == ("visitor", "I want a ref")
    assert chatting.frames(chatting.tab2) == []


def test_agent_typing_reaches_the_visitor_without_the_draft(chatting: Scene) -> None:
    chatting.send(chatting.ann, {"action": "typing", "state": "start", "draft": "Let me check",
                                 "conversation_id": chatting.conversation_id})
    for tab in (chatting.tab1, chatting.tab2):
        [typing] = chatting.frames(tab, "typing")
        assert typing["role"] == "agent" and "draft" not in typing
    assert chatting.frames(chatting.ben) == []


def test_typing_before_any_conversation_is_silently_ignored(scene: Scene) -> None:
    scene.send(scene.tab1, {"action": "typing", "state": "start"})
    assert scene.world.gateway.posted == {}


def test_read_receipts_are_monotonic_and_clamped(chatting: Scene) -> None:
    cid = chatting.conversation_id
    chatting.say(chatting.tab1, "second", "v-2")
    chatting.world.gateway.clear()

    chatting.send(chatting.ann, {"action": "read", "conversation_id": cid, "seq": 99})
    assert chatting.conversation().agent_read_seq == 2  # clamped to the last message
    assert chatting.frames(chatting.tab1, "read")[0]["seq"] == 2
    assert chatting.frames(chatting.ben, "read")[0]["seq"] == 2  # other agents' unread counts follow

    chatting.world.gateway.clear()
    chatting.send(chatting.ann, {"action": "read", "conversation_id": cid, "seq": 1})
    assert chatting.conversation().agent_read_seq == 2
    assert chatting.world.gateway.posted == {}

    chatting.send(chatting.tab2, {"action": "read", "conversation_id": cid, "seq": 1})
    assert chatting.conversation().visitor_read_seq == 1
    assert chatting.frames(chatting.ann, "read")[0]["role"] == "visitor"
    assert chatting.frames(chatting.tab1) == []


# ------------------------------------------------------------------ connections


def test_hello_welcomes_with_the_open_conversation(chatting: Scene) -> None:
    tab3 = chatting.world.connect_visitor(chatting.visitor, "tab3")
    chatting.send(tab3, {"action": "hello"})
    [welcome] = chatting.frames(tab3)
    assert (welcome["action"], welcome["conversation_id"], welcome["last_seq"]) == (
        "welcome", chatting.conversation_id, 1)
    assert "tab3" in chatting.conversation().watchers
    chatting.send(chatting.ann, {"action": "ping"})
    assert chatting.frames(chatting.ann)[0]["action"] == "pong"


def test_gone_connections_are_forgotten(chatting: Scene) -> None:
    chatting.world.clock.advance(CONNECTING_GRACE_MS + 1)
    chatting.world.gateway.gone |= {"tab2", "ben"}
    chatting.say(chatting.tab1, "still there?", "v-2")
    assert chatting.frames(chatting.tab1, "message.ack")[0]["seq"] == 2
    assert chatting.world.connection_repo.get("tab2") is None
    assert chatting.world.connection_repo.get("ben") is None
    assert chatting.conversation().watchers == {"tab1"}
    assert chatting.world.connection_repo.agent_connections(chatting.tenant.tenant_id) == ["ann"]
    # The forgotten connection is no longer served from the warm cache either.
    chatting.world.chat.handle_raw("tab2", '{"action": "ping"}')
    assert chatting.world.gateway.posted.get("tab2") is None


def test_a_gone_sender_is_removed_when_its_reply_fails(chatting: Scene) -> None:
    chatting.world.clock.advance(CONNECTING_GRACE_MS + 1)
    chatting.world.gateway.gone.add("tab1")
    chatting.send(chatting.tab1, {"action": "ping"})
    assert chatting.world.connection_repo.get("tab1") is None


def test_a_connection_gone_within_its_connect_grace_is_kept(chatting: Scene) -> None:
    """API Gateway answers Gone until $connect returns: a young connection may be opening."""
    chatting.world.clock.advance(CONNECTING_GRACE_MS - 1)
    chatting.world.gateway.gone.add("tab2")
    chatting.say(chatting.tab1, "still there?", "v-2")
    assert chatting.world.connection_repo.get("tab2") is not None
    assert "tab2" in chatting.conversation().watchers
    chatting.world.gateway.gone.clear()  # it opened: the next message reaches it
    chatting.say(chatting.tab1, "and now?", "v-3")
    assert [f["message"]["text"] for f in chatting.frames(chatting.tab2, "message.new")] == ["and now?"]


def test_disconnect_removes_the_tab_from_the_conversation(chatting: Scene) -> None:
    chatting.world.chat.disconnect("tab2")
    assert chatting.conversation().watchers == {"tab1"}
    assert chatting.world.chat.disconnect("tab2") is None


# ------------------------------------------------------------------ isolation


def test_an_agent_of_another_tenant_cannot_touch_the_conversation(chatting: Scene) -> None:
    world = chatting.world
    other = world.connect_agent(world.add_agent(world.add_tenant("Other"), "Eve"), "eve")
    cid = chatting.conversation_id
    for frame in (
        {"action": "sync", "conversation_id": cid},
        {"action": "read", "conversation_id": cid, "seq": 1},
        {"action": "typing", "state": "start", "conversation_id": cid},
        {"action": "message.send", "client_msg_id": "e-1", "text": "hi", "conversation_id": cid},
        {"action": "conversation.resolve", "conversation_id": cid},
    ):
        world.gateway.clear()
        chatting.send(other, frame)
        assert [f["code"] for f in chatting.frames(other)] == ["conversation_not_found"], frame
    assert chatting.conversation().last_seq == 1
    assert chatting.conversation().status is ConversationStatus.OPEN
    # Tenant A's traffic never reaches tenant B's agents.
    world.gateway.clear()
    chatting.say(chatting.tab1, "private", "v-2")
    assert chatting.frames(other) == []


def test_a_visitor_cannot_read_another_visitors_conversation(chatting: Scene) -> None:
    world = chatting.world
    stranger = world.connect_visitor(world.add_visitor(chatting.tenant), "stranger")
    cid = chatting.conversation_id
    for frame in (
        {"action": "sync", "conversation_id": cid},
        {"action": "message.send", "client_msg_id": "s-1", "text": "hi", "conversation_id": cid},
        {"action": "read", "conversation_id": cid, "seq": 1},
    ):
        world.gateway.clear()
        chatting.send(stranger, frame)
        assert [f["code"] for f in chatting.frames(stranger)] == ["conversation_not_found"], frame
    assert "stranger" not in chatting.conversation().watchers


def test_unknown_and_foreign_conversations_get_the_same_answer(chatting: Scene) -> None:
    stranger = chatting.world.connect_visitor(chatting.world.add_visitor(chatting.tenant), "stranger")
    chatting.send(stranger, {"action": "sync", "conversation_id": chatting.conversation_id})
    chatting.send(stranger, {"action": "sync", "conversation_id": "c_doesnotexist"})
    first, second = chatting.frames(stranger)
    assert (first["code"], first["message"]) == (second["code"], second["message"])


# ------------------------------------------------------------------ history


def test_history_pages_forwards_and_backwards(chatting: Scene) -> None:
    for i in range(2, 6):
        chatting.say(chatting.tab1, f"m{i}", f"v-{i}")
    chat, agent, cid = chatting.world.chat, chatting.ann.identity, chatting.conversation_id
    forward = chat.history(agent, cid, after_seq=1, limit=2)
    assert [m.seq for m in forward.messages] == [2, 3] and forward.has_more and forward.last_seq == 5
    backward = chat.history(agent, cid, after_seq=0, limit=2, before_seq=5)
    assert [m.seq for m in backward.messages] == [3, 4] and backward.has_more
    last = chat.history(agent, cid, after_seq=3, limit=5)
    assert [m.seq for m in last.messages] == [4, 5] and not last.has_more
