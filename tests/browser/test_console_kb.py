"""Sending a knowledge-base article from the workbench's reply box in one click."""
from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from .conftest import signed_in
from .test_console import WsVisitor, agent_rest, console, visitor  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_send_an_article_to_the_visitor(console: Page, tenant: Any, visitor: WsVisitor,  # noqa: F811
                                        stack: Any) -> None:
    rest = agent_rest(stack, tenant)
    # A draft: agents find it, the bot (published articles only) stays quiet.
    status, _ = rest("POST", "/v1/kb/articles", {"id": "gift-wrap", "title": "Gift wrapping",
                                                 "body": "We wrap any order for **$3**.\n\n- paper\n- ribbon"})
    assert status == 201
    visitor.say("Can you wrap my present?")
    signed_in(console, tenant)
    console.locator(".conv").first.click()
    console.locator(".kb-pick").click()
    console.locator(".kb-picker input").type("gift wrap")
    console.locator(".kb-pick-item", has_text="Gift wrapping").get_by_role("button", name="Send").click()
    frame = visitor.wait_for(lambda f: f["action"] == "message.new" and f["message"]["sender_role"] == "agent")
    assert frame["message"]["text"] == "Gift wrapping\n\nWe wrap any order for $3.\n• paper\n• ribbon"
