"""The SLA timer for real: infra/statemachines/sla.asl.json executing in moto (Wait states in
real time), its CheckTicket task running the Chalice handler in-process, against the local
stack's tables. Deadlines are seconds away, so each test takes a few seconds."""
from __future__ import annotations

import os
import threading
import time
from typing import Any

import boto3
import pytest

from chalicelib.domain.errors import Conflict
from chalicelib.domain.model import Identity, Role
from chalicelib.domain.sla import Priority
from chalicelib.domain.tickets import Requester, TicketChanges, TicketStatus

pytestmark = pytest.mark.slow  # real Wait states: seconds per test

FAST = {"targets": {"normal": {"first_response_ms": 2000, "next_response_ms": 2000, "resolution_ms": 600_000},
                    "high": {"first_response_ms": 2000, "next_response_ms": 2000, "resolution_ms": 600_000}},
        "ladder": [{"action": "notify_assignee", "after_ms": 0}, {"action": "raise_priority", "after_ms": 1000},
                   {"action": "reassign", "after_ms": 1000}],
        "escalation_group": "seniors"}


@pytest.fixture
def desk(stack: Any, tenant: Any) -> dict[str, Any]:
    from chalicelib import bootstrap
    from chalicelib.adapters.repositories import DynamoAgents

    services = bootstrap.services()
    agent = DynamoAgents().get_by_email(tenant.agent_emails[0])
    other = DynamoAgents().get_by_email(tenant.agent_emails[1])
    services.tickets._tickets.put_setting(tenant.tenant_id, "sla", FAST)
    return {"tickets": services.tickets, "tenant": tenant,
            "ann": Identity(tenant.tenant_id, Role.AGENT, agent.agent_id, "Ann"),
            "ben": Identity(tenant.tenant_id, Role.AGENT, other.agent_id, "Ben"),
            "sfn": boto3.client("stepfunctions"), "machine": os.environ["KEFU_SLA_STATE_MACHINE_ARN"]}


def _create(desk: dict[str, Any], **kwargs: Any) -> Any:
    args = dict(subject="Parcel late", ticket_type="logistics", priority=Priority.NORMAL,
                requester=Requester(None, "cus@example.com", "Cus"), assignee_id=desk["ann"].principal_id)
    args.update(kwargs)
    return desk["tickets"].create(desk["ann"], **args)


def _execution(desk: dict[str, Any], number: int, version: int) -> dict[str, Any]:
    arn = desk["tickets"]._timer.execution_arn(desk["tenant"].tenant_id, number, version)
    return desk["sfn"].describe_execution(executionArn=arn)  # type: ignore[no-any-return]


def _wait(condition: Any, timeout: float) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_breached_ticket_escalates_step_by_step(desk: dict[str, Any]) -> None:
    t = _create(desk)
    seen: list[int] = []

    def steps() -> bool:
        ticket, timeline = desk["tickets"].get(desk["ann"], t.number)
        escalations = [e for e in timeline if e.kind == "escalated"]
        if ticket.escalation_step and ticket.escalation_step not in seen:
            seen.append(ticket.escalation_step)
        return len(escalations) == 3

    _wait(steps, 15)
    ticket, timeline = desk["tickets"].get(desk["ann"], t.number)
    escalations = [e for e in timeline if e.kind == "escalated"]
    assert [e.data["action"] for e in escalations] == ["notify_assignee", "raise_priority", "reassign"]
    assert seen == sorted(seen) and seen[-1] == 3  # one rung at a time
    due = t.deadlines.first_response_due
    # never before the deadline, and each rung its delay after the breach
    assert [e.data["due_at"] for e in escalations] == [due] * 3
    assert escalations[0].at >= due and escalations[1].at >= due + 1000 and escalations[2].at >= due + 2000
    assert (ticket.priority, ticket.group_id, ticket.assignee_id) == (Priority.HIGH, "seniors", None)
    _wait(lambda: _execution(desk, t.number, 1)["status"] == "SUCCEEDED", 5)


def test_a_ticket_answered_in_time_never_escalates_and_its_execution_ends(desk: dict[str, Any]) -> None:
    t = _create(desk)
    assert _execution(desk, t.number, 1)["status"] == "RUNNING"
    replied = desk["tickets"].reply(desk["ann"], t.number, "Looking into it")
    assert _execution(desk, t.number, 1)["status"] == "ABORTED"  # stopped, not left to fire
    assert _execution(desk, t.number, replied.sla_version)["status"] == "RUNNING"  # the resolution timer
    time.sleep(3.2)  # past the first-response deadline
    ticket, timeline = desk["tickets"].get(desk["ann"], t.number)
    assert ticket.escalation_step == 0 and not [e for e in timeline if e.kind == "escalated"]
    solved = desk["tickets"].update(desk["ann"], t.number, TicketChanges(status=TicketStatus.SOLVED),
                                    ticket.version)
    assert _execution(desk, t.number, replied.sla_version)["status"] == "ABORTED"
    assert solved.status is TicketStatus.SOLVED


def test_priority_change_rearms_the_timer(desk: dict[str, Any]) -> None:
    t = _create(desk, priority=Priority.LOW)  # no target for low: nothing runs
    with pytest.raises(Exception):
        _execution(desk, t.number, 1)
    changed = desk["tickets"].update(desk["ann"], t.number, TicketChanges(priority=Priority.HIGH), t.version)
    assert _execution(desk, t.number, changed.sla_version)["status"] == "RUNNING"
    _wait(lambda: desk["tickets"].get(desk["ann"], t.number)[0].escalation_step >= 1, 8)


def test_two_agents_editing_at_once_lose_no_update(desk: dict[str, Any]) -> None:
    t = _create(desk, priority=Priority.LOW)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def edit(who: str, changes: TicketChanges) -> None:
        barrier.wait()
        try:
            desk["tickets"].update(desk[who], t.number, changes, t.version)
            outcomes[who] = "saved"
        except Conflict as error:
            outcomes[who] = error.code
            # the loser reloads and applies its edit to the winner's version
            fresh, _ = desk["tickets"].get(desk[who], t.number)
            desk["tickets"].update(desk[who], t.number, changes, fresh.version)

    threads = [threading.Thread(target=edit, args=("ann", TicketChanges(tags=["vip"]))),
               threading.Thread(target=edit, args=("ben", TicketChanges(group_id="billing")))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["conflict", "saved"]
    final, timeline = desk["tickets"].get(desk["ann"], t.number)
    assert (final.tags, final.group_id, final.version) == (["vip"], "billing", 3)
    assert {e.kind for e in timeline} >= {"tags", "group"}


def test_ticket_numbers_are_unique_under_concurrent_creation(desk: dict[str, Any]) -> None:
    numbers: list[int] = []
    lock = threading.Lock()

    def create() -> None:
        ticket = _create(desk, priority=Priority.LOW)
        with lock:
            numbers.append(ticket.number)

    threads = [threading.Thread(target=create) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(numbers)) == 12 and max(numbers) - min(numbers) == 11
