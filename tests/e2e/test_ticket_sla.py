"""The SLA timer for real, over the REST API: infra/statemachines/sla.asl.json executing in
moto (Wait states in real time), its CheckTicket task running the Chalice handler
in-process, against the local stack's tables. Deadlines are a second or two away, so each
test takes a few seconds."""
from __future__ import annotations

import asyncio
import os
from typing import Any

import boto3
import pytest

from tests.e2e.clients import Api, Tenant, make_supervisor

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # real Wait states: seconds per test

FAST = {"targets": {"normal": {"first_response_ms": 1500, "next_response_ms": 1500, "resolution_ms": 600_000},
                    "high": {"first_response_ms": 1500, "next_response_ms": 1500, "resolution_ms": 600_000}},
        "ladder": [{"action": "notify_assignee", "after_ms": 0}, {"action": "raise_priority", "after_ms": 1000},
                   {"action": "reassign", "after_ms": 1000}],
        "escalation_group": "seniors"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def desk(api: Api, tenant: Tenant) -> dict[str, Any]:
    """The tenant with the fast policy; its first agent (a supervisor) signed in."""
    agent_id = make_supervisor(tenant)
    token = await api.agent_token(tenant)
    await _call(api, "PUT", "/v1/ticket-settings/sla", token, FAST)
    return {"api": api, "tenant": tenant, "token": token, "agent_id": agent_id}


async def _call(api: Api, method: str, path: str, token: str, body: Any = None) -> Any:
    response = await api.http.request(method, path, headers={"Authorization": f"Bearer {token}"}, json=body)
    assert response.status_code < 300, (method, path, response.status_code, response.text)
    return response.json()


async def _create(desk: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"subject": "Parcel late", "type": "logistics", "requester_email": "cus@example.com",
            "assignee_id": desk["agent_id"], **fields}
    return await _call(desk["api"], "POST", "/v1/tickets", desk["token"], body)  # type: ignore[no-any-return]


async def _get(desk: dict[str, Any], number: int) -> dict[str, Any]:
    return await _call(desk["api"], "GET", f"/v1/tickets/{number}", desk["token"])  # type: ignore[no-any-return]


def _execution(desk: dict[str, Any], number: int, version: int) -> dict[str, Any]:
    machine = os.environ["KEFU_SLA_STATE_MACHINE_ARN"]
    arn = f"{machine.replace(':stateMachine:', ':execution:', 1)}:{desk['tenant'].tenant_id}-{number}-v{version}"
    return boto3.client("stepfunctions").describe_execution(executionArn=arn)  # type: ignore[no-any-return]


async def _wait(condition: Any, timeout: float) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = await condition()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError("timed out")


def _escalations(detail: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in detail["timeline"] if e["kind"] == "escalated"]


async def test_a_breached_ticket_escalates_step_by_step(desk: dict[str, Any]) -> None:
    created = await _create(desk)
    number, due = created["ticket"]["number"], created["deadlines"]["first_response_due"]
    seen: list[int] = []

    async def all_three() -> bool:
        detail = await _get(desk, number)
        step = detail["ticket"]["escalation_step"]
        if step and step not in seen:
            seen.append(step)
        # the ticket and its timeline are two reads: the timeline may already hold a rung the
        # ticket read just before did not
        return step == 3 and len(_escalations(detail)) == 3

    await _wait(all_three, 12)
    detail = await _get(desk, number)
    escalations = _escalations(detail)
    assert [e["data"]["action"] for e in escalations] == ["notify_assignee", "raise_priority", "reassign"]
    assert seen == sorted(seen) and seen[-1] == 3, (seen, detail)  # one rung at a time, each seen in the timeline
    # never before the deadline, and each rung its delay after the breach
    assert [e["data"]["due_at"] for e in escalations] == [due] * 3
    assert [e["at"] >= due + delay for e, delay in zip(escalations, (0, 1000, 2000))] == [True] * 3
    ticket = detail["ticket"]
    assert (ticket["priority"], ticket["group_id"], ticket["assignee_id"]) == ("high", "seniors", None)

    async def finished() -> bool:  # the ladder is done: the execution ends by itself
        return _execution(desk, number, created["sla_version"])["status"] == "SUCCEEDED"

    await _wait(finished, 5)


async def test_a_ticket_answered_in_time_never_escalates_and_its_execution_ends(desk: dict[str, Any]) -> None:
    created = await _create(desk)
    number, first = created["ticket"]["number"], created["sla_version"]
    assert _execution(desk, number, first)["status"] == "RUNNING"
    replied = await _call(desk["api"], "POST", f"/v1/tickets/{number}/replies", desk["token"],
                          {"text": "Looking into it"})
    assert _execution(desk, number, first)["status"] == "ABORTED"  # stopped, not left to fire
    assert _execution(desk, number, replied["sla_version"])["status"] == "RUNNING"  # the resolution timer
    await asyncio.sleep(2)  # past the first-response deadline
    detail = await _get(desk, number)
    assert detail["ticket"]["escalation_step"] == 0 and _escalations(detail) == []
    solved = await _call(desk["api"], "PATCH", f"/v1/tickets/{number}", desk["token"],
                         {"version": detail["ticket"]["version"], "status": "solved"})
    assert solved["ticket"]["status"] == "solved"
    assert _execution(desk, number, replied["sla_version"])["status"] == "ABORTED"


async def test_priority_change_rearms_the_timer(desk: dict[str, Any]) -> None:
    created = await _create(desk, priority="low")  # no target for low: nothing runs
    number = created["ticket"]["number"]
    assert created["deadlines"]["first_response_due"] is None
    with pytest.raises(Exception):
        _execution(desk, number, created["sla_version"])
    changed = await _call(desk["api"], "PATCH", f"/v1/tickets/{number}", desk["token"],
                          {"version": created["ticket"]["version"], "priority": "high"})
    # the new priority's target, counted from the ticket's creation
    assert changed["deadlines"]["first_response_due"] == created["ticket"]["created_at"] + 1500
    assert _execution(desk, number, changed["sla_version"])["status"] == "RUNNING"

    async def escalated() -> bool:
        return bool((await _get(desk, number))["ticket"]["escalation_step"])

    await _wait(escalated, 6)


async def test_ticket_numbers_are_per_tenant_and_unique_under_concurrent_creation(
        desk: dict[str, Any], make_tenant: Any) -> None:
    api = desk["api"]
    other = make_tenant()
    other_token = await api.agent_token(other)

    async def create(token: str) -> int:
        body = {"subject": "Refund", "priority": "low", "requester_email": "cus@example.com"}
        return int((await _call(api, "POST", "/v1/tickets", token, body))["ticket"]["number"])

    ours, theirs = await asyncio.gather(asyncio.gather(*(create(desk["token"]) for _ in range(12))),
                                        asyncio.gather(*(create(other_token) for _ in range(4))))
    assert sorted(ours) == list(range(1001, 1013))  # no gap, no repeat
    assert sorted(theirs) == list(range(1001, 1005))  # another tenant counts on its own
