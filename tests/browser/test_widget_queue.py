"""The visitor's side of routing in headless Chromium: with nobody online the panel offers
to leave a message (kept for the ticket system); when an agent comes online the visitor
sees them join."""
from __future__ import annotations

from typing import Any

import pytest

from .conftest import TenantInfo, Visitor, agent_token, http_json

pytestmark = pytest.mark.browser


def test_leave_a_message_when_nobody_is_online_then_an_agent_joins(stack: Any, visitor: Visitor,
                                                                   tenant: TenantInfo) -> None:
    from tests.browser.conftest import AgentSocket

    visitor.goto()
    frame = visitor.open()
    visitor.send("Is anyone there? <b>hi</b>")
    bar = frame.locator("#queue")
    bar.get_by_text("Nobody can answer right now").wait_for(timeout=10_000)
    bar.get_by_label("Your email").fill("sam@example.com")
    bar.get_by_label("Your message").fill("Please email me about <b>prices</b>")
    bar.get_by_role("button", name="Leave message").click()
    bar.get_by_text("we will reply by email").wait_for(timeout=10_000)
    token = agent_token(stack, tenant.agent_email, tenant.agent_password)
    status, body = http_json("GET", f"{stack.url}/v1/left-messages", token=token)
    assert status == 200 and [(m["email"], m["text"]) for m in body["left_messages"]] == [
        ("sam@example.com", "Please email me about <b>prices</b>")]

    with AgentSocket(stack, token) as agent:
        agent.send({"action": "presence.set", "state": "online"})
        bar.get_by_text(f"{tenant.agent_name} has joined the chat").wait_for(timeout=10_000)
    assert frame.locator("b").count() == 0  # text stays text
