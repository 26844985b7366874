"""Behaviour 6: a visitor sending faster than the rate (burst 10, then 1 a second) is
told `rate_limited` with `retry_after_ms`; nothing accepted is lost or stored twice."""
from __future__ import annotations

import asyncio
import time

import pytest

from tests.e2e.clients import Api, Chat, delivered_message, message_new, new_client_msg_id, reply_to, start_chat

pytestmark = pytest.mark.anyio

BURST, PER_SECOND = 10, 1.0  # chalicelib.config's defaults, which the session's stack uses


def assert_within_rate(visitor_messages: list[dict]) -> None:
    """The token bucket's promise, on the server's own clock: by the time the k-th visitor
    message was accepted, at most BURST + (seconds since the first) * PER_SECOND were."""
    first = visitor_messages[0]["created_at"]
    latest = first
    for count, message in enumerate(visitor_messages, start=1):
        latest = max(latest, message["created_at"])
        allowed = BURST + (latest - first) / 1000 * PER_SECOND
        assert count <= allowed + 1e-6, f"message {count} accepted {latest - first} ms after the first"


async def check_stored_exactly(api: Api, chat: Chat, acks: list[dict]) -> None:
    """REST holds every acked message once, at the seq its ack named, and nothing else;
    the agent was sent each visitor message once."""
    stored = await api.messages(chat.conversation_id, chat.agent_token)
    assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
    assert sorted((a["seq"], a["client_msg_id"]) for a in acks) == [(m["seq"], m["client_msg_id"]) for m in stored]
    assert_within_rate([m for m in stored if m["sender_role"] == "visitor"])
    await chat.agent.settle()
    delivered = [delivered_message(f, chat.conversation_id)["seq"]
                 for f in chat.agent.received(message_new(chat.conversation_id))]
    assert sorted(delivered) == [m["seq"] for m in stored if m["sender_role"] == "visitor"]


async def test_a_visitor_over_the_rate_is_throttled_and_loses_nothing(api, tenant) -> None:
    started = time.monotonic()
    chat = await start_chat(api, tenant)
    acks = [chat.first_ack]
    throttled = None
    for i in range(3 * BURST):  # one in flight at a time, as fast as the acks come
        reply = await chat.visitor.send_message(f"quick {i}", chat.conversation_id)
        if reply["action"] == "error":
            throttled = reply
            break
        acks.append(reply)
    elapsed = time.monotonic() - started
    assert throttled is not None, "never throttled"
    assert throttled["code"] == "rate_limited", throttled
    assert 0 < throttled["retry_after_ms"] <= 1000 / PER_SECOND + 1
    assert BURST <= len(acks) <= BURST + elapsed * PER_SECOND
    await check_stored_exactly(api, chat, acks)  # the refused one is not stored

    # Retrying the refused message after retry_after_ms gets it accepted, once.
    await asyncio.sleep(throttled["retry_after_ms"] / 1000)
    retried = await chat.visitor.send_message("retried", chat.conversation_id, throttled["ref"])
    assert retried["action"] == "message.ack", retried
    acks.append(retried)
    await check_stored_exactly(api, chat, acks)
    await chat.close()


async def test_a_burst_of_parallel_frames_is_cut_at_the_limit(api, tenant) -> None:
    chat = await start_chat(api, tenant)
    cmids = [new_client_msg_id("burst") for _ in range(2 * BURST)]
    # All at once, without waiting for acks: each frame is its own parallel invocation.
    await asyncio.gather(*(chat.visitor.send({"action": "message.send", "client_msg_id": c,
                                              "conversation_id": chat.conversation_id, "text": c})
                           for c in cmids))
    replies = [await chat.visitor.wait_for(reply_to(c), timeout=30) for c in cmids]
    acks = [chat.first_ack] + [r for r in replies if r["action"] == "message.ack"]
    refused = [r for r in replies if r["action"] == "error"]
    assert {r["code"] for r in refused} <= {"rate_limited", "sequence_conflict"}, refused
    assert all(r["retry_after_ms"] > 0 for r in refused if r["code"] == "rate_limited")
    await check_stored_exactly(api, chat, acks)  # at most the rate, whatever the interleaving

    # A client honouring retry_after_ms gets every refused message in, each once.
    for reply in refused:
        acks.append(await chat.visitor.deliver(reply["ref"], chat.conversation_id, reply["ref"]))
    await check_stored_exactly(api, chat, acks)
    await chat.close()


async def test_agents_are_not_rate_limited(api, tenant) -> None:
    chat = await start_chat(api, tenant)
    for i in range(2 * BURST):
        reply = await chat.agent.send_message(f"answer {i}", chat.conversation_id)
        assert reply["action"] == "message.ack", reply
    await chat.close()


async def test_a_flood_of_typing_frames_is_cut_and_the_chat_goes_on(api, tenant) -> None:
    """H6: every kind of visitor frame is limited, not only messages (40 typing-class
    frames at once, then 5 a second, per connection)."""
    chat = await start_chat(api, tenant)
    flood = 80
    await asyncio.gather(*(chat.visitor.send({"action": "typing", "conversation_id": chat.conversation_id,
                                              "state": "start" if i % 2 == 0 else "stop"})
                           for i in range(flood)))

    def answered() -> tuple[list[dict], list[dict]]:
        return (chat.visitor.received(lambda f: f.get("action") == "error" and f.get("code") == "rate_limited"),
                chat.agent.received(lambda f: f.get("action") == "typing"))

    deadline = time.monotonic() + 30  # every frame is either refused or fanned out; a busy machine is slow
    while sum(map(len, answered())) < flood and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await chat.visitor.settle(0.5)
    refused, typing_seen = answered()
    assert refused and all(f["retry_after_ms"] > 0 for f in refused)
    assert len(typing_seen) + len(refused) == flood
    elapsed_s = 30 - max(0.0, deadline - time.monotonic())
    assert len(typing_seen) <= 40 + 5 * (elapsed_s + 1)  # the burst, plus what refilled meanwhile
    # The connection is still usable: a message goes through.
    ack = await chat.visitor.send_message("still here", chat.conversation_id)
    assert ack["action"] == "message.ack", ack
    await chat.close()
