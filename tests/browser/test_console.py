"""The agent workbench at /console/, driven in headless Chromium.

The visitor side here is a small WebSocket client (`WsVisitor`) so each test controls exactly
what the visitor sends; `test_chat_both_sides.py` uses the real widget on the demo site.
"""
from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from .conftest import TIMEOUT_MS, AgentSocket, agent_token, http_json, login, signed_in

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=alert(1)>"
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a0e0a3b70000000049454e44ae426082")


class WsVisitor:
    """A website visitor speaking the WebSocket protocol directly, recording every frame."""

    def __init__(self, stack: Any, site_key: str, token: str | None = None) -> None:
        """A new visitor, or (with `token`) a returning one whose session was started already."""
        from websockets.sync.client import connect

        if token is None:
            status, body = http_json("POST", f"{stack.url}/v1/visitor/sessions", {"site_key": site_key})
            assert status in (200, 201), body
            token = str(body["token"])
        self.stack = stack
        self.token: str = token
        self.visitor_id: str = http_json("GET", f"{stack.url}/v1/me", token=token)[1]["principal_id"]
        self.conversation_id: str | None = None
        self.frames: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._ws = connect(f"{stack.ws_url}?token={self.token}")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._send({"action": "hello"})
        self.wait_for(lambda f: f["action"] == "welcome")
        self._n = 0

    def _read(self) -> None:
        try:
            for raw in self._ws:
                with self._cond:
                    self.frames.append(json.loads(raw))
                    self._cond.notify_all()
        except Exception:
            pass

    def _send(self, frame: dict[str, Any]) -> None:
        self._ws.send(json.dumps(frame))

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
        deadline = time.time() + timeout
        with self._cond:
            while True:
                for frame in self.frames:
                    if match(frame):
                        return frame
                left = deadline - time.time()
                assert left > 0, f"no matching frame; got {[f['action'] for f in self.frames]}"
                self._cond.wait(left)

    def say(self, text: str) -> dict[str, Any]:
        """Send a message and wait for its ack (retrying after a rate limit)."""
        self._n += 1
        ref = f"v{self._n}-{time.time_ns()}"
        frame: dict[str, Any] = {"action": "message.send", "client_msg_id": ref, "text": text}
        if self.conversation_id:
            frame["conversation_id"] = self.conversation_id
        while True:
            start = len(self.frames)
            self._send(frame)
            answer = self.wait_for(lambda f: f.get("client_msg_id") == ref and f["action"] == "message.ack"
                                   or f["action"] == "error" and f.get("ref") == ref and self.frames.index(f) >= start)
            if answer["action"] == "message.ack":
                self.conversation_id = answer["conversation_id"]
                return answer
            assert answer["code"] == "rate_limited", answer
            time.sleep((answer.get("retry_after_ms") or 500) / 1000)

    def typing(self, draft: str) -> None:
        self._send({"action": "typing", "state": "start", "draft": draft})

    def page_view(self, url: str, title: str, referrer: str | None = None, **extra: Any) -> None:
        self._send({"action": "page.view", "url": url, "title": title, "referrer": referrer, **extra})

    def history(self) -> list[dict[str, Any]]:
        """The conversation as the visitor's own token reads it over REST."""
        status, body = http_json(
            "GET", f"{self.stack.url}/v1/conversations/{self.conversation_id}/messages?after_seq=0&limit=200",
            token=self.token)
        assert status == 200, body
        return list(body["messages"])

    def close(self) -> None:
        self._ws.close()


@pytest.fixture
def visitor(stack: Any, tenant: Any) -> Iterator[WsVisitor]:
    client = WsVisitor(stack, tenant.site_key)
    yield client
    client.close()


@pytest.fixture
def console(chromium: Any, stack: Any) -> Iterator[Page]:
    """A fresh browser context (its own localStorage) on /console/, failing on any page error."""
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.goto(f"{stack.url}/console/")
    yield page
    context.close()
    assert not errors, errors


