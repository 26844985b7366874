"""The tickets workbench (/console/tickets.html) in headless Chromium: the list, the
timeline, an escalation arriving live from the real SLA state machine, and an edit that
lost a race being reloaded instead of overwriting."""
from __future__ import annotations

import json
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import TenantInfo, agent_token, http_json

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=alert(1)>"
FAST = {"targets": {"normal": {"first_response_ms": 2000, "next_response_ms": 2000, "resolution_ms": 600_000}},
        "ladder": [{"action": "notify_assignee", "after_ms": 0}, {"action": "raise_priority", "after_ms": 60_000}]}


def _signed_in_page(chromium: Any, stack: Any, tenant: TenantInfo) -> tuple[Any, str]:
    status, body = http_json("POST", f"{stack.url}/v1/agent/login",
                             {"email": tenant.agent_email, "password": tenant.agent_password})
    assert status == 200, body
    session = {"token": body["token"], "expires_at": int(time.time() * 1000) + 3_600_000, "agent": body["agent"]}
    context = chromium.new_context()
    context.add_init_script(f"localStorage.setItem('kefu.console.session', {json.dumps(json.dumps(session))});")
    page = context.new_page()
    return page, body["token"]


def _record_notifications(page: Any, stack: Any) -> None:
    """Desktop notifications allowed, and each one recorded in window.__notes."""
    page.context.grant_permissions(["notifications"], origin=stack.url)
    page.add_init_script("""(() => { const Real = window.Notification; window.__notes = [];
      window.Notification = class extends Real { constructor(title, options) { super(title, options);
        window.__notes.push([title, options && options.body]); } };
      Object.defineProperty(window.Notification, 'permission', { get: () => Real.permission }); })();""")


def test_escalation_arrives_live_and_shows_in_the_timeline(chromium: Any, stack: Any, tenant: TenantInfo) -> None:
    from chalicelib import bootstrap

    bootstrap.services().tickets._tickets.put_setting(tenant.tenant_id, "sla", FAST)
    page, token = _signed_in_page(chromium, stack, tenant)
    _record_notifications(page, stack)  # the escalation names this agent (the assignee)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{stack.url}/console/tickets.html")
    expect(page.get_by_text("No tickets here.")).to_be_visible()
    expect(page.locator(".tk-bell .badge")).to_be_hidden()  # no escalation yet: no red "0"
    status, created = http_json("POST", f"{stack.url}/v1/tickets", {
        "subject": XSS, "requester_email": "cus@example.com", "assignee_id": tenant.agent_id}, token)
    assert status == 201, created
    row = page.locator(".tk-row", has_text=XSS)
    expect(row).to_be_visible(timeout=5000)  # pushed by ticket.updated, rendered as text
    expect(page.locator(".tk-bell .badge")).to_have_text("1", timeout=10_000)
    expect(page.locator(".toast")).to_contain_text("escalated (step 1)")
    notes = page.evaluate("window.__notes")
    assert [title for title, _ in notes] == ["Kefu: ticket escalated"] and "step 1" in notes[0][1], notes
    row.click()
    expect(page.locator(".tk-timeline li.escalated")).to_contain_text("assignee notified")
    assert dialogs == [] and page.locator("img").count() == 0


def test_a_stale_save_reloads_instead_of_overwriting(chromium: Any, stack: Any, tenant: TenantInfo) -> None:
    page, token = _signed_in_page(chromium, stack, tenant)
    status, created = http_json("POST", f"{stack.url}/v1/tickets", {"subject": "Refund", "priority": "low"}, token)
    assert status == 201, created
    number = created["ticket"]["number"]
    page.goto(f"{stack.url}/console/tickets.html")
    page.locator(".tk-row", has_text="Refund").click()
    expect(page.locator(".tk-detail h2")).to_contain_text(f"#{number}")
    # another agent saves first
    status, _ = http_json("PATCH", f"{stack.url}/v1/tickets/{number}",
                          {"version": created["ticket"]["version"], "tags": ["vip"]}, token)
    assert status == 200
    expect(page.locator(".tk-banner")).to_contain_text("changed meanwhile")  # told live, form kept
    page.locator("select[name=priority]").select_option("high")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".tk-banner")).to_contain_text("Another agent changed this ticket")
    expect(page.locator("input[name=tags]")).to_have_value("vip")
    status, detail = http_json("GET", f"{stack.url}/v1/tickets/{number}", None, token)
    assert detail["ticket"]["priority"] == "low" and detail["ticket"]["tags"] == ["vip"]


