"""Dispatch under a burst: 200 conversations arriving at once, 20 agents online.

Starts the whole local stack in this process (moto, the gateway with its Lambda Invoke API
running the dispatch function); the clients run in a second process, as browsers are not
in the stack's process either. They put 20 agents online (capacity 10 each, so everybody can
be served at once), connect 200 visitors and have them all send their first message at
the same moment. Then, per conversation, the time from its creation to its assignment
(`created_at` → `assigned_at`, both stamped by the handlers) and the DynamoDB requests made
per assignment (counted on the botocore clients): those of the dispatch function (by the
thread the request came from: the gateway runs functions on threads named `dispatch_*`), and
those the creating handler makes to find a free agent for a conversation born assigned (its
reads of the queue's head and the agents, and any creation transaction retried because the
agent it chose had filled up meanwhile). The creation transaction itself is not counted: a
conversation is born queued or assigned in it, and it is written either way.

    .venv/bin/python bench/dispatch.py [--visitors 200] [--agents 20] [--capacity 10] [--rate 0]

`--rate R` paces the arrivals at R per second instead: the same path when the one local
process is not saturated (the issue's figure is the burst, the default).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from collections import Counter
from typing import Any

from _common import emit_figures, percentile, progress, use_repo_root

use_repo_root()
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

TARGETS = {"assign_p99_ms": 250.0, "ddb_requests_per_assignment": 6.0}


class RequestsByThread:
    """Counts DynamoDB requests per calling thread kind (botocore's before-call event)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._placing = threading.local()  # inside RoutingService.open_conversation
        self.conversations_opened = 0

    def __call__(self, model: Any = None, **_: Any) -> None:
        kind = ("dispatch" if threading.current_thread().name.startswith("dispatch")
                else "placing" if getattr(self._placing, "on", False) else "other")
        with self._lock:
            self.counts[f"{kind}.{model.name if model else '?'}"] += 1

    def watch_placing(self) -> None:
        from chalicelib.services.routing import RoutingService

        opened, counter = RoutingService.open_conversation, self

        def open_conversation(service: Any, *args: Any, **kwargs: Any) -> Any:
            counter._placing.on = True
            try:
                return opened(service, *args, **kwargs)
            finally:
                counter._placing.on = False
                with counter._lock:
                    counter.conversations_opened += 1

        RoutingService.open_conversation = open_conversation  # type: ignore[method-assign]

    def placing_extra(self) -> int:
        """Requests of placing beyond the one creation transaction each conversation has anyway."""
        return self.total("placing") - self.conversations_opened

    def install(self) -> None:
        from chalicelib.adapters.repositories import _transaction_connection
        from chalicelib.adapters.tables import ALL_MODELS

        clients = {id(c): c for c in [m._get_connection().connection.client for m in ALL_MODELS.values()]
                   + [_transaction_connection().client]}
        for client in clients.values():
            client.meta.events.register("before-call.dynamodb", self)

    def total(self, kind: str) -> int:
        return sum(v for k, v in self.counts.items() if k.startswith(kind + "."))


async def clients(url: str, ws_url: str, tenant: Any, visitors: int, agents: int, rate: float,
                  pipe: Any) -> None:
    """The agents' workbenches and the visitors' widgets, in a process of their own (as the
    browsers are, elsewhere): the stack's process spends its time on the stack only."""
    from tests.e2e.clients import Api, WsClient, action_is, conversation_updates

    api = Api(url, ws_url)
    try:
        sockets = []
        for i in range(agents):
            _, socket = await api.agent(tenant, i)
            await socket.send({"action": "presence.set", "state": "online"})
            sockets.append(socket)
        await asyncio.gather(*(s.wait_for(action_is("agent.presence")) for s in sockets))

        async def heartbeat() -> None:  # as the workbench does: a ping every 30 s keeps agents reachable
            while True:
                await asyncio.sleep(20)
                await asyncio.gather(*(s.send({"action": "ping"}) for s in sockets))

        pinger = asyncio.ensure_future(heartbeat())
        pipe.send(f"{visitors} visitors connecting ...")
        tokens = await asyncio.gather(*(api.visitor_token(tenant) for _ in range(visitors)))
        widgets = await asyncio.gather(*(WsClient.connect(ws_url, t) for t in tokens))
        await asyncio.sleep(1.0)  # let the agents' own dispatch runs finish
        pipe.send("ready")
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "go", once counting
        observer = sockets[0]
        mark = len(observer.frames)
        started = time.monotonic()

        def assigned_status(frame: dict[str, Any]) -> bool:
            return frame.get("action") == "queue.status" and frame.get("state") == "assigned"

        told_ms: list[float] = []  # the visitor's view: message sent -> told an agent has it

        async def arrive(i: int, client: Any) -> dict[str, Any]:
            if rate:
                await asyncio.sleep(i / rate)
            mark, sent = len(client.frames), time.monotonic()
            ack = dict(await client.send_message(f"question {i}: how much is shipping?", timeout=120))
            try:
                await client.wait_for(assigned_status, timeout=120, since=mark)
                told_ms.append((time.monotonic() - sent) * 1000)
            except AssertionError:
                pass  # not assigned within the time: counted as missing below
            return ack

        acks = await asyncio.gather(*(arrive(i, c) for i, c in enumerate(widgets)))
        conversation_ids = {a["conversation_id"] for a in acks if a["action"] == "message.ack"}
        assigned: set[str] = set()
        while len(assigned) < len(conversation_ids) and time.monotonic() - started < 120:
            assigned = {c["conversation_id"] for f in observer.frames[mark:] for c in conversation_updates(f)
                        if c.get("assignee_id")}
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.5)
        pinger.cancel()
        await asyncio.gather(*(c.close() for c in [*widgets, *sockets]))
        pipe.send({"conversation_ids": sorted(conversation_ids), "assigned": len(assigned), "elapsed": elapsed,
                   "told_ms": told_ms})
    finally:
        await api.aclose()