def conversation_row(page: Page, visitor_label_part: str = "") -> Any:
    rows = page.locator(".conv")
    return rows.filter(has_text=visitor_label_part) if visitor_label_part else rows.first


def agent_rest(stack: Any, tenant: Any) -> Callable[..., tuple[int, Any]]:
    token = agent_token(stack, tenant.agent_email, tenant.agent_password)
    return lambda method, path, body=None: http_json(method, f"{stack.url}{path}", body, token=token)


# ---------------------------------------------------------------------------- sign-in and presence


def test_login_wrong_password_shows_an_error_and_right_one_shows_inbox(console: Page, tenant: Any,
                                                                        artifacts: Path) -> None:
    login(console, tenant, password="not-the-password")
    expect(console.locator("#login-error")).to_have_text(re.compile("Wrong email or password"))
    expect(console.locator(".inbox")).to_have_count(0)
    console.screenshot(path=str(artifacts / "login-error.png"))

    login(console, tenant)
    expect(console.locator(".tab[data-tab=mine]")).to_be_visible()
    expect(console.locator(".me-name")).to_have_text(tenant.agent_name)
    expect(console.locator("#connection")).to_have_attribute("data-state", "online")
    console.screenshot(path=str(artifacts / "inbox.png"))

    console.click("#logout")
    expect(console.locator("#login-error")).to_have_text(re.compile("signed out"))


def set_presence(console: Page, stack: Any, tenant: Any, state: str) -> None:
    """Choose a presence in the header and wait until the server has it."""
    console.select_option("#presence", state)
    rest = agent_rest(stack, tenant)
    deadline = time.time() + 5
    while rest("GET", "/v1/agents/me")[1].get("presence") != state:
        assert time.time() < deadline, "presence.set did not reach the server"
        time.sleep(0.1)


def test_presence_survives_reload(console: Page, tenant: Any, stack: Any) -> None:
    signed_in(console, tenant)
    expect(console.locator("#presence")).to_have_value("online")
    set_presence(console, stack, tenant, "away")
    console.reload()
    expect(console.locator("#presence")).to_have_value("away")
    expect(console.locator(".presence")).to_have_class(re.compile("presence-away"))
    expect(console.locator("#connection")).to_have_attribute("data-state", "online")


def test_invalid_token_sends_the_agent_back_to_login(console: Page, tenant: Any) -> None:
    signed_in(console, tenant)
    console.evaluate("""() => {
        const s = JSON.parse(localStorage.getItem('kefu.console.session'));
        s.token = s.token.slice(0, -4) + 'AAAA';
        localStorage.setItem('kefu.console.session', JSON.stringify(s));
    }""")
    console.reload()
    expect(console.locator("#login-error")).to_have_text(re.compile("no longer valid"))

    signed_in(console, tenant)
    console.evaluate("""() => {
        const s = JSON.parse(localStorage.getItem('kefu.console.session'));
        s.expires_at = Date.now() - 1000;
        localStorage.setItem('kefu.console.session', JSON.stringify(s));
    }""")
    console.reload()
    expect(console.locator("#login-error")).to_have_text(re.compile("expired"))


# ---------------------------------------------------------------------------- inbox and conversation


