"""What the SLA timer costs: Step Functions state transitions per ticket, and dollars per
1,000 tickets from AWS's public prices.

Starts the local stack in this process (moto executes infra/statemachines/sla.asl.json for
real, Wait states in real time; the sla_check task runs the Chalice handler in-process) and
plays two kinds of ticket, with targets of seconds so the bench takes seconds:

(a) solved in time: created, answered by an agent before its first-response deadline, then
    solved — the timer is re-armed once (new deadline version) and stopped twice;
(b) escalated twice: created, left alone until two rungs of the ladder have fired, then solved.

Transitions are counted as AWS bills them: every state entered, in the execution histories
of every execution of the ticket. Prints progress, then one JSON object on the last line.

    .venv/bin/python bench/sla.py [--tickets 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _common import emit_figures, progress, use_repo_root

use_repo_root()
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

# AWS public prices, us-east-1 (https://aws.amazon.com/step-functions/pricing/,
# https://aws.amazon.com/lambda/pricing/, https://aws.amazon.com/dynamodb/pricing/on-demand/),
# beyond the free tier, as listed in 2025.
USD_PER_STATE_TRANSITION = 0.025 / 1000  # Standard workflows
USD_PER_LAMBDA_REQUEST = 0.20 / 1_000_000
USD_PER_LAMBDA_GB_SECOND = 0.0000166667  # x86
LAMBDA_MEMORY_GB = 0.5  # .chalice/config.json lambda_memory_size (dev)
USD_PER_WRITE_UNIT = 0.625 / 1_000_000  # DynamoDB on-demand
USD_PER_READ_UNIT = 0.125 / 1_000_000
# DynamoDB units of the timer's task (TicketService.sla_tick), from its code: every check reads
# the ticket (consistent GetItem, 1 unit) and the policy (GetItem, 0.5); an escalation adds one
# transaction (the ticket, ~1.5 KB → 2 units, and its event, 1 unit, doubled for a transaction)
# and two queries for whom to tell (agents, agent connections: 1 unit each).
READ_UNITS_PER_CHECK = 1.5
READ_UNITS_PER_ESCALATION = 2.0
WRITE_UNITS_PER_ESCALATION = 6.0
TARGET_SOLVED_IN_TIME = 4

POLICY = {
    "targets": {"normal": {"first_response_ms": 2500, "next_response_ms": 2500, "resolution_ms": 600_000}},
    "ladder": [{"action": "notify_assignee", "after_ms": 0}, {"action": "raise_priority", "after_ms": 1000},
               {"action": "reassign", "after_ms": 60_000}],
    "escalation_group": "seniors",
}


def _histories(sfn: Any, machine: str, prefix: str) -> list[list[dict[str, Any]]]:
    runs = [e for e in sfn.list_executions(stateMachineArn=machine, maxResults=1000)["executions"]
            if e["name"].startswith(prefix)]
    return [sfn.get_execution_history(executionArn=e["executionArn"], maxResults=1000)["events"] for e in runs]


def _transitions(histories: list[list[dict[str, Any]]]) -> int:
    return sum(1 for events in histories for e in events if e["type"].endswith("StateEntered"))


def _task_seconds(histories: list[list[dict[str, Any]]]) -> list[float]:
    spans = []
    for events in histories:
        started = None
        for e in events:
            if e["type"] == "TaskStateEntered":
                started = e["timestamp"]
            elif e["type"] == "TaskStateExited" and started is not None:
                spans.append((e["timestamp"] - started).total_seconds())
    return spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=3, help="tickets per scenario")
    args = parser.parse_args()

    from local.server import LocalStack

    progress("starting the local stack (moto + state machine) ...")
    stack = LocalStack(port=0, seed_demo=False)
    try:
        figures = run(stack, args.tickets)
    finally:
        stack.moto.stop()
    emit_figures(figures)


def run(stack: Any, count: int) -> dict[str, Any]:
    import boto3

    from chalicelib import bootstrap
    from chalicelib.adapters.repositories import DynamoAgents
    from chalicelib.domain.model import Identity, Role
    from chalicelib.domain.sla import Priority
    from chalicelib.domain.tickets import Requester, TicketChanges, TicketStatus
    from local.seed import seed_tenant

    seeded = seed_tenant("Bench", [("bench-sla@bench.kefu.dev", "Ann")], "bench-password")
    agent = DynamoAgents().get_by_email("bench-sla@bench.kefu.dev")
    assert agent is not None
    me = Identity(seeded.tenant_id, Role.AGENT, agent.agent_id, "Ann")
    tickets = bootstrap.services().tickets
    tickets._tickets.put_setting(seeded.tenant_id, "sla", POLICY)
    sfn = boto3.client("stepfunctions")
    machine = os.environ["KEFU_SLA_STATE_MACHINE_ARN"]

    def new() -> Any:
        return tickets.create(me, "Bench ticket", "general", Priority.NORMAL,
                              Requester(None, None, "Customer"), assignee_id=agent.agent_id)

    def solve(number: int) -> None:
        ticket, _ = tickets.get(me, number)
        tickets.update(me, number, TicketChanges(status=TicketStatus.SOLVED), ticket.version)

    def solved_in_time(_: int) -> int:
        ticket = new()
        time.sleep(0.5)
        tickets.reply(me, ticket.number, "On it")
        time.sleep(0.5)
        solve(ticket.number)
        return int(ticket.number)

    def escalated_twice(_: int) -> int:
        ticket = new()
        deadline = time.time() + 30
        while tickets.get(me, ticket.number)[0].escalation_step < 2:
            if time.time() > deadline:
                raise RuntimeError("the ticket did not escalate twice in 30 s")
            time.sleep(0.2)
        time.sleep(0.3)  # the execution is back in its Wait for the third rung
        solve(ticket.number)
        return int(ticket.number)

    results: dict[str, Any] = {}
    for name, scenario in (("solved_in_time", solved_in_time), ("escalated_twice", escalated_twice)):
        progress(f"scenario {name}: {count} tickets ...")
        started = time.time()
        with ThreadPoolExecutor(max_workers=count) as pool:
            numbers = list(pool.map(scenario, range(count)))
        time.sleep(1.0)  # let stopped executions settle
        per_ticket = []
        spans: list[float] = []
        for number in numbers:
            histories = _histories(sfn, machine, f"{seeded.tenant_id}-{number}-")
            per_ticket.append(_transitions(histories))
            spans += _task_seconds(histories)
        checks = len(spans) / count
        progress(f"  transitions per ticket {per_ticket}, checks per ticket {checks:.1f}, "
                 f"task {1000 * sum(spans) / max(1, len(spans)):.0f} ms each, {time.time() - started:.1f} s")
        escalations = sum(tickets.get(me, n)[0].escalation_step for n in numbers) / count
        results[name] = {"transitions": max(per_ticket), "checks": checks, "escalations": escalations,
                         "task_seconds": sum(spans) / len(spans) if spans else 0.0}
    return figures(results)


def figures(results: dict[str, Any]) -> dict[str, Any]:
    def usd(name: str) -> float:
        r = results[name]
        transitions = r["transitions"] * USD_PER_STATE_TRANSITION
        billed_seconds = max(0.001, round(r["task_seconds"], 3))
        lam = r["checks"] * (USD_PER_LAMBDA_REQUEST + billed_seconds * LAMBDA_MEMORY_GB * USD_PER_LAMBDA_GB_SECOND)
        # DynamoDB of the task itself (the rest of a ticket's life is the REST API's, not the timer's)
        reads = r["checks"] * READ_UNITS_PER_CHECK + r["escalations"] * READ_UNITS_PER_ESCALATION
        ddb = reads * USD_PER_READ_UNIT + r["escalations"] * WRITE_UNITS_PER_ESCALATION * USD_PER_WRITE_UNIT
        return (transitions + lam + ddb) * 1000

    solved, escalated = results["solved_in_time"], results["escalated_twice"]
    return {
        "transitions_solved_in_time": solved["transitions"],
        "transitions_escalated_twice": escalated["transitions"],
        # the worst case: every ticket escalates twice before it is solved
        "usd_per_1000_tickets": round(usd("escalated_twice"), 4),
        "usd_per_1000_tickets_solved_in_time": round(usd("solved_in_time"), 4),
        "sla_checks_escalated_twice": escalated["checks"],
        "target_transitions_solved_in_time": TARGET_SOLVED_IN_TIME,
        "meets_target": solved["transitions"] <= TARGET_SOLVED_IN_TIME,
    }


if __name__ == "__main__":
    sys.exit(main())