def clients_process(url: str, ws_url: str, tenant: Any, visitors: int, agents: int, rate: float,
                    pipe: Any) -> None:
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    asyncio.run(clients(url, ws_url, tenant, visitors, agents, rate, pipe))


def run(visitors: int, agents: int, capacity: int, rate: float = 0.0) -> dict[str, Any]:
    import multiprocessing

    from chalicelib.adapters.repositories import DynamoConversations, DynamoRouting
    from local.gateway import HANDLER_THREADS
    from local.seed import seed_tenant
    from local.server import LocalStack
    from tests.e2e.clients import Tenant

    progress("starting the local stack ...")
    stack = LocalStack(port=0, seed_demo=False).start_in_thread()
    counter = RequestsByThread()
    counter.watch_placing()
    try:
        seeded = seed_tenant("Bench", [(f"agent{i}@bench.kefu.dev", f"Agent {i}") for i in range(agents)], "pw-bench")
        routing = DynamoRouting()
        for agent in seeded.agents:
            routing.save_profile(seeded.tenant_id, agent["agent_id"], frozenset(), frozenset(), 0, capacity)
        tenant = Tenant(seeded.tenant_id, seeded.site_key, [a["email"] for a in seeded.agents], seeded.password)
        progress(f"{agents} agents going online (clients in a process of their own) ...")
        ours, theirs = multiprocessing.get_context("spawn").Pipe()
        child = multiprocessing.get_context("spawn").Process(
            target=clients_process, args=(stack.url, stack.ws_url, tenant, visitors, agents, rate, theirs),
            daemon=True)
        child.start()
        while (said := ours.recv()) != "ready":
            progress(said)
        counter.install()
        progress(f"{visitors} first messages " + (f"at {rate:g} per second ..." if rate else "at once ..."))
        ours.send("go")
        if not ours.poll(240):
            raise RuntimeError("the clients' process did not report within 240 s")
        outcome = ours.recv()
        child.join(30)
        conversation_ids = outcome["conversation_ids"]
        progress(f"{outcome['assigned']} of {len(conversation_ids)} assigned in {outcome['elapsed']:.1f} s")
        repo = DynamoConversations()
        latencies = []
        for cid in conversation_ids:
            c = repo.get(seeded.tenant_id, cid)
            if c is not None and c.assigned_at is not None:
                latencies.append(c.assigned_at - c.created_at)
        born_assigned = sum(1 for latency in latencies if latency == 0)
        dispatch_requests = counter.total("dispatch") + counter.placing_extra()
        progress(f"{born_assigned} of {len(latencies)} born assigned; requests by kind/operation: "
                 f"{dict(sorted((k, v) for k, v in counter.counts.items() if not k.startswith('other')))} "
                 f"for {counter.conversations_opened} conversations opened")
        progress(f"dispatch invocations: {stack.gateway.invocations.get('dispatch', 0)}")
        return {
            "assign_p50_ms": round(percentile(latencies, 50), 1),
            "assign_p99_ms": round(percentile(latencies, 99), 1),
            "ddb_requests_per_assignment": round(dispatch_requests / max(1, len(latencies)), 2),
            # What the visitor sees (clients' clock): first message sent -> told "assigned";
            # includes the wait for a handler and the handler itself, which the figures above do not.
            "visitor_told_p50_ms": round(percentile(outcome["told_ms"], 50), 1) if outcome["told_ms"] else None,
            "visitor_told_p99_ms": round(percentile(outcome["told_ms"], 99), 1) if outcome["told_ms"] else None,
            "visitors_told": len(outcome["told_ms"]),
            "handler_threads": HANDLER_THREADS,
            "assigned": len(latencies),
            "born_assigned": born_assigned,
            "arrivals": visitors,
            "agents": agents,
            "capacity_each": capacity,
            "arrivals_per_s": rate or "all at once",
            "burst_seconds": round(outcome["elapsed"], 2),
            "targets": TARGETS,
        }
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--capacity", type=int, default=10)
    parser.add_argument("--rate", type=float, default=0.0,
                        help="arrivals per second instead of all at once (what an unsaturated stack does)")
    args = parser.parse_args()
    emit_figures(run(args.visitors, args.agents, args.capacity, args.rate))


if __name__ == "__main__":
    main()