def test_new_conversation_appears_live_with_unread_count_draft_and_visitor_details(
        console: Page, tenant: Any, visitor: WsVisitor, stack: Any, artifacts: Path) -> None:
    signed_in(console, tenant)
    # Away: routing offers nobody the conversation, so it waits in "Unassigned" (an online
    # agent would get it from the dispatcher within a moment: tests/integration/test_dispatch.py).
    set_presence(console, stack, tenant, "away")
    expect(console.locator(".conv")).to_have_count(0)
    visitor.page_view("https://shop.example/pricing?utm_source=newsletter", "Pricing — Teahouse",
                      referrer="https://www.google.com/search?q=tea", language="zh-CN", screen="1440x900",
                      utm={"source": "newsletter", "medium": "email", "campaign": "spring"})
    visitor.say("Hello, is the oolong in stock?")
    visitor.say("And do you ship to Shanghai?")
    row = console.locator(".conv").first
    expect(row).to_contain_text("do you ship to Shanghai?")
    expect(row.locator(".badge")).to_have_text("2")
    expect(console.locator(".tab[data-tab=all] .tab-count")).to_have_text("1")
    expect(console.locator(".tab[data-tab=unassigned] .tab-count")).to_have_text("1")
    expect(console.locator(".tab[data-tab=mine] .tab-count")).to_have_count(0)
    expect(row.locator(".conv-time")).to_contain_text("waiting")
    # Every tab is whole (with its counts) in the inbox's column: none cut off at the edge.
    cut = console.eval_on_selector_all(".tabs .tab", """tabs => tabs.filter(tab => {
        const box = tab.getBoundingClientRect(), edge = tab.parentElement.getBoundingClientRect();
        return box.right > edge.right + 0.5 || tab.scrollWidth > tab.clientWidth;
      }).map(tab => tab.dataset.tab)""")
    assert cut == [], cut

    row.click()
    expect(console.locator(".log .msg-in")).to_have_count(2)
    expect(row.locator(".badge")).to_have_count(0)  # opened and focused: read
    visitor.wait_for(lambda f: f["action"] == "read" and f["role"] == "agent" and f["seq"] == 2)

    visitor.typing("I would like three bags of")
    expect(console.locator(".typing-line")).to_have_text("Visitor is typing: I would like three bags of")
    expect(row.locator(".conv-preview")).to_have_text("Visitor is typing…")

    panel = console.locator(".visitor-panel")
    expect(panel).to_contain_text("Pricing — Teahouse")
    expect(panel).to_contain_text("google.com")
    expect(panel).to_contain_text("newsletter / email / spring")
    expect(panel).to_contain_text("zh-CN")
    expect(panel).to_contain_text("New visitor")
    visitor.page_view("https://shop.example/checkout", "Checkout — Teahouse")
    expect(panel.locator(".current-page")).to_contain_text("Checkout — Teahouse")  # live: visitor.updated
    expect(panel.locator(".trail li")).to_have_count(2)
    console.screenshot(path=str(artifacts / "conversation.png"))


def test_agent_reply_reaches_visitor_and_shows_seen(console: Page, tenant: Any, visitor: WsVisitor) -> None:
    visitor.say("Anyone there?")
    signed_in(console, tenant)
    console.locator(".conv").first.click()
    console.fill(".composer-input", "Yes! How can I help?")
    console.keyboard.press("Enter")
    got = visitor.wait_for(lambda f: f["action"] == "message.new" and f["message"]["text"] == "Yes! How can I help?")
    assert got["message"]["sender_role"] == "agent"
    expect(console.locator(".msg-out .msg-status")).to_have_text("Sent")
    expect(console.locator(".tab[data-tab=mine]")).to_be_visible()
    console.click(".tab[data-tab=mine]")
    expect(console.locator(".conv")).to_have_count(1)  # the first reply assigned it to me
    visitor._send({"action": "read", "conversation_id": visitor.conversation_id, "seq": got["message"]["seq"]})
    expect(console.locator(".msg-out .msg-status")).to_have_text("Seen")


def test_hostile_visitor_text_is_shown_as_text(console: Page, tenant: Any, visitor: WsVisitor) -> None:
    dialogs: list[str] = []
    console.on("dialog", lambda d: dialogs.append(d.message))
    visitor.say(f"look {XSS} and <b>bold</b> <a href=javascript:alert(2)>x</a> javascript:alert(3)")
    signed_in(console, tenant)
    expect(console.locator(".conv-preview").first).to_contain_text(XSS)
    console.locator(".conv").first.click()
    bubble = console.locator(".msg-in .msg-text").first
    expect(bubble).to_contain_text(XSS)
    assert console.locator(".log img, .inbox img, .log b").count() == 0
    assert console.locator(".log a").count() == 0  # only http(s) URLs ever become links
    console.wait_for_timeout(300)
    assert dialogs == []


