"""The visitor → agent message path through the local gateway, in steady state.

Starts the whole local stack in this process (moto, the tables, the gateway that calls the
very Chalice handlers Lambda runs) and, in a second process, connects 50 visitors and 2
agents with real WebSocket clients, opens one conversation per visitor (warm-up, measured
apart), resets the gateway's counters and then sends N messages per conversation, one in
flight per conversation. Prints progress, then the figures as one JSON object on the last line.

    .venv/bin/python bench/message_path.py [--conversations 50] [--messages 20] [--agents 2]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from _common import emit_figures, percentile, progress, use_repo_root

use_repo_root()

# The bench measures the message path, not the visitor rate limit: raise it well above what
# one-in-flight senders reach, so no message is throttled and retried (set them to test that).
os.environ.setdefault("KEFU_VISITOR_BURST", "1000000")
os.environ.setdefault("KEFU_VISITOR_PER_SECOND", "1000000")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

import httpx  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")
READ_OPERATIONS = ("GetItem", "Query", "BatchGetItem", "TransactGetItems", "Scan")
TARGETS = {"handler_invocations_per_message": 1.0, "ddb_write_requests_per_message": 2.0,
           "ddb_read_requests_per_message": 2.0}
TIMEOUT_S = 60.0


@dataclass
class Deliveries:
    """What the agents received: first arrival time of each message, and anomalies."""

    expected_per_message: int
    arrived: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    duplicates: int = 0
    out_of_order: int = 0
    _last_seq: dict[tuple[int, str], int] = field(default_factory=dict)
    _waiters: dict[str, asyncio.Future[None]] = field(default_factory=dict)

    def record(self, agent: int, frame: dict[str, Any], at: float) -> None:
        message = frame["message"]
        cmid, conversation_id, seq = message["client_msg_id"], message["conversation_id"], message["seq"]
        key = (agent, conversation_id)
        if self._last_seq.get(key, 0) >= seq:
            self.duplicates += self._last_seq[key] == seq
            self.out_of_order += self._last_seq[key] > seq
        self._last_seq[key] = max(seq, self._last_seq.get(key, 0))
        times = self.arrived[cmid]
        times.append(at)
        if len(times) >= self.expected_per_message and cmid in self._waiters:
            waiter = self._waiters.pop(cmid)
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, cmid: str, timeout: float) -> None:
        if len(self.arrived.get(cmid, ())) >= self.expected_per_message:
            return
        future = self._waiters.setdefault(cmid, asyncio.get_running_loop().create_future())
        await asyncio.wait_for(future, timeout)


class Socket:
    """A WebSocket client that routes each reply (ack or error) to whoever awaits it."""

    def __init__(self, socket: ClientConnection, on_message_new: Any = None) -> None:
        self.socket = socket
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._on_message_new = on_message_new
        self._reader = asyncio.ensure_future(self._read())
        self.conversation_id: str | None = None  # named in every send once known, as the widget does

    @classmethod
    async def open(cls, ws_url: str, token: str, on_message_new: Any = None) -> "Socket":
        return cls(await connect(f"{ws_url}?token={token}", max_size=None, open_timeout=TIMEOUT_S),
                   on_message_new)

    async def _read(self) -> None:
        async for raw in self.socket:
            at = time.perf_counter()
            frame = json.loads(raw)
            action = frame.get("action")
            # A conversation's first message reaches agents inside its `conversation.new`, or
            # an item of the dispatcher's `conversations.new`.
            if (action == "message.new" or action == "conversation.new" and frame.get("message")) \
                    and self._on_message_new is not None:
                self._on_message_new(frame, at)
            elif action == "conversations.new" and self._on_message_new is not None:
                for item in frame["conversations"]:
                    if item.get("message"):
                        self._on_message_new(item, at)
            elif action in ("message.ack", "error"):
                ref = frame.get("client_msg_id") if action == "message.ack" else frame.get("ref")
                future = self._replies.pop(ref, None)
                if future is not None and not future.done():
                    future.set_result(frame)

    async def send_message(self, cmid: str, text: str) -> dict[str, Any]:
        future = asyncio.get_running_loop().create_future()
        self._replies[cmid] = future
        frame = {"action": "message.send", "client_msg_id": cmid, "text": text}
        if self.conversation_id:
            frame["conversation_id"] = self.conversation_id
        await self.socket.send(json.dumps(frame))
        reply = await asyncio.wait_for(future, TIMEOUT_S)
        self.conversation_id = reply.get("conversation_id") or self.conversation_id
        return reply

    async def close(self) -> None:
        await self.socket.close()
        await asyncio.gather(self._reader, return_exceptions=True)


@dataclass
class Sender:
    """Sends a conversation's messages, the next one after the previous one's ack."""

    socket: Socket
    index: int
    sent_at: dict[str, float]
    errors: Counter[str]
    conversation_id: str | None = None

    async def deliver(self, cmid: str, text: str) -> dict[str, Any]:
        self.sent_at[cmid] = time.perf_counter()
        while True:
            reply = await self.socket.send_message(cmid, text)
            if reply["action"] == "message.ack":
                self.conversation_id = reply["conversation_id"]
                return reply
            self.errors[reply.get("code", "?")] += 1
            if reply.get("code") not in ("rate_limited", "sequence_conflict"):
                raise RuntimeError(f"message {cmid} refused: {reply}")
            await asyncio.sleep(reply.get("retry_after_ms", 50) / 1000)  # same id: stored once

    async def run(self, count: int, deliveries: Deliveries) -> None:
        for n in range(count):
            cmid = f"v{self.index}-m{n}"
            await self.deliver(cmid, f"visitor {self.index} message {n}: is my order shipped yet?")


def per_message(counts: dict[str, int], messages: int) -> dict[str, float]:
    return {op: round(n / messages, 3) for op, n in sorted(counts.items())}


def summarise_aws(stats: dict[str, Any], messages: int) -> dict[str, Any]:
    ddb = {name.split(".", 1)[1]: n for name, n in stats["aws"].items() if name.startswith("dynamodb.")}
    writes = sum(ddb.get(op, 0) for op in WRITE_OPERATIONS)
    reads = sum(ddb.get(op, 0) for op in READ_OPERATIONS)
    others = {k: v for k, v in stats["aws"].items() if not k.startswith("dynamodb.")}
    return {
        "handler_invocations_per_message": round(stats["invocations"].get("$default", 0) / messages, 3),
        "ddb_write_requests_per_message": round(writes / messages, 3),
        "ddb_read_requests_per_message": round(reads / messages, 3),
        "ddb_requests_per_message_by_operation": per_message(ddb, messages),
        "other_aws_requests": others,
        "invocations": {k: v for k, v in stats["invocations"].items() if v},
    }


async def bench(url: str, ws_url: str, tenant: Any, conversations: int, per_conversation: int,
                agent_count: int) -> dict[str, Any]:
    http = httpx.AsyncClient(base_url=url, timeout=TIMEOUT_S)
    deliveries = Deliveries(expected_per_message=agent_count)
    sent_at: dict[str, float] = {}
    errors: Counter[str] = Counter()

    progress(f"signing in {agent_count} agent(s) and starting {conversations} visitor sessions")
    agent_tokens = []
    for agent in tenant.agents[:agent_count]:
        response = await http.post("/v1/agent/login", json={"email": agent["email"], "password": tenant.password})
        response.raise_for_status()
        agent_tokens.append(response.json()["token"])
    responses = await asyncio.gather(*(http.post("/v1/visitor/sessions", json={"site_key": tenant.site_key})
                                       for _ in range(conversations)))
    visitor_tokens = []
    for response in responses:
        response.raise_for_status()
        visitor_tokens.append(response.json()["token"])

    agents = [await Socket.open(ws_url, token,
                                lambda frame, at, i=i: deliveries.record(i, frame, at))
              for i, token in enumerate(agent_tokens)]
    visitors = await asyncio.gather(*(Socket.open(ws_url, token) for token in visitor_tokens))
    senders = [Sender(socket, i, sent_at, errors) for i, socket in enumerate(visitors)]

    async def stats(reset: bool = False) -> dict[str, Any]:
        await asyncio.sleep(0.2)  # let any handler still finishing after its last post be counted
        response = await (http.post("/_local/stats") if reset else http.get("/_local/stats"))
        response.raise_for_status()
        return dict(response.json())

    async def settle(quiet_s: float = 1.0, limit_s: float = 30.0) -> None:
        """Wait until no AWS request has been made for `quiet_s` (background work is done)."""
        deadline, last = time.perf_counter() + limit_s, None
        while time.perf_counter() < deadline:
            now = (await stats())["aws"]
            if now == last:
                return
            last = now
            await asyncio.sleep(quiet_s)

    progress(f"warm-up: the first message of each of {conversations} conversations opens it")
    await stats(reset=True)
    warm_started = time.perf_counter()
    await asyncio.gather(*(s.deliver(f"v{s.index}-first", "hello, I have a question") for s in senders))
    await asyncio.gather(*(deliveries.wait(f"v{s.index}-first", TIMEOUT_S) for s in senders))
    warm_seconds = time.perf_counter() - warm_started
    first = summarise_aws(await stats(), conversations)
    if len({s.conversation_id for s in senders}) != conversations:
        raise RuntimeError("visitors did not get one conversation each")

    await settle()  # the dispatcher placing the new conversations must not count as steady state
    total = conversations * per_conversation
    progress(f"steady state: {per_conversation} messages in each conversation, one in flight each "
             f"({total} messages, {agent_count} agent connection(s) receiving)")
    await stats(reset=True)
    steady_cmids = [f"v{s.index}-m{n}" for s in senders for n in range(per_conversation)]
    started = time.perf_counter()
    await asyncio.gather(*(s.run(per_conversation, deliveries) for s in senders))
    lost = 0
    try:
        await asyncio.wait_for(asyncio.gather(*(deliveries.wait(c, TIMEOUT_S) for c in steady_cmids)), TIMEOUT_S)
    except asyncio.TimeoutError:
        pass
    finished = max((max(deliveries.arrived[c]) for c in steady_cmids if deliveries.arrived.get(c)),
                   default=time.perf_counter())
    lost = sum(max(0, agent_count - len(deliveries.arrived.get(c, ()))) for c in steady_cmids)
    steady = summarise_aws(await stats(), total)

    latencies = [(at - sent_at[c]) * 1000 for c in steady_cmids for at in deliveries.arrived.get(c, ())]
    elapsed = finished - started
    progress(f"  {total} messages in {elapsed:.2f} s; {len(latencies)} deliveries to agents, "
             f"{lost} missing, {deliveries.duplicates} duplicated, {deliveries.out_of_order} out of order")

    await asyncio.gather(*(s.close() for s in visitors + agents))
    await http.aclose()
    return {
        "handler_invocations_per_message": steady["handler_invocations_per_message"],
        "ddb_write_requests_per_message": steady["ddb_write_requests_per_message"],
        "ddb_read_requests_per_message": steady["ddb_read_requests_per_message"],
        "latency_p50_ms": round(percentile(latencies, 50), 2),
        "latency_p99_ms": round(percentile(latencies, 99), 2),
        "messages_per_s": round(total / elapsed, 1),
        "meets_targets": all(steady[k] <= v for k, v in TARGETS.items()),
        "targets": TARGETS,
        "ddb_requests_per_message_by_operation": steady["ddb_requests_per_message_by_operation"],
        "latency_max_ms": round(max(latencies, default=float("nan")), 2),
        "conversations": conversations,
        "messages_per_conversation": per_conversation,
        "messages": total,
        "agent_connections": agent_count,
        "deliveries": len(latencies),
        "missing_deliveries": lost,
        "duplicate_deliveries": deliveries.duplicates,
        "out_of_order_deliveries": deliveries.out_of_order,
        "error_frames": dict(errors),
        "steady_invocations": steady["invocations"],
        "first_message": {
            "handler_invocations_per_message": first["handler_invocations_per_message"],
            "ddb_write_requests_per_message": first["ddb_write_requests_per_message"],
            "ddb_read_requests_per_message": first["ddb_read_requests_per_message"],
            "ddb_requests_per_message_by_operation": first["ddb_requests_per_message_by_operation"],
            "seconds_for_all": round(warm_seconds, 2),
        },
    }


def print_table(figures: dict[str, Any]) -> None:
    progress("")
    progress(f"{'per visitor message':<36}{'steady':>10}{'first':>10}{'target':>10}")
    first = figures["first_message"]
    for key in TARGETS:
        progress(f"{key:<36}{figures[key]:>10}{first[key]:>10}{'<= ' + format(TARGETS[key], 'g'):>10}")
    ops = sorted(set(figures["ddb_requests_per_message_by_operation"]) |
                 set(first["ddb_requests_per_message_by_operation"]))
    for op in ops:
        progress(f"  dynamodb.{op:<26}{figures['ddb_requests_per_message_by_operation'].get(op, 0):>10}"
                 f"{first['ddb_requests_per_message_by_operation'].get(op, 0):>10}")
    progress(f"latency p50 / p99 / max (ms)        {figures['latency_p50_ms']} / {figures['latency_p99_ms']}"
             f" / {figures['latency_max_ms']}")
    progress(f"messages/s                          {figures['messages_per_s']}")
    progress("")


def run_clients(url: str, ws_url: str, tenant: Any, conversations: int, per_conversation: int,
                agent_count: int) -> dict[str, Any]:
    return asyncio.run(bench(url, ws_url, tenant, conversations, per_conversation, agent_count))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20, help="steady-state messages per conversation")
    parser.add_argument("--agents", type=int, default=2, choices=(1, 2), help="agent connections")
    args = parser.parse_args()

    from local.seed import seed_tenant
    from local.server import LocalStack

    progress("starting moto and the local gateway in this process, the clients in another")
    stack = LocalStack(port=0, seed_demo=False).start_in_thread()
    try:
        tenant = seed_tenant("Bench Shop", [("ann@bench.kefu.dev", "Ann"), ("ben@bench.kefu.dev", "Ben")],
                             "bench-password")
        # The clients get a process of their own, as browsers are not in the stack's process:
        # their sockets' work does not slow the stack it measures.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as clients:
            figures = clients.submit(run_clients, stack.url, stack.ws_url, tenant, args.conversations,
                                     args.messages, args.agents).result()
    finally:
        stack.stop()
    print_table(figures)
    emit_figures(figures)
    # Figures off target are still figures; lost or repeated messages are a broken path.
    broken = figures["missing_deliveries"] or figures["duplicate_deliveries"] or figures["out_of_order_deliveries"]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
