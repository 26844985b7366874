"""The visitor's requests in the widget, in headless Chromium against the local stack: a
ticket made from the visitor's chat is solved and the panel asks them to rate it (1-5 and a
comment); a ticket looked up by number and email, then reopened from the panel ("Not
solved"), goes back to its agent. Text from the server stays text."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import TenantInfo, Visitor, agent_token, http_json

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=alert(1)>"


def test_a_solved_ticket_is_rated_in_the_widget(stack: Any, visitor: Visitor, tenant: TenantInfo,
                                                artifacts: Path) -> None:
    visitor.goto()
    frame = visitor.open()
    visitor.send(f"My parcel {XSS} is lost")
    visitor.wait_for_text(f"My parcel {XSS} is lost")
    token = agent_token(stack, tenant.agent_email, tenant.agent_password)
    status, made = http_json("POST", f"{stack.url}/v1/conversations/{visitor.conversation_id()}/ticket",
                             {"type": "logistics"}, token)
    assert status == 201, made
    number = made["ticket"]["number"]
    status, solved = http_json("PATCH", f"{stack.url}/v1/tickets/{number}",
                               {"version": made["ticket"]["version"], "status": "solved"}, token)
    assert status == 200, solved
    card = frame.locator("#ticket-rating")
    expect(card).to_contain_text(f"Your request #{number} “My parcel {XSS} is lost” is solved")
    card.get_by_role("button", name="Send rating").click()
    expect(card).to_contain_text("Please pick 1 to 5 first.")
    card.get_by_role("button", name="4 of 5").click()
    expect(card).not_to_contain_text("Please pick 1 to 5 first.")  # the hint goes once a score is picked
    card.get_by_label("Anything to add?").fill("Quick, <b>thanks</b>")
    visitor.shot(artifacts, "ticket-rating")
    card.get_by_role("button", name="Send rating").click()
    expect(card).to_contain_text("Thank you for your rating!")
    status, detail = http_json("GET", f"{stack.url}/v1/tickets/{number}", None, token)
    assert (detail["ticket"]["status"], detail["csat_score"], detail["csat_comment"]) == (
        "solved", 4, "Quick, <b>thanks</b>")
    assert frame.locator("img").count() == 0 and frame.locator("b").count() == 0


def test_look_up_a_request_then_say_it_is_not_solved(stack: Any, visitor: Visitor, tenant: TenantInfo,
                                                     artifacts: Path) -> None:
    visitor.goto()
    frame = visitor.open()
    email = f"vi-{tenant.tenant_id[-8:]}@example.com"
    token = agent_token(stack, tenant.agent_email, tenant.agent_password)
    status, made = http_json("POST", f"{stack.url}/v1/tickets", {
        "subject": XSS, "requester_email": email, "visitor_id": visitor.session()["visitor_id"],
        "assignee_id": tenant.agent_id}, token)
    assert status == 201, made
    number = made["ticket"]["number"]

    frame.get_by_role("button", name="Look up a request").click()
    box = frame.locator("#ticket-lookup")
    box.get_by_label("Request number").fill(f"#{number}")
    box.get_by_label("Email it was opened with").fill(email.upper())
    box.get_by_role("button", name="Look up").click()
    expect(box.locator(".t-answer")).to_have_text(f"Request #{number} “{XSS}”: being worked on")
    visitor.shot(artifacts, "ticket-lookup")
    box.get_by_label("Request number").fill(str(number + 500))
    box.get_by_role("button", name="Look up").click()
    expect(box.locator(".t-answer")).to_have_text("We found no request with that number and email.")

    status, solved = http_json("PATCH", f"{stack.url}/v1/tickets/{number}",
                               {"version": made["ticket"]["version"], "status": "solved"}, token)
    assert status == 200, solved
    card = frame.locator("#ticket-rating")
    card.get_by_role("button", name="Not solved").click()
    expect(card).to_contain_text("it is open again and back with its agent")
    status, detail = http_json("GET", f"{stack.url}/v1/tickets/{number}", None, token)
    assert (detail["ticket"]["status"], detail["ticket"]["assignee_id"]) == ("open", tenant.agent_id)
    assert frame.locator("img").count() == 0


@pytest.mark.parametrize("slow_script", [False, True], ids=["fast", "tickets.js-slow"])
def test_a_ticket_solved_while_the_chat_is_closed_waits_in_the_panel(stack: Any, visitor: Visitor,
                                                                     tenant: TenantInfo, slow_script: bool) -> None:
    if slow_script:  # the panel must not say it is ready before tickets.js can take the kept frame
        def late(route: Any) -> None:
            time.sleep(1.0)
            route.continue_()
        visitor.context.route("**/widget/tickets.js*", late)
    visitor.goto()
    visitor.page.evaluate("() => { window.unread = []; Kefu.on('unread', (n) => window.unread.push(n)); }")
    visitor_id = visitor.session()["visitor_id"]
    token = agent_token(stack, tenant.agent_email, tenant.agent_password)
    for _ in range(100):  # the page view went over the socket: it is connected
        status, profile = http_json("GET", f"{stack.url}/v1/visitors/{visitor_id}", token=token)
        if status == 200 and profile.get("current_page"):
            break
        visitor.page.wait_for_timeout(100)
    assert visitor.page.frame(url=lambda url: "frame.html" in url) is None  # never opened: no panel yet
    status, made = http_json("POST", f"{stack.url}/v1/tickets", {
        "subject": "Gift wrap", "requester_email": "gw@example.com", "visitor_id": visitor_id}, token)
    assert status == 201, made
    status, _ = http_json("PATCH", f"{stack.url}/v1/tickets/{made['ticket']['number']}",
                          {"version": made["ticket"]["version"], "status": "solved"}, token)
    assert status == 200
    visitor.page.wait_for_function("window.unread.includes(1)")  # counted while closed
    visitor.page.evaluate("Kefu.open()")
    card = visitor.frame().locator("#ticket-rating")
    expect(card).to_contain_text(f"Your request #{made['ticket']['number']} “Gift wrap” is solved")
    card.get_by_role("button", name="5 of 5").click()
    card.get_by_role("button", name="Send rating").click()
    expect(card).to_contain_text("Thank you for your rating!")