def test_links_are_safe(console: Page, tenant: Any, visitor: WsVisitor) -> None:
    visitor.say("see https://example.com/tea?x=1, thanks")
    signed_in(console, tenant)
    console.locator(".conv").first.click()
    anchor = console.locator(".msg-in a")
    expect(anchor).to_have_attribute("href", "https://example.com/tea?x=1")
    expect(anchor).to_have_attribute("rel", "noopener noreferrer")
    expect(anchor).to_have_attribute("target", "_blank")


def test_history_scrolls_upward_in_pages(console: Page, tenant: Any, visitor: WsVisitor, stack: Any) -> None:
    # Agents are not rate limited: fill the history from the agent's side after the visitor opens it.
    visitor.say("m-1")
    from websockets.sync.client import connect

    token = agent_token(stack, tenant.agent_email, tenant.agent_password)
    with connect(f"{stack.ws_url}?token={token}") as agent:
        for i in range(2, 76):
            agent.send(json.dumps({"action": "message.send", "client_msg_id": f"a{i}",
                                   "conversation_id": visitor.conversation_id, "text": f"m-{i}"}))
            while json.loads(agent.recv())["action"] != "message.ack":
                pass
    signed_in(console, tenant)
    console.locator(".conv").first.click()
    log = console.locator(".log")
    expect(log.locator(".msg").last).to_contain_text("m-75")
    assert log.locator(".msg").count() < 75
    for _ in range(10):
        if log.locator(".msg-in", has_text="m-1").count():
            break
        log.evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
        console.wait_for_timeout(250)
    expect(log.locator(".msg").first).to_contain_text("m-1")
    expect(log.locator(".msg")).to_have_count(75)
    expect(log.locator(".log-top")).to_have_text("Start of the conversation")


def test_internal_note_is_labelled_and_never_reaches_the_visitor(console: Page, tenant: Any,
                                                                  visitor: WsVisitor) -> None:
    visitor.say("My order is late")
    signed_in(console, tenant)
    console.locator(".conv").first.click()
    console.click(".mode-note")
    console.fill(".composer-input", "VIP customer, refund without asking")
    console.keyboard.press("Enter")
    note = console.locator(".msg-note")
    expect(note).to_contain_text("VIP customer, refund without asking")
    expect(note).to_contain_text("Internal note — visitor can't see this")
    expect(note.locator(".msg-status")).to_have_count(0)
    console.click(".composer .mode[data-mode=reply]")
    console.fill(".composer-input", "Let me check that for you")
    console.keyboard.press("Enter")
    visitor.wait_for(lambda f: f["action"] == "message.new" and f["message"]["text"] == "Let me check that for you")
    texts = [m["text"] for m in visitor.history()]
    assert "Let me check that for you" in texts
    assert not any("VIP" in json.dumps(f) for f in visitor.frames)
    assert not any("VIP" in t for t in texts)


def test_canned_reply_inserted_with_slash_shortcut(console: Page, tenant: Any, visitor: WsVisitor,
                                                   stack: Any) -> None:
    rest = agent_rest(stack, tenant)
    status, _ = rest("POST", "/v1/canned-replies", {"shortcut": "refund", "text": "Refunds take 3–5 working days."})
    assert status == 201
    rest("POST", "/v1/canned-replies", {"shortcut": "hello", "text": "Hi! Thanks for reaching out."})
    visitor.say("When do I get my money back?")
    signed_in(console, tenant)
    console.locator(".conv").first.click()
    box = console.locator(".composer-input")
    box.click()
    box.type("Sure. /re")
    popup = console.locator("#canned-popup")
    # Shortcuts starting with what was typed come first (a reply whose text matches comes after).
    expect(popup.locator(".canned-item").first).to_contain_text("/refund")
    expect(popup.locator(".canned-item.active")).to_contain_text("/refund")
    console.keyboard.press("Enter")
    expect(box).to_have_value("Sure. Refunds take 3–5 working days.")
    expect(popup).to_be_hidden()
    # Arrow keys choose, Tab inserts.
    box.fill("")
    box.type("/")
    expect(popup.locator(".canned-item")).to_have_count(2)
    console.keyboard.press("ArrowDown")
    console.keyboard.press("Tab")
    expect(box).to_have_value("Refunds take 3–5 working days.")
    console.keyboard.press("Enter")
    visitor.wait_for(lambda f: f["action"] == "message.new" and f["message"]["text"] == "Refunds take 3–5 working days.")