def test_the_assignee_is_picked_by_name_and_the_timeline_names_agents(chromium: Any, stack: Any,
                                                                       tenant: TenantInfo) -> None:
    page, token = _signed_in_page(chromium, stack, tenant)
    status, created = http_json("POST", f"{stack.url}/v1/tickets", {"subject": "Dented kettle", "priority": "low"},
                                token)
    assert status == 201, created
    page.goto(f"{stack.url}/console/tickets.html")
    page.locator(".tk-row", has_text="Dented kettle").click()
    picker = page.locator("select[name=assignee_id]")
    expect(picker.locator("option", has_text=tenant.agent_name)).to_have_count(1)  # names, not ids to type
    expect(picker).to_have_value("")  # Unassigned
    picker.select_option(label=tenant.agent_name)
    page.get_by_role("button", name="Save").click()
    timeline = page.locator(".tk-timeline li.assignee")
    expect(timeline).to_contain_text(f"Assignee: nobody → {tenant.agent_name}")
    expect(timeline.locator(".tk-when")).to_contain_text(tenant.agent_name)  # who did it, by name
    assert tenant.agent_id not in page.locator(".tk-timeline").inner_text()
    status, detail = http_json("GET", f"{stack.url}/v1/tickets/{created['ticket']['number']}", None, token)
    assert detail["ticket"]["assignee_id"] == tenant.agent_id


def test_the_conversation_header_makes_a_ticket_once(chromium: Any, stack: Any, tenant: TenantInfo) -> None:
    from .conftest import signed_in
    from .test_console import WsVisitor

    visitor = WsVisitor(stack, tenant.site_key)
    visitor.say("My parcel 77 never arrived")
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{stack.url}/console/")
    signed_in(page, tenant)
    page.locator(".conv").first.click()
    page.locator("[data-action=ticket]").click()
    expect(page.locator(".ticket-status")).to_contain_text("Ticket #", timeout=10_000)
    number = page.locator(".ticket-status a").inner_text().lstrip("#")
    page.locator("[data-action=ticket]").click()
    expect(page.locator(".ticket-status")).to_contain_text(f"Already ticket #{number}", timeout=10_000)
    token = agent_token(stack, tenant.agent_email, tenant.agent_password)
    status, detail = http_json("GET", f"{stack.url}/v1/tickets/{number}", None, token)
    assert status == 200 and detail["ticket"]["subject"] == "My parcel 77 never arrived"
    assert any(e["kind"] == "transcript" for e in detail["timeline"])
    visitor.close()
    context.close()
    assert not errors, errors


