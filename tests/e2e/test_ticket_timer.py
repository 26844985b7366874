"""The SLA timer's edges against the local stack, over real HTTP: the sla_check Lambda invoked
through moto's Lambda Invoke API (the in-process handler the state machine's Task calls)
racing the real execution, a timer that fires late or for a solved ticket, "pending"
pausing the clock, a reopened ticket going back to its assignee, and the `make run` demo
ticket armed to breach within a minute. No test waits more than a couple of seconds."""
from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import urllib.parse
from typing import Any

import boto3
import pytest

from tests.e2e.clients import Api, Tenant, action_is, make_supervisor, start_chat

pytestmark = pytest.mark.anyio

SLA = {
    "targets": {"normal": {"first_response_ms": 1500, "next_response_ms": 1500, "resolution_ms": 600_000}},
    # the second rung is far away: only the first can fire during a test
    "ladder": [{"action": "notify_assignee", "after_ms": 0}, {"action": "raise_priority", "after_ms": 600_000}],
    "escalation_group": "seniors",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _call(api: Api, method: str, path: str, token: str | None, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await api.http.request(method, path, headers=headers, json=body)
    assert response.status_code < 300, (method, path, response.status_code, response.text)
    return response.json()


async def _supervisor(api: Api, tenant: Tenant) -> tuple[str, str]:
    """Tenant's first agent, made supervisor, with the short SLA policy; (token, agent id)."""
    agent_id = make_supervisor(tenant)
    token = await api.agent_token(tenant)
    await _call(api, "PUT", "/v1/ticket-settings/sla", token, SLA)
    return token, agent_id


def _sfn() -> tuple[Any, str]:
    return boto3.client("stepfunctions"), os.environ["KEFU_SLA_STATE_MACHINE_ARN"]


def _executions(tenant: Tenant, number: int) -> dict[str, str]:
    """{execution name: status} of one ticket's timers."""
    sfn, machine = _sfn()
    prefix = f"{tenant.tenant_id}-{number}-v"
    runs = sfn.list_executions(stateMachineArn=machine, maxResults=1000)["executions"]
    return {r["name"]: r["status"] for r in runs if r["name"].startswith(prefix)}


def _invoke_sla_check(event: dict[str, Any]) -> dict[str, Any]:
    """What the state machine's CheckTicket task does: Lambda Invoke of sla_check (moto's API)."""
    response = boto3.client("lambda").invoke(FunctionName="kefu-local-sla_check", Payload=json.dumps(event))
    assert "FunctionError" not in response, response
    return json.loads(response["Payload"].read())  # type: ignore[no-any-return]


async def _escalations(api: Api, token: str, number: int) -> list[dict[str, Any]]:
    detail = await _call(api, "GET", f"/v1/tickets/{number}", token)
    return [e for e in detail["timeline"] if e["kind"] == "escalated"]


async def test_a_timer_firing_many_times_at_once_or_late_escalates_once(api: Api, tenant: Tenant) -> None:
    token, agent_id = await _supervisor(api, tenant)
    created = await _call(api, "POST", "/v1/tickets", token, {
        "subject": "Parcel late", "requester_email": "cus@example.com", "assignee_id": agent_id})
    number, version = created["ticket"]["number"], created["sla_version"]
    event = {"tenant_id": tenant.tenant_id, "number": number, "sla_version": version}
    # Six checks start now: each sleeps off the last 1.5 s and they all escalate at the
    # deadline instant, racing each other and the ticket's own execution.
    barrier = threading.Barrier(6)
    answers: list[dict[str, Any]] = []

    def check() -> None:
        barrier.wait()
        answers.append(_invoke_sla_check(event))

    threads = [threading.Thread(target=check) for _ in range(6)]
    for thread in threads:
        thread.start()
    await asyncio.to_thread(lambda: [thread.join() for thread in threads])
    escalations = await _escalations(api, token, number)
    assert len(answers) == 6 and [e["data"]["step"] for e in escalations] == [1], escalations
    # every check agrees on what is next: the second rung, not a second first one
    assert {(a["done"], a["wake_at"]) for a in answers} == {(False, answers[0]["wake_at"])}
    # a late firing of the same timer (a retry, a duplicate) escalates nothing more
    late = await asyncio.to_thread(_invoke_sla_check, event)
    assert late["done"] is False and late["wake_at"] == answers[0]["wake_at"]
    assert len(await _escalations(api, token, number)) == 1
    detail = await _call(api, "GET", f"/v1/tickets/{number}", token)
    assert detail["ticket"]["escalation_step"] == 1 and detail["ticket"]["priority"] == "normal"


async def test_a_solved_ticket_s_timer_ends_quietly(api: Api, tenant: Tenant) -> None:
    token, agent_id = await _supervisor(api, tenant)
    created = await _call(api, "POST", "/v1/tickets", token, {
        "subject": "Wrong size", "requester_email": "cus@example.com", "assignee_id": agent_id})
    number, version = created["ticket"]["number"], created["sla_version"]
    assert _executions(tenant, number) == {f"{tenant.tenant_id}-{number}-v{version}": "RUNNING"}
    solved = await _call(api, "PATCH", f"/v1/tickets/{number}", token,
                         {"version": created["ticket"]["version"], "status": "solved"})
    assert _executions(tenant, number) == {f"{tenant.tenant_id}-{number}-v{version}": "ABORTED"}
    # the stopped timer's check, had it run anyway (a stop that arrived late), and one for the
    # solved ticket's own version: both end quietly
    for sla_version in (version, solved["sla_version"]):
        answer = await asyncio.to_thread(_invoke_sla_check, {
            "tenant_id": tenant.tenant_id, "number": number, "sla_version": sla_version})
        assert answer["done"] is True
    await asyncio.sleep(1.6)  # past the deadline the stopped timer had
    assert await _escalations(api, token, number) == []
    assert (await _call(api, "GET", f"/v1/tickets/{number}", token))["ticket"]["status"] == "solved"


async def test_pending_pauses_the_timer_and_open_resumes_it(api: Api, tenant: Tenant) -> None:
    token, agent_id = await _supervisor(api, tenant)
    created = await _call(api, "POST", "/v1/tickets", token, {
        "subject": "Need a photo", "requester_email": "cus@example.com", "assignee_id": agent_id})
    number = created["ticket"]["number"]
    pending = await _call(api, "PATCH", f"/v1/tickets/{number}", token,
                          {"version": created["ticket"]["version"], "status": "pending"})
    # paused: the running timer is stopped and none takes its place; the resolution time left is kept
    assert set(_executions(tenant, number).values()) == {"ABORTED"}
    assert pending["deadlines"]["resolution_due"] is None
    assert 590_000 < pending["deadlines"]["resolution_left_ms"] <= 600_000
    assert pending["ticket"]["due_at"] is None
    await asyncio.sleep(1.6)  # past the first-response deadline: a paused ticket does not escalate
    assert await _escalations(api, token, number) == []
    opened = await _call(api, "PATCH", f"/v1/tickets/{number}", token,
                         {"version": pending["ticket"]["version"], "status": "open"})
    name = f"{tenant.tenant_id}-{number}-v{opened['sla_version']}"
    assert _executions(tenant, number)[name] == "RUNNING"
    # the clock runs on with the time that was left, not a fresh target
    left = pending["deadlines"]["resolution_left_ms"]
    assert opened["deadlines"]["resolution_due"] - opened["ticket"]["updated_at"] <= left


async def test_a_reopened_ticket_goes_back_to_its_assignee(api: Api, tenant: Tenant) -> None:
    token, agent_id = await _supervisor(api, tenant)
    email = f"re-{tenant.tenant_id[-8:]}@example.com"
    created = await _call(api, "POST", "/v1/tickets", token, {
        "subject": "Still broken", "requester_email": email, "assignee_id": agent_id})
    number = created["ticket"]["number"]
    solved = await _call(api, "PATCH", f"/v1/tickets/{number}", token,
                         {"version": created["ticket"]["version"], "status": "solved"})
    # meanwhile the ticket was taken off the agent's plate
    await _call(api, "PATCH", f"/v1/tickets/{number}", token, {"version": solved["ticket"]["version"],
                                                                "assignee_id": ""})
    mails = (await api.http.get("/_local/mails?format=json")).json()["mails"]
    body = next(m for m in mails if m["to"] == [email] and "solved" in m["subject"])["body"]
    token_value = urllib.parse.unquote(re.search(r"reopen=true&token=(\S+)", body).group(1))  # type: ignore[union-attr]
    reopened = await api.http.post("/v1/public/tickets/rating",
                                   json={"token": token_value, "score": 2, "reopen": True})
    assert reopened.status_code == 200 and reopened.json()["status"] == "open", reopened.text
    detail = await _call(api, "GET", f"/v1/tickets/{number}", token)
    assert (detail["ticket"]["status"], detail["ticket"]["assignee_id"]) == ("open", agent_id)
    assert detail["deadlines"]["next_response_due"] is not None  # the customer is waiting again
    assert any(r.endswith(f"v{detail['sla_version']}") and s == "RUNNING"
               for r, s in _executions(tenant, number).items())


async def test_the_make_run_demo_ticket_is_armed_to_breach_and_escalate_within_a_minute(
        api: Api, tenant: Tenant) -> None:
    from chalicelib.adapters.repositories import DynamoAgents
    from chalicelib.domain.sla import wake_timestamp
    from local.seed import seed_ticket_demo

    agents = [DynamoAgents().get_by_email(email) for email in tenant.agent_emails]
    number = await asyncio.to_thread(seed_ticket_demo, tenant.tenant_id, agents[0].agent_id,  # type: ignore[union-attr]
                                     agents[1].agent_id)  # type: ignore[union-attr]
    token = await api.agent_token(tenant)
    detail = await _call(api, "GET", f"/v1/tickets/{number}", token)
    settings = await _call(api, "GET", "/v1/ticket-settings", token)
    created_at, due = detail["ticket"]["created_at"], detail["deadlines"]["first_response_due"]
    ladder = [step["after_ms"] for step in settings["sla"]["ladder"]]
    assert [step["action"] for step in settings["sla"]["ladder"]] == ["notify_assignee", "raise_priority",
                                                                       "reassign"]
    # breach, then every rung of the ladder, all within a minute of the start
    assert due - created_at + sum(ladder) < 60_000
    assert detail["ticket"]["group_id"] == "warehouse"  # routed by type
    sfn, machine = _sfn()
    name = f"{tenant.tenant_id}-{number}-v{detail['sla_version']}"
    execution = sfn.describe_execution(executionArn=machine.replace(":stateMachine:", ":execution:") + ":" + name)
    assert execution["status"] == "RUNNING"
    wake_at = json.loads(execution["input"])["wake_at"]
    assert wake_at == wake_timestamp(due)


async def test_a_rest_reply_meets_the_target_a_note_stays_inside_and_escalate_starts_the_ladder_at_once(
        api: Api, tenant: Tenant) -> None:
    token, agent_id = await _supervisor(api, tenant)
    email = f"rr-{tenant.tenant_id[-8:]}@example.com"
    created = await _call(api, "POST", "/v1/tickets", token, {
        "subject": "Angry about delay", "requester_email": email, "assignee_id": agent_id})
    number, first = created["ticket"]["number"], created["sla_version"]
    replied = await _call(api, "POST", f"/v1/tickets/{number}/replies", token, {"text": "We are on it"})
    assert replied["first_response_at"] is not None and replied["deadlines"]["first_response_due"] is None
    assert _executions(tenant, number)[f"{tenant.tenant_id}-{number}-v{first}"] == "ABORTED"
    note = await _call(api, "POST", f"/v1/tickets/{number}/notes", token, {"text": "Between us: courier lost it"})
    assert note["kind"] == "note"
    mails = [m for m in (await api.http.get("/_local/mails?format=json")).json()["mails"] if m["to"] == [email]]
    assert any("We are on it" in m["body"] for m in mails)
    assert not any("courier" in m["body"] for m in mails)  # notes are internal
    # a complaint: urgent and due now, so the real timer climbs the first rung right away
    escalated = await _call(api, "POST", f"/v1/tickets/{number}/escalate", token, {"reason": "customer is furious"})
    assert escalated["ticket"]["priority"] == "urgent"
    for _ in range(40):
        if await _escalations(api, token, number):
            break
        await asyncio.sleep(0.2)
    steps = await _escalations(api, token, number)
    assert [(e["data"]["step"], e["data"]["action"], e["data"]["deadline"]) for e in steps] == [
        (1, "notify_assignee", "next_response")]
    kinds = [e["kind"] for e in (await _call(api, "GET", f"/v1/tickets/{number}", token))["timeline"]]
    assert {"reply", "note", "priority", "escalated"} <= set(kinds)


async def test_an_angry_message_in_the_ticket_s_chat_escalates_at_once(api: Api, tenant: Tenant) -> None:
    token, _ = await _supervisor(api, tenant)
    chat = await start_chat(api, tenant, "My order 55 is late")
    made = await _call(api, "POST", f"/v1/conversations/{chat.conversation_id}/ticket", token, {"type": "logistics"})
    number = made["ticket"]["number"]
    await _call(api, "POST", f"/v1/tickets/{number}/replies", token, {"text": "Checking with the courier"})
    _, watcher = await api.agent(tenant, 1)
    await chat.visitor.send_message("Worst shop EVER, this is RIDICULOUS!!")
    escalated = await watcher.wait_for(action_is("ticket.escalated", step=1), timeout=8)
    assert (escalated["ticket"]["number"], escalated["ticket"]["priority"], escalated["deadline"]) == (
        number, "urgent", "next_response")
    timeline = (await _call(api, "GET", f"/v1/tickets/{number}", token))["timeline"]
    reasons = [e["data"].get("reason") for e in timeline if e["kind"] == "priority"]
    assert reasons == ["the customer's message: anger"]
    await asyncio.gather(chat.close(), watcher.close())
