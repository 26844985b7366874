"""Tickets through the REST API and the WebSocket, against the local stack: real HTTP and
WS clients, moto behind them, the SLA state machine executing for real."""
from __future__ import annotations

import asyncio
import re
import urllib.parse
from typing import Any

import pytest

from tests.e2e.clients import Api, Tenant, action_is, start_chat

pytestmark = pytest.mark.anyio

FAST_SLA = {
    "targets": {"normal": {"first_response_ms": 2000, "next_response_ms": 2000, "resolution_ms": 600_000},
                "low": {"first_response_ms": 0, "next_response_ms": 0, "resolution_ms": 0}},
    "ladder": [{"action": "notify_assignee", "after_ms": 0}, {"action": "raise_priority", "after_ms": 1000}],
    "escalation_group": "seniors",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _promote(tenant: Tenant, index: int = 0) -> None:
    from chalicelib.adapters.repositories import DynamoAgents
    from chalicelib.adapters.tables import AgentItem

    agent = DynamoAgents().get_by_email(tenant.agent_emails[index])
    assert agent is not None
    AgentItem(agent.tenant_id, agent.agent_id).update(actions=[AgentItem.role.set("supervisor")])


async def _call(api: Api, method: str, path: str, token: str | None, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await api.http.request(method, path, headers=headers, json=body)


async def _settings(api: Api, tenant: Tenant) -> str:
    _promote(tenant)
    token = await api.agent_token(tenant)
    response = await _call(api, "PUT", "/v1/ticket-settings/sla", token, FAST_SLA)
    assert response.status_code == 200, response.text
    response = await _call(api, "PUT", "/v1/ticket-settings/routing", token,
                           {"rules": [{"type": "logistics", "group_id": "warehouse"}]})
    assert response.status_code == 200, response.text
    return token


async def test_escalation_is_pushed_live_and_in_the_timeline(api: Api, tenant: Tenant) -> None:
    token = await _settings(api, tenant)
    _, watcher = await api.agent(tenant, 1)
    created = await _call(api, "POST", "/v1/tickets", token, {
        "subject": "Parcel late", "type": "logistics", "requester_email": "cus@example.com"})
    assert created.status_code == 201, created.text
    ticket = created.json()["ticket"]
    assert (ticket["number"], ticket["group_id"], ticket["status"]) == (1001, "warehouse", "new")
    await watcher.wait_for(action_is("ticket.updated"))
    first = await watcher.wait_for(action_is("ticket.escalated", step=1), timeout=8)
    second = await watcher.wait_for(action_is("ticket.escalated", step=2), timeout=5)
    assert (first["escalation"], second["escalation"], second["ticket"]["priority"]) == (
        "notify_assignee", "raise_priority", "high")
    detail = (await _call(api, "GET", "/v1/tickets/1001", token)).json()
    assert [e["data"]["step"] for e in detail["timeline"] if e["kind"] == "escalated"] == [1, 2]
    listed = (await _call(api, "GET", "/v1/tickets?sla=breached", token)).json()["tickets"]
    assert [t["number"] for t in listed] == [1001]
    report = (await _call(api, "GET", "/v1/ticket-reports/sla", token)).json()
    assert (report["tickets"], report["met"], report["attainment"]) == (1, 0, 0.0)
    assert report["breaches_by_kind"] == {"first_response": 1}
    await watcher.close()


async def test_conversation_becomes_a_ticket_once(api: Api, tenant: Tenant) -> None:
    chat = await start_chat(api, tenant, "My order 77 never arrived")
    await chat.visitor.send({"action": "identify", "name": "Vera", "email": "vera@example.com"})
    await asyncio.sleep(0.3)
    path = f"/v1/conversations/{chat.conversation_id}/ticket"
    first, second = await asyncio.gather(
        _call(api, "POST", path, chat.agent_token, {"type": "logistics", "priority": "low"}),
        _call(api, "POST", path, chat.agent_token, {"type": "logistics", "priority": "low"}))
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [201, 409], (first.text, second.text)
    made, refused = (first, second) if first.status_code == 201 else (second, first)
    assert refused.json()["error"]["code"] == "ticket_exists"
    assert refused.json()["error"]["details"]["number"] == made.json()["ticket"]["number"]
    body = made.json()
    assert (body["ticket"]["subject"], body["ticket"]["requester_email"]) == (
        "My order 77 never arrived", "vera@example.com")
    detail = (await _call(api, "GET", f"/v1/tickets/{body['ticket']['number']}", chat.agent_token)).json()
    transcript = next(e for e in detail["timeline"] if e["kind"] == "transcript")
    assert transcript["data"]["messages"][0]["text"] == "My order 77 never arrived"
    await chat.close()


async def test_two_agents_patching_at_once_one_gets_conflict(api: Api, tenant: Tenant) -> None:
    ann, ben = await api.agent_token(tenant, 0), await api.agent_token(tenant, 1)
    created = (await _call(api, "POST", "/v1/tickets", ann, {"subject": "Refund", "priority": "low"})).json()
    number, version = created["ticket"]["number"], created["ticket"]["version"]
    a, b = await asyncio.gather(
        _call(api, "PATCH", f"/v1/tickets/{number}", ann, {"version": version, "tags": ["vip"]}),
        _call(api, "PATCH", f"/v1/tickets/{number}", ben, {"version": version, "group_id": "billing"}))
    assert sorted([a.status_code, b.status_code]) == [200, 409], (a.text, b.text)
    loser, body = (ben, {"group_id": "billing"}) if b.status_code == 409 else (ann, {"tags": ["vip"]})
    conflict = (b if b.status_code == 409 else a).json()["error"]
    assert conflict["code"] == "conflict"
    retry = await _call(api, "PATCH", f"/v1/tickets/{number}", loser, {"version": conflict["details"]["version"],
                                                                      **body})
    assert retry.status_code == 200, retry.text
    final = retry.json()["ticket"]
    assert (final["tags"], final["group_id"]) == (["vip"], "billing")


async def test_an_assignee_must_be_one_of_the_workspaces_agents(api: Api, tenant: Tenant, make_tenant: Any) -> None:
    ann = await api.agent_token(tenant, 0)
    other = make_tenant()
    stranger = (await _call(api, "GET", "/v1/me", await api.agent_token(other, 0))).json()["principal_id"]
    refused = await _call(api, "POST", "/v1/tickets", ann, {"subject": "Refund", "priority": "low",
                                                             "assignee_id": "Alice"})
    assert refused.status_code == 400 and "not an agent of this workspace" in refused.json()["error"]["message"]
    created = (await _call(api, "POST", "/v1/tickets", ann, {"subject": "Refund", "priority": "low"})).json()["ticket"]
    number, version = created["number"], created["version"]
    for name in ("Alice", stranger):  # a typed name, another workspace's agent: refused, nothing changed
        response = await _call(api, "PATCH", f"/v1/tickets/{number}", ann, {"version": version, "assignee_id": name})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["details"] == {"field": "assignee_id"}
    unchanged = (await _call(api, "GET", f"/v1/tickets/{number}", ann)).json()["ticket"]
    assert (unchanged["assignee_id"], unchanged["version"]) == (None, version)
    ben_id = (await _call(api, "GET", "/v1/me", await api.agent_token(tenant, 1))).json()["principal_id"]
    taken = await _call(api, "PATCH", f"/v1/tickets/{number}", ann, {"version": version, "assignee_id": ben_id})
    assert taken.status_code == 200 and taken.json()["ticket"]["assignee_id"] == ben_id, taken.text


async def _solved_with_mail(api: Api, token: str, email: str, subject: str) -> tuple[int, dict[str, Any]]:
    """A low-priority ticket for `email`, solved; its number and the "solved" mail."""
    created = (await _call(api, "POST", "/v1/tickets", token, {
        "subject": subject, "priority": "low", "requester_email": email})).json()
    number, version = created["ticket"]["number"], created["ticket"]["version"]
    solved = await _call(api, "PATCH", f"/v1/tickets/{number}", token, {"version": version, "status": "solved"})
    assert solved.status_code == 200, solved.text
    mails = (await api.http.get("/_local/mails?format=json")).json()["mails"]
    mail = next(m for m in mails if m["to"] == [email])
    assert "solved" in mail["subject"]
    return number, mail


async def test_solve_mails_a_rating_link_lookup_and_rating(api: Api, tenant: Tenant) -> None:
    token = await api.agent_token(tenant)
    email = f"cus-{tenant.tenant_id[-6:]}@example.com"
    number, mail = await _solved_with_mail(api, token, email, "Broken lid")
    link = re.search(r"(/v1/public/tickets/rating\?score=4&token=\S+)", mail["body"]).group(1)  # type: ignore[union-attr]
    rated = await api.http.get(link)
    assert rated.status_code == 200 and rated.json()["csat_score"] == 4, rated.text
    page = await api.http.get("/_local/mails")
    assert page.status_code == 200 and "Broken lid" in page.text

    lookup = {"site_key": tenant.site_key, "number": number, "email": email.upper()}
    found = await _call(api, "POST", "/v1/public/tickets/lookup", None, lookup)
    assert (found.status_code, found.json()["status"], found.json()["csat_score"]) == (200, "solved", 4)
    wrong = await _call(api, "POST", "/v1/public/tickets/lookup", None, {**lookup, "email": "x@example.com"})
    unknown = await _call(api, "POST", "/v1/public/tickets/lookup", None, {**lookup, "number": 999_999})
    assert wrong.status_code == unknown.status_code == 404 and wrong.json() == unknown.json()
    answers = [await _call(api, "POST", "/v1/public/tickets/lookup", None, lookup) for _ in range(10)]
    assert answers[-1].status_code == 429 and answers[-1].json()["error"]["code"] == "rate_limited"

    token_value = urllib.parse.unquote(link.split("token=")[1])
    reopened = await _call(api, "POST", "/v1/public/tickets/rating", None,
                           {"token": token_value, "score": 2, "comment": "still broken", "reopen": True})
    assert reopened.status_code == 200 and reopened.json()["status"] == "open", reopened.text
    detail = (await _call(api, "GET", f"/v1/tickets/{number}", token)).json()
    assert detail["csat_comment"] == "still broken"
    assert [e["kind"] for e in detail["timeline"]].count("csat") == 2


async def test_a_left_message_becomes_a_ticket(api: Api, tenant: Tenant) -> None:
    visitor = await api.visitor_token(tenant)
    left = await _call(api, "POST", "/v1/visitor/left-messages", visitor,
                       {"email": "lia@example.com", "name": "Lia", "text": "Do you ship to Macau?"})
    assert left.status_code == 201, left.text
    agent = await api.agent_token(tenant)
    detail = (await _call(api, "GET", f"/v1/tickets/{left.json()['number']}", agent)).json()
    assert (detail["source"], detail["ticket"]["requester_email"]) == ("offline_message", "lia@example.com")
    assert (await _call(api, "GET", "/v1/tickets", visitor)).status_code == 403


async def test_a_message_left_over_the_socket_becomes_a_ticket_and_a_mail(api: Api, tenant: Tenant) -> None:
    """A7: nobody online, the visitor leaves a message (routing's `message.leave`): it is a ticket."""
    _, visitor = await api.visitor(tenant)
    email = f"sam-{tenant.tenant_id[-8:]}@example.com"
    await visitor.request({"action": "message.leave", "email": email, "name": "Sam",
                           "text": "Please call me back\nabout order 12"}, action_is("message.left"))
    agent = await api.agent_token(tenant)
    listed = (await _call(api, "GET", "/v1/tickets", agent)).json()["tickets"]
    assert [(t["subject"], t["requester_email"], t["status"]) for t in listed] == [
        ("Please call me back", email, "new")]
    mails = (await api.http.get("/_local/mails?format=json")).json()["mails"]
    mail = next(m for m in mails if m["to"] == [email])
    assert f"#{listed[0]['number']}" in mail["subject"]
    found = await _call(api, "POST", "/v1/public/tickets/lookup", None,
                        {"site_key": tenant.site_key, "number": listed[0]["number"], "email": email})
    assert found.status_code == 200 and found.json()["status"] == "new"
    await visitor.close()


async def test_the_mail_s_rating_link_opens_a_page_to_change_the_score_and_comment(api: Api, tenant: Tenant) -> None:
    token = await api.agent_token(tenant)
    email = f"pg-{tenant.tenant_id[-6:]}@example.com"
    number, mail = await _solved_with_mail(api, token, email, "<script>alert(1)</script>")
    body = mail["body"]
    link = re.search(r"(/v1/public/tickets/rating\?score=3&token=\S+)", body).group(1)  # type: ignore[union-attr]
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = await api.http.get(link, headers=browser)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert f"you rated request #{number} 3 of 5" in page.text and 'name="comment"' in page.text
    assert "<script" not in page.text  # the subject (typed by someone) is not on the page
    # the page's form sends the same query with the chosen score and the comment
    token_value = urllib.parse.unquote(link.split("token=")[1])
    sent = await api.http.get("/v1/public/tickets/rating", headers=browser, params={
        "token": token_value, "score": 5, "comment": "Fast & friendly <3"})
    assert sent.status_code == 200 and "we have your comment" in sent.text, sent.text
    assert "Fast &amp; friendly" not in sent.text  # nor is the comment
    detail = (await _call(api, "GET", f"/v1/tickets/{number}", token)).json()
    assert (detail["csat_score"], detail["csat_comment"]) == (5, "Fast & friendly <3")
    # a program (no text/html) still gets JSON
    rated = await api.http.get(link)
    assert rated.headers["content-type"].startswith("application/json") and rated.json()["csat_score"] == 3