def test_the_list_filters_by_status_priority_group_and_mine(chromium: Any, stack: Any, tenant: TenantInfo) -> None:
    page, token = _signed_in_page(chromium, stack, tenant)
    made = {}
    for subject, body in {"Crate": {"priority": "high", "group_id": "warehouse", "assignee_id": tenant.agent_id},
                          "Invoice": {"priority": "low", "group_id": "billing"},
                          "Old question": {"priority": "normal"}}.items():
        status, made[subject] = http_json("POST", f"{stack.url}/v1/tickets", {"subject": subject, **body}, token)
        assert status == 201, made[subject]
    old = made["Old question"]["ticket"]
    status, _ = http_json("PATCH", f"{stack.url}/v1/tickets/{old['number']}",
                          {"version": old["version"], "status": "solved"}, token)
    assert status == 200
    page.goto(f"{stack.url}/console/tickets.html")
    subjects = page.locator(".tk-row .tk-subject")
    expect(subjects).to_have_text(["Invoice", "Crate"], timeout=10_000)  # open ones, newest first
    page.locator("select[name=filter-priority]").select_option("high")
    expect(subjects).to_have_text(["Crate"])
    page.locator("select[name=filter-priority]").select_option("")
    page.locator("input[name=filter-group]").fill("billing")
    page.locator("input[name=filter-group]").press("Enter")
    expect(subjects).to_have_text(["Invoice"])
    page.locator("input[name=filter-group]").fill("")
    page.locator("input[name=filter-group]").press("Enter")
    page.locator("select[name=filter-status]").select_option("solved")
    expect(subjects).to_have_text(["Old question"])
    page.locator("select[name=filter-status]").select_option("")
    page.get_by_role("button", name="Mine").click()
    expect(subjects).to_have_text(["Crate"])
    page.locator("select[name=filter-status]").select_option("new")  # mine, but not new: it is assigned (open)
    expect(page.get_by_text("No tickets here.")).to_be_visible()


def test_the_chat_console_shows_escalations_too(chromium: Any, stack: Any, tenant: TenantInfo) -> None:
    """Agents spend their day in the chat console: an escalation reaches them there as well."""
    from chalicelib import bootstrap

    from .conftest import signed_in

    bootstrap.services().tickets._tickets.put_setting(tenant.tenant_id, "sla", FAST)
    page = chromium.new_context(viewport={"width": 1440, "height": 900}).new_page()
    _record_notifications(page, stack)
    page.goto(f"{stack.url}/console/")
    signed_in(page, tenant)
    link = page.locator("[data-tickets]")
    expect(link).to_be_visible()
    expect(link.locator(".badge")).to_be_hidden()
    token = agent_token(stack, tenant.agent_email, tenant.agent_password)
    status, created = http_json("POST", f"{stack.url}/v1/tickets", {
        "subject": XSS, "requester_email": "cus@example.com", "assignee_id": tenant.agent_id}, token)
    assert status == 201, created
    number = created["ticket"]["number"]
    expect(link.locator(".badge")).to_have_text("1", timeout=10_000)
    expect(page.locator(".toast")).to_contain_text(f"Ticket #{number} escalated (step 1): assignee notified")
    notes = page.evaluate("window.__notes")
    assert notes == [["Kefu: ticket escalated",
                      f"Ticket #{number} escalated (step 1): assignee notified — {XSS}"]], notes
    page.locator("#presence").select_option("away")  # the top bar renders again: the badge stays
    expect(link.locator(".badge")).to_have_text("1")
    assert page.locator("img").count() == 0
    page.context.close()


def test_agents_names_arriving_late_keep_the_edits_in_an_open_ticket(chromium: Any, stack: Any,
                                                                     tenant: TenantInfo) -> None:
    page, token = _signed_in_page(chromium, stack, tenant)
    status, created = http_json("POST", f"{stack.url}/v1/tickets", {"subject": "Late names", "priority": "low"}, token)
    assert status == 201, created
    held: list[Any] = []
    page.route("**/v1/routing/agents", lambda route: held.append(route))  # answered when we say
    page.goto(f"{stack.url}/console/tickets.html")
    page.locator(".tk-row", has_text="Late names").click()
    page.locator("select[name=priority]").select_option("high")  # an edit not saved yet
    page.wait_for_function("() => true")  # let the page's request reach the route
    assert held, "the page did not ask for the agents' names"
    held[0].continue_()
    picker = page.locator("select[name=assignee_id]")
    expect(picker.locator("option", has_text=tenant.agent_name)).to_have_count(1)  # the names came
    expect(page.locator("select[name=priority]")).to_have_value("high")  # and the edit stayed
    page.context.close()
