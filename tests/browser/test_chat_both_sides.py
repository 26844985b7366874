"""Both front ends at once: a visitor in the real widget on the demo site and an agent in
/console/, each in their own browser context, chatting both ways; hostile text, typing,
receipts, the visitor panel and attachments, with screenshots of both sides."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import Page, expect

from .conftest import TIMEOUT_MS, Visitor, signed_in

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=alert(1)>"
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a0e0a3b70000000049454e44ae426082")


@pytest.fixture
def console(chromium: Any, stack: Any, tenant: Any) -> Iterator[Page]:
    """The tenant's agent signed in to /console/ in a second browser context (laptop size)."""
    context = chromium.new_context(viewport={"width": 1366, "height": 800})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{stack.url}/console/")
    signed_in(page, tenant)
    yield page
    context.close()
    assert not errors, errors


def test_visitor_and_agent_chat_both_ways_in_two_browsers(visitor: Visitor, console: Page,
                                                          artifacts: Path) -> None:
    visitor.goto("pricing.html")
    panel = visitor.open()
    visitor.send("Hello! Which tea is good for mornings?")
    visitor.wait_for_text("Hello! Which tea is good for mornings?")

    # The agent sees the new conversation live, opens it and sees where the visitor is.
    row = console.locator(".conv").first
    expect(row).to_contain_text("Which tea is good for mornings?")
    row.click()
    expect(console.locator(".msg-in .msg-text")).to_have_text(["Hello! Which tea is good for mornings?"])
    details = console.locator(".visitor-panel")
    expect(details.locator(".current-page")).to_contain_text("Pricing")
    expect(details).to_contain_text("New visitor")

    # Typing, both ways: the visitor's live draft reaches the agent before it is sent...
    panel.type("#input", "And one for", delay=20)
    expect(console.locator(".typing-line")).to_contain_text("And one for")
    panel.fill("#input", "")
    panel.dispatch_event("#input", "input")
    # ...and the agent typing shows the indicator in the widget.
    console.locator(".composer-input").type("Sencha", delay=20)
    panel.wait_for_selector("#typing:not([hidden])")

    console.locator(".composer-input").fill(f"Sencha is lovely. {XSS} is just text here. https://example.com/sencha")
    console.keyboard.press("Enter")
    agent_text = f"Sencha is lovely. {XSS} is just text here. https://example.com/sencha"
    visitor.wait_for_text(agent_text)
    panel.wait_for_selector("#typing", state="hidden")
    assert panel.eval_on_selector("#log li.them .bubble a", "a => a.href") == "https://example.com/sencha"

    visitor.send(f"Thanks {XSS}")
    visitor.wait_for_text(f"Thanks {XSS}")
    expect(console.locator(".msg-in .msg-text").last).to_have_text(f"Thanks {XSS}")

    # Read receipts: the visitor has the panel open, so the agent's message shows "Seen"; the
    # agent has the conversation open, so the visitor's last message shows "Seen" too.
    expect(console.locator(".msg-out .msg-status").last).to_have_text("Seen")
    panel.wait_for_selector("#log li.seen")

    # Nothing anyone typed became markup or ran.
    console.wait_for_timeout(200)
    assert panel.eval_on_selector_all("#log img", "els => els.length") == 0
    assert console.locator(".log img, .inbox img").count() == 0
    assert visitor.dialogs == [] and console.dialogs == []  # type: ignore[attr-defined]
    assert not visitor.errors
    visitor.shot(artifacts, "visitor-side")
    console.screenshot(path=str(artifacts / "agent-side.png"))


def test_attachments_round_trip_with_thumbnails(visitor: Visitor, console: Page, artifacts: Path,
                                                tmp_path: Path) -> None:
    visitor.goto()
    panel = visitor.open()
    visitor.send("Here is a photo of the damaged tin")
    visitor.wait_for_text("Here is a photo of the damaged tin")

    image = tmp_path / "tin.png"
    image.write_bytes(PNG_1PX)
    panel.set_input_files("#file", str(image))
    # The upload goes straight to storage (presigned POST), then the message carries it.
    panel.wait_for_selector("#log li.me[data-seq] a.thumb img")
    console.locator(".conv").first.click()
    thumb = console.locator(".msg-in img.thumb")
    expect(thumb).to_have_count(1)
    expect(thumb).to_have_attribute("src", re.compile(r"^https?://"))
    console.wait_for_function("() => document.querySelector('.msg-in img.thumb').naturalWidth === 1")

    # The agent sends a text file back; the visitor gets a download link with its name and size.
    receipt = tmp_path / "receipt.txt"
    receipt.write_text("Order 1234: 1 tin of sencha, refunded.\n")
    console.set_input_files(".composer input[type=file]", str(receipt))
    file_link = panel.wait_for_selector("#log li.them a.file")
    assert "receipt.txt" in file_link.text_content()
    href = file_link.get_attribute("href")
    assert href and href.startswith("http")
    body = visitor.page.request.get(href)
    assert body.ok and body.text() == "Order 1234: 1 tin of sencha, refunded.\n"

    # After a reload the visitor's thumbnail comes from storage too.
    visitor.page.reload()
    visitor.frame().wait_for_function(
        "() => [...document.querySelectorAll('#log li.me a.thumb img')].some(i => i.naturalWidth === 1)")
    visitor.shot(artifacts, "visitor-side")
    console.screenshot(path=str(artifacts / "agent-side.png"))