def test_canned_reply_manager_creates_edits_and_deletes(console: Page, tenant: Any, visitor: WsVisitor,
                                                        stack: Any) -> None:
    visitor.say("hi")
    signed_in(console, tenant)
    console.locator(".conv").first.click()
    console.click(".composer [data-action=canned]")
    dialog = console.locator("dialog.canned-dialog")
    dialog.locator("[data-action=add-canned]").click()
    dialog.locator("input[name=shortcut]").fill("ship")
    dialog.locator("textarea[name=text]").fill("We ship within two days.")
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator(".canned-row")).to_contain_text("/ship")
    dialog.locator(".canned-row .link-btn", has_text="Edit").click()
    dialog.locator("textarea[name=text]").fill("We ship within one day.")
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator(".canned-row")).to_contain_text("We ship within one day.")
    rest = agent_rest(stack, tenant)
    assert [r["text"] for r in rest("GET", "/v1/canned-replies")[1]["canned_replies"]] == ["We ship within one day."]
    dialog.locator(".canned-row .link-btn", has_text="Delete").click()
    expect(dialog.locator(".canned-row")).to_contain_text("Delete /ship?")
    dialog.locator("[data-action=confirm-delete]").click()
    expect(dialog.locator(".canned-row")).to_have_count(0)
    assert rest("GET", "/v1/canned-replies")[1]["canned_replies"] == []


def test_resolve_moves_conversation_out_of_open_list_and_reopen_brings_it_back(
        console: Page, tenant: Any, visitor: WsVisitor) -> None:
    visitor.say("Thanks, that's all")
    signed_in(console, tenant)
    console.locator(".conv").first.click()
    console.click("[data-action=resolve]")
    expect(console.locator(".tab[data-tab=all]")).to_have_attribute("aria-selected", "true")
    expect(console.locator(".conv")).to_have_count(0)
    expect(console.locator(".resolved-banner")).to_be_visible()
    expect(console.locator(".composer-input")).to_be_disabled()
    visitor.wait_for(lambda f: f["action"] == "conversation.updated" and f["conversation"]["status"] == "resolved")
    console.click(".tab[data-tab=resolved]")
    expect(console.locator(".conv")).to_have_count(1)
    console.click("[data-action=reopen]")
    console.click(".tab[data-tab=all]")
    expect(console.locator(".conv")).to_have_count(1)
    expect(console.locator(".composer-input")).to_be_enabled()


def test_image_attachment_round_trip(console: Page, tenant: Any, visitor: WsVisitor, tmp_path: Path) -> None:
    visitor.say("Can you send a photo?")
    signed_in(console, tenant)
    console.locator(".conv").first.click()
    image = tmp_path / "tea.png"
    image.write_bytes(PNG_1PX)
    console.set_input_files(".composer input[type=file]", str(image))
    got = visitor.wait_for(lambda f: f["action"] == "message.new" and f["message"].get("attachment"))
    attachment = got["message"]["attachment"]
    assert attachment["name"] == "tea.png" and attachment["content_type"] == "image/png"
    expect(console.locator(".msg-out img.thumb")).to_have_count(1)
    # After a reload the thumbnail comes from the server's download link.
    console.reload()
    console.locator(".conv").first.click()
    thumb = console.locator(".msg-out img.thumb")
    expect(thumb).to_have_attribute("src", re.compile(r"^https?://"))
    console.wait_for_function("() => document.querySelector('.msg-out img.thumb').naturalWidth === 1")


