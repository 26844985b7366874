"""The visitor's side of routing in headless Chromium: with nobody online the panel offers
to leave a message (kept for the ticket system); when an agent comes online the visitor
sees them join."""
from __future__ import annotations

from typing import Any

import pytest

from playwright.sync_api import expect

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


def test_a_reloaded_page_and_a_second_tab_still_offer_to_leave_a_message(visitor: Visitor) -> None:
    """The dispatcher tells a waiting conversation's state once; a tab that connects later (a
    reload, a second tab) is told it as it says hello, so the form does not vanish."""
    visitor.goto()
    frame = visitor.open()
    visitor.send("hello? anyone around")
    frame.locator("#queue").get_by_text("Nobody can answer right now").wait_for(timeout=10_000)

    visitor.page.reload()  # the panel opens again by itself, with the conversation
    frame = visitor.frame()
    frame.wait_for_selector('#status[data-state="online"]', timeout=10_000)
    frame.locator("#queue").get_by_text("Nobody can answer right now").wait_for(timeout=10_000)
    expect(frame.locator("#queue").get_by_label("Your message")).to_be_visible()

    # The same visitor in a second tab (same browser context: the same visitor token).
    tab = Visitor(visitor.stack, visitor.context, visitor.site_key)
    try:
        tab.goto("pricing.html")
        other = tab.open()
        other.locator("#queue").get_by_text("Nobody can answer right now").wait_for(timeout=10_000)
        assert tab.errors == []
    finally:
        tab.page.close()
    assert not visitor.errors


def test_a_message_left_is_remembered_across_a_reload(visitor: Visitor) -> None:
    visitor.goto()
    frame = visitor.open()
    visitor.send("anyone there?")
    bar = frame.locator("#queue")
    bar.get_by_label("Your email").fill("kim@example.com")
    bar.get_by_label("Your message").fill("Call me back about the order")
    bar.get_by_role("button", name="Leave message").click()
    bar.get_by_text("Thank you — we will reply by email.").wait_for(timeout=10_000)

    visitor.page.reload()  # told the state again: thanked, not asked a second time
    frame = visitor.frame()
    frame.locator("#queue").get_by_text("Thank you — we will reply by email.").wait_for(timeout=10_000)
    expect(frame.locator("#queue").get_by_label("Your message")).to_have_count(0)
    assert not visitor.errors
