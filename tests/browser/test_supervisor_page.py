"""The supervisor view (/console/supervisor.html) in headless Chromium: an agent's load
against capacity, a group and a routing rule created from the page, a waiting conversation
in the queue assigned to an agent from the page; everything from the server shown as text."""
from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import TenantInfo, http_json

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=alert(1)>"


def test_supervisor_sees_load_edits_routing_and_assigns_from_the_queue(chromium: Any, stack: Any,
                                                                     tenant: TenantInfo) -> None:
    from chalicelib.adapters.tables import AgentItem

    AgentItem(tenant.tenant_id, tenant.agent_id).update(actions=[AgentItem.role.set("supervisor")])
    status, body = http_json("POST", f"{stack.url}/v1/agent/login",
                             {"email": tenant.agent_email, "password": tenant.agent_password})
    assert status == 200, body
    token = body["token"]
    session = {"token": token, "expires_at": int(time.time() * 1000) + 3_600_000, "agent": body["agent"]}
    context = chromium.new_context()
    context.add_init_script(f"localStorage.setItem('kefu.console.session', {json.dumps(json.dumps(session))});")
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # A visitor waits: the only agent is not online (the supervisor page's socket does not set presence).
    status, visitor = http_json("POST", f"{stack.url}/v1/visitor/sessions", {"site_key": tenant.site_key})
    assert status == 201, visitor
    from tests.browser.conftest import AgentSocket  # a plain WebSocket client, here for the visitor

    ws = AgentSocket(stack, visitor["token"])
    ws.send({"action": "message.send", "client_msg_id": "v-1", "text": XSS})
    ws.wait_for(lambda f: f.get("action") == "message.ack")

    page.goto(f"{stack.url}/console/supervisor.html")
    agent_row = page.locator(f"tr[data-agent='{tenant.agent_id}']")
    expect(agent_row).to_contain_text("0 / 3")
    queued = page.locator("#sv-queue tbody tr")
    expect(queued).to_have_count(1)
    expect(queued.first).to_contain_text(XSS)  # rendered as text
    # How long it waited reads as time, its last message as one line (the whole on hover).
    expect(queued.first.locator(".sv-waited")).to_have_text(re.compile(r"^\d+ s$|^\d+ min \d\d s$"))
    preview = queued.first.locator(".sv-preview")
    expect(preview).to_have_attribute("title", XSS)
    assert preview.evaluate("td => getComputedStyle(td).whiteSpace") == "nowrap"

    page.get_by_label("group name").fill("Sales")
    page.get_by_role("button", name="Add group").click()
    expect(page.locator(".sv-card", has_text="Skill groups")).to_contain_text("Sales")
    page.get_by_label("rule name").fill("Pricing questions")
    page.get_by_label("value").fill("pre-sales")
    page.get_by_label("target group").select_option(label="Sales")
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator(".sv-card", has_text="Routing rules")).to_contain_text("type equals pre-sales → Sales")
    status, rules = http_json("GET", f"{stack.url}/v1/routing/rules", token=token)
    assert [r["name"] for r in rules["rules"]] == ["Pricing questions"]

    # Assign the waiting conversation: the supervisor's own workbench socket is open, so they are
    # reachable once online.
    http_json("PUT", f"{stack.url}/v1/routing/agents/{tenant.agent_id}",
              {"groups": [], "languages": [], "seniority": 1, "capacity": 3}, token)
    online = AgentSocket(stack, token)
    online.send({"action": "presence.set", "state": "online"})
    expect(agent_row).to_contain_text("1 / 3", timeout=10_000)  # the dispatcher took it
    expect(page.locator("#sv-queue")).to_contain_text("Nobody is waiting.")
    assert dialogs == [] and page.locator("img").count() == 0
    ws.close()
    online.close()
    context.close()