def test_reconnects_and_resyncs_the_open_conversation(console: Page, tenant: Any, visitor: WsVisitor,
                                                      stack: Any) -> None:
    visitor.say("first")
    signed_in(console, tenant)
    console.locator(".conv").first.click()
    expect(console.locator(".msg-in")).to_have_count(1)
    # The gateway drops every socket; the visitor comes back at once and writes while the
    # console is still reconnecting: the console shows it (live or by resync), exactly once.
    http_json("POST", f"{stack.url}/_local/drop-connections")
    expect(console.locator("#connection")).not_to_have_attribute("data-state", "online")
    back = WsVisitor(stack, tenant.site_key, token=visitor.token)
    back.conversation_id = visitor.conversation_id
    back.say("while you were away")
    expect(console.locator("#connection")).to_have_attribute("data-state", "online", timeout=15_000)
    expect(console.locator(".msg-in .msg-text")).to_have_text(["first", "while you were away"])
    console.fill(".composer-input", "back online")
    console.keyboard.press("Enter")
    expect(console.locator(".msg-out .msg-status")).to_have_text("Sent")
    back.wait_for(lambda f: f["action"] == "message.new" and f["message"]["text"] == "back online")
    back.close()


def test_chinese_ui_and_tablet_layout(chromium: Any, stack: Any, tenant: Any, visitor: WsVisitor,
                                      artifacts: Path) -> None:
    visitor.say("你好，请问有乌龙茶吗？")
    context = chromium.new_context(viewport={"width": 820, "height": 1180}, locale="zh-CN", has_touch=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(f"{stack.url}/console/")
        expect(page.locator(".login-form button[type=submit]")).to_have_text("登录")
        signed_in(page, tenant)
        expect(page.locator(".tab[data-tab=mine]")).to_have_text(re.compile("我的"))
        expect(page.locator(".visitor-panel")).to_be_hidden()
        page.locator(".conv").first.click()
        expect(page.locator(".msg-in")).to_contain_text("乌龙茶")
        page.click(".thread-head .details")
        expect(page.locator(".visitor-panel")).to_be_visible()
        expect(page.locator(".visitor-panel")).to_contain_text("新访客")
        page.screenshot(path=str(artifacts / "tablet-zh.png"))
        page.click(".panel-close")
        page.select_option(".topbar select.lang", "en")
        expect(page.locator("[data-action=resolve]")).to_have_text("Resolve")
    finally:
        context.close()


def test_phone_width_shows_one_pane_at_a_time(chromium: Any, stack: Any, tenant: Any, visitor: WsVisitor) -> None:
    visitor.say("hello from a phone-sized agent")
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(f"{stack.url}/console/")
        signed_in(page, tenant)
        page.locator(".conv").first.click()
        expect(page.locator(".inbox")).to_be_hidden()
        expect(page.locator(".msg-in")).to_be_visible()
        page.click(".thread-head .back")
        expect(page.locator(".inbox")).to_be_visible()
    finally:
        context.close()


def test_new_chats_and_messages_raise_a_sound_and_a_desktop_notification(chromium: Any, stack: Any,
                                                                          tenant: Any) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    # Record what the console asks the browser for: notifications (granted) and chimes.
    context.add_init_script("""(() => {
        window.__notes = []; window.__chimes = 0;
        window.Notification = class { constructor(title, options) { __notes.push([title, options.body]); }
            static get permission() { return 'granted'; } static requestPermission() { return Promise.resolve('granted'); }
            close() {} };
        const create = AudioContext.prototype.createOscillator;
        AudioContext.prototype.createOscillator = function () { __chimes++; return create.call(this); };
    })()""")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(f"{stack.url}/console/")
        signed_in(page, tenant)  # the sign-in click is the gesture that lets audio start
        first = WsVisitor(stack, tenant.site_key)
        first.say("Do you sell matcha?")
        page.wait_for_function("() => __notes.length >= 1")
        assert page.evaluate("__notes")[0] == ["New conversation", "Do you sell matcha?"]
        assert page.evaluate("__chimes") > 0
        # Looking at that conversation: its next message is not announced; another one's is.
        page.locator(".conv").first.click()
        expect(page.locator(".msg-in")).to_have_count(1)
        page.wait_for_timeout(1600)  # alerts for one conversation are spaced by 1.5 s
        notes = page.evaluate("__notes.length")
        first.say("Ceremonial grade, please")
        expect(page.locator(".msg-in")).to_have_count(2)
        second = WsVisitor(stack, tenant.site_key)
        second.say("Where is my parcel?")
        page.wait_for_function("n => __notes.length > n", arg=notes)
        page.wait_for_timeout(200)
        assert page.evaluate(f"__notes.slice({notes})") == [["New conversation", "Where is my parcel?"]]
        first.close()
        second.close()
    finally:
        context.close()


def test_visitor_panel_shows_a_verified_returning_visitor_and_earlier_conversations(
        console: Page, tenant: Any, stack: Any) -> None:
    import hashlib
    import hmac

    from chalicelib.adapters.repositories import DynamoTenants
    from chalicelib.adapters.tables import ConversationItem
    from chalicelib.domain.ids import new_id

    secret = DynamoTenants().get(tenant.tenant_id).identity_secret
    first = WsVisitor(stack, tenant.site_key)
    first._send({"action": "identify", "name": "Mei Lin", "email": "mei@example.com", "attributes": {"plan": "gold"},
                 "user_hash": hmac.new(secret.encode(), b"mei@example.com", hashlib.sha256).hexdigest()})
    # An earlier, resolved conversation of this visitor (a visitor writing again reopens their
    # one conversation, so history from elsewhere is stored directly here).
    earlier_id, at = new_id("c"), int(time.time() * 1000) - 86_400_000
    ConversationItem(tenant.tenant_id, earlier_id, visitor_id=first.visitor_id,
                     visitor_key=f"{tenant.tenant_id}#{first.visitor_id}", status="resolved",
                     status_key=f"{tenant.tenant_id}#resolved", created_at=at, updated_at=at, last_seq=1,
                     last_message_preview="Last month's question").save()
    first.close()
    # The same visitor comes back another day: a new visit with the stored token.
    status, body = http_json("POST", f"{stack.url}/v1/visitor/sessions", {"site_key": tenant.site_key,
                                                                          "token": first.token})
    assert status == 200 and body["visitor_id"] == first.visitor_id, body
    returning = WsVisitor(stack, tenant.site_key, token=body["token"])
    returning.say("Back again with another question")

    signed_in(console, tenant)
    console.locator(".conv", has_text="Back again").click()
    panel = console.locator(".visitor-panel")
    expect(panel.locator(".panel-name")).to_have_text("Mei Lin")
    expect(panel).to_contain_text("mei@example.com")
    expect(panel.locator(".pill-verified")).to_have_text("Verified")
    expect(panel.locator(".pill-returning")).to_contain_text("Returning")
    expect(panel).to_contain_text("gold")
    expect(panel.locator(".earlier li")).to_have_count(1)
    expect(panel.locator(".earlier li")).to_contain_text("Last month's question")
    expect(panel.locator(".earlier li")).to_contain_text("Resolved")
    returning.close()


def test_a_click_on_a_row_survives_a_live_update_between_press_and_release(
        console: Page, tenant: Any, visitor: WsVisitor) -> None:
    visitor.say("First question")
    signed_in(console, tenant)
    expect(console.locator(".tab[data-tab=mine] .tab-count")).to_have_text("1")  # the dispatcher gave it to me
    row = console.locator(".conv").first
    expect(row).to_contain_text("First question")
    box = None
    deadline = time.monotonic() + 5
    while box is None and time.monotonic() < deadline:  # a live frame may redraw the row as it is measured
        box = row.bounding_box(timeout=5000)
    assert box is not None
    console.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    console.mouse.down()
    visitor.say("Second question")  # a live update arrives while the button is held
    console.wait_for_timeout(1500)
    console.mouse.up()
    expect(console.locator("[data-action=resolve]")).to_be_visible()  # the click opened the conversation
    expect(console.locator(".conv").first).to_contain_text("Second question")  # and the update was drawn


def test_a_dispatch_round_that_assigns_several_moves_them_all_to_mine(console: Page, tenant: Any,
                                                                       stack: Any) -> None:
    signed_in(console, tenant)
    set_presence(console, stack, tenant, "away")
    visitors = [WsVisitor(stack, tenant.site_key) for _ in range(3)]  # the agent's capacity is 3
    try:
        for i, visitor in enumerate(visitors):
            visitor.say(f"question number {i + 1}")
        expect(console.locator(".tab[data-tab=unassigned] .tab-count")).to_have_text("3")
        with AgentSocket(stack, agent_token(stack, tenant.agent_email, tenant.agent_password)) as other_tab:
            since = len(other_tab.frames)
            set_presence(console, stack, tenant, "online")  # one dispatch round assigns all three
            batch = other_tab.wait_for(lambda f: f["action"] == "conversations.updated", since=since)
        assert {c["conversation_id"] for c in batch["conversations"]} == {v.conversation_id for v in visitors}
        expect(console.locator(".tab[data-tab=unassigned] .tab-count")).to_have_count(0)
        expect(console.locator(".tab[data-tab=mine] .tab-count")).to_have_text("3")
        for visitor in visitors:  # each visitor still hears of its own assignment
            visitor.wait_for(lambda f: f["action"] == "queue.status" and f["state"] == "assigned")
    finally:
        for visitor in visitors:
            visitor.close()


def test_conversations_started_while_the_dispatcher_was_busy_arrive_together(console: Page, tenant: Any,
                                                                             stack: Any) -> None:
    """Three visitors start while another dispatcher holds the tenant's lease: their
    dispatchers leave the news on it, and the next round tells the agents of all three in
    one `conversations.new`, each with its first message; the workbench lists all three."""
    from chalicelib.adapters.repositories import DynamoRouting
    from chalicelib.adapters.tables import SettingsItem

    signed_in(console, tenant)
    set_presence(console, stack, tenant, "away")
    assert DynamoRouting().acquire_lease(tenant.tenant_id, "busy-elsewhere", int(time.time() * 1000), 60_000).taken
    visitors = [WsVisitor(stack, tenant.site_key) for _ in range(3)]
    try:
        with AgentSocket(stack, agent_token(stack, tenant.agent_email, tenant.agent_password)) as other_tab:
            for i, visitor in enumerate(visitors):
                visitor.say(f"started while busy {i + 1}")
            time.sleep(0.5)
            assert not [f for f in other_tab.frames if f["action"].startswith("conversation")]  # not told yet
            expect(console.locator(".conv")).to_have_count(0)
            # The busy dispatcher dies: its lease expires, and the next event's dispatcher takes over.
            SettingsItem(tenant.tenant_id, DynamoRouting.LEASE).update(actions=[SettingsItem.lease_until.set(0)])
            set_presence(console, stack, tenant, "online")
            news = other_tab.wait_for(lambda f: f["action"] == "conversations.new")
        items = {i["conversation"]["conversation_id"]: i["message"]["text"] for i in news["conversations"]}
        assert items == {v.conversation_id: f"started while busy {n + 1}" for n, v in enumerate(visitors)}
        expect(console.locator(".tab[data-tab=all] .tab-count")).to_have_text("3")
        console.locator(".conv", has_text="started while busy 2").click()
        expect(console.locator(".log .msg-in")).to_have_count(1)
        expect(console.locator(".log .msg-in")).to_contain_text("started while busy 2")
    finally:
        for visitor in visitors:
            visitor.close()
