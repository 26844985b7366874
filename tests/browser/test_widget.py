"""The visitor widget in headless Chromium on the demo site: launcher, chat both ways,
persistence across reloads and pages, keyboard use, typing, receipts, unread, page views."""
from __future__ import annotations

import re

import pytest

from .conftest import DEMO_SITE_KEY, Visitor, agent_token, demo_context, history, http_json

pytestmark = pytest.mark.browser


def new_message(frame: dict) -> bool:
    """A message reaching the agent: `message.new`, or the first one inside `conversation.new`."""
    return frame["action"] in ("message.new", "conversation.new") and "message" in frame


def start_chat(visitor, agent, text: str, page: str = ""):
    """Open the panel on a demo page, send `text`; return the panel frame and the conversation id."""
    visitor.goto(page)
    frame = visitor.open()
    visitor.send(text)
    visitor.wait_for_text(text)
    return frame, agent.wait_for(new_message)["message"]["conversation_id"]


def test_launcher_appears_and_opens_the_panel(visitor, artifacts):
    requested: list[str] = []
    visitor.page.on("request", lambda request: requested.append(request.url))
    visitor.goto()
    visitor.page.wait_for_function("performance.getEntriesByName('kefu:launcher').length > 0")
    assert visitor.element_at_launcher() == "kefu-widget"
    # Before the chat is opened the host page downloads the loader and nothing else of the widget.
    widget_files = {re.sub(r"[?#].*", "", url.split("/widget/")[1]) for url in requested if "/widget/" in url}
    assert widget_files == {"widget.js"}
    assert visitor.page.frame(url=re.compile(r"/widget/frame\.html")) is None
    visitor.shot(artifacts, "closed")

    frame = visitor.open()
    box = visitor.panel_box(frame)
    assert box and box["width"] >= 320 and box["height"] >= 400
    assert frame.get_attribute("#log", "role") == "log"
    assert frame.get_attribute("#log", "aria-live") == "polite"
    assert frame.eval_on_selector("#input", "el => el.labels[0].textContent") == "Message"
    assert frame.eval_on_selector("#intro", "el => el.textContent").startswith("Hi there")
    frame.click("#emoji-button")  # the emoji picker inserts at the caret and gives focus back
    frame.click("#emoji button >> nth=12")
    assert frame.eval_on_selector("#input", "el => el.value") == "👍"
    frame.wait_for_selector("#input:focus")
    visitor.shot(artifacts, "open")
    assert not visitor.errors


def test_keyboard_only_open_type_and_escape(visitor, agent, artifacts):
    visitor.goto("pricing.html")
    page = visitor.page
    # The launcher is the last stop in the tab order: Shift+Tab from the top of the page reaches it.
    page.focus("body")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.localName") == "kefu-widget"
    page.keyboard.press("Enter")
    frame = visitor.frame()
    frame.wait_for_selector("#input:focus")
    frame.wait_for_selector('#status[data-state="online"]')
    page.keyboard.type("typed with the keyboard only")
    page.keyboard.press("Enter")
    visitor.wait_for_text("typed with the keyboard only")
    assert agent.wait_for(new_message)["message"]["text"] == "typed with the keyboard only"
    visitor.shot(artifacts, "keyboard-open")
    page.keyboard.press("Escape")
    # Closed, and focus is back on the launcher.
    page.wait_for_function("document.activeElement && document.activeElement.localName === 'kefu-widget'")
    panel = frame.frame_element()
    panel.wait_for_element_state("hidden")  # after the closing transition
    page.keyboard.press("Enter")  # and it opens again from there
    frame.wait_for_selector("#input:focus")


def test_a_paste_past_the_limit_is_cut_with_a_notice_and_what_is_kept_arrives_whole(visitor, agent, artifacts):
    visitor.goto()
    frame = visitor.open()
    text = "".join(f"line {i:04d} of a very long complaint. " for i in range(200))  # 6,400 characters
    visitor.page.keyboard.insert_text(text)  # as a paste: one input of the whole text
    banner = frame.locator("#banner")
    banner.get_by_text("A message can be at most 4,000 characters").wait_for()
    assert frame.eval_on_selector("#input", "i => i.value.length") == 4000
    visitor.shot(artifacts, "too-long")
    visitor.page.keyboard.press("Enter")
    assert agent.wait_for(new_message)["message"]["text"] == text[:4000].strip()


def test_visitor_and_agent_chat_both_ways(stack, visitor, agent, tenant, artifacts):
    visitor.goto()
    frame = visitor.open()
    visitor.send("Hello, is the oolong in stock?")
    visitor.wait_for_text("Hello, is the oolong in stock?")
    created = agent.wait_for(lambda f: f["action"] == "conversation.new")
    conversation_id = created["conversation"]["conversation_id"]
    seen = agent.wait_for(new_message)
    assert seen["message"]["text"] == "Hello, is the oolong in stock?"
    assert seen["message"]["sender_role"] == "visitor"

    agent.reply(conversation_id, "Yes! We have 40 tins. See https://example.com/oolong for details.")
    visitor.wait_for_text("Yes! We have 40 tins. See https://example.com/oolong for details.")
    link = frame.wait_for_selector("#log li.them .bubble a")
    assert link.get_attribute("href") == "https://example.com/oolong"
    assert link.get_attribute("target") == "_blank"
    assert set(link.get_attribute("rel").split()) >= {"noopener", "noreferrer"}
    assert frame.eval_on_selector("#log li.them .who-name", "el => el.textContent") == tenant.agent_name
    visitor.shot(artifacts, "chat")

    token = agent_token(stack, tenant.agent_email, tenant.agent_password)
    texts = [(m["sender_role"], m["text"]) for m in history(stack, token, conversation_id)]
    assert texts == [("visitor", "Hello, is the oolong in stock?"),
                     ("agent", "Yes! We have 40 tins. See https://example.com/oolong for details.")]


def test_conversation_survives_reload_and_navigation(visitor, agent, artifacts):
    visitor.goto("index.html")
    visitor.open()
    visitor.send("first question")
    visitor.wait_for_text("first question")
    conversation_id = agent.wait_for(new_message)["message"]["conversation_id"]
    agent.reply(conversation_id, "first answer")
    visitor.wait_for_text("first answer")

    visitor.page.reload()
    visitor.wait_for_text("first answer")  # the panel reopened by itself with the history
    assert [b["text"] for b in visitor.bubbles()] == ["first question", "first answer"]

    visitor.page.goto(visitor.page.url.replace("index.html", "pricing.html"))
    visitor.wait_for_text("first answer")
    visitor.frame().wait_for_selector('#status[data-state="online"]')
    visitor.send("asked from the pricing page")
    visitor.wait_for_text("asked from the pricing page")
    frame = agent.wait_for(lambda f: new_message(f) and f["message"]["text"] == "asked from the pricing page")
    assert frame["conversation_id"] == conversation_id  # the same conversation, not a new one
    assert [b["text"] for b in visitor.bubbles()] == ["first question", "first answer", "asked from the pricing page"]
    visitor.shot(artifacts, "after-navigation")

    # Closed state survives navigation too.
    visitor.frame().click("#close")
    # The close reaches the host page by postMessage; navigate once it has been kept (a
    # navigation in the same instant could beat it, as a full run under load saw once).
    visitor.page.wait_for_function("() => Object.keys(sessionStorage).some("
                                   "k => k.startsWith('kefu:') && k.endsWith(':open') && sessionStorage[k] === 'false')")
    visitor.page.goto(visitor.page.url.replace("pricing.html", "checkout.html"))
    visitor.page.wait_for_timeout(300)
    assert visitor.page.frame(url=re.compile(r"/widget/frame\.html")) is None
    assert visitor.element_at_launcher() == "kefu-widget"


def test_typing_draft_and_read_receipts(visitor, agent, artifacts):
    frame, conversation_id = start_chat(visitor, agent, "hi")

    # The visitor's draft streams to the agent while typing (throttled), before it is sent.
    mark = len(agent.frames)
    frame.type("#input", "Where is my order #1234", delay=15)
    typing = agent.wait_for(lambda f: f["action"] == "typing" and f.get("draft") == "Where is my order #1234",
                            since=mark)
    assert typing["role"] == "visitor"
    drafts = [f for f in agent.frames[mark:] if f["action"] == "typing" and f.get("state") == "start"]
    assert 1 <= len(drafts) <= 6  # throttled: 23 keystrokes, a handful of frames

    # The agent typing shows an indicator in the widget.
    agent.send({"action": "typing", "conversation_id": conversation_id, "state": "start"})
    frame.wait_for_selector("#typing:not([hidden])")
    visitor.shot(artifacts, "agent-typing")
    agent.send({"action": "typing", "conversation_id": conversation_id, "state": "stop"})
    frame.wait_for_selector("#typing", state="hidden")

    # The visitor has the panel open, so the agent learns the visitor read its message...
    agent.reply(conversation_id, "Let me check.")
    agent.wait_for(lambda f: f["action"] == "read" and f["role"] == "visitor" and f["seq"] >= 2)
    # ...and "Seen" appears under the visitor's last message once the agent has read it.
    assert frame.query_selector("#log li.seen") is None
    agent.send({"action": "read", "conversation_id": conversation_id, "seq": 2})
    frame.wait_for_selector("#log li.seen")
    assert frame.eval_on_selector("#log li.seen", "el => el.previousElementSibling.classList.contains('me')")
    visitor.shot(artifacts, "seen")


def test_unread_badge_sound_and_events_while_closed(visitor, agent, artifacts):
    visitor.page.add_init_script("""(() => { window.chimes = 0;
        const create = AudioContext.prototype.createOscillator;
        AudioContext.prototype.createOscillator = function () { chimes++; return create.call(this); }; })()""")
    visitor.goto()
    visitor.page.evaluate("""() => { window.events = [];
        for (const name of ['message', 'open', 'close', 'unread'])
            Kefu.on(name, (payload) => window.events.push([name, payload])); }""")
    frame = visitor.open()
    visitor.send("hello")
    visitor.wait_for_text("hello")
    conversation_id = agent.wait_for(new_message)["message"]["conversation_id"]
    frame.click("#close")
    agent.reply(conversation_id, "Are you still there?")
    visitor.page.wait_for_function("window.events.some(([name, n]) => name === 'unread' && n === 1)")
    events = visitor.page.evaluate("window.events")
    names = [name for name, _ in events]
    assert names[:2] == ["open", "close"]
    message = next(payload for name, payload in events if name == "message")
    assert message["text"] == "Are you still there?" and message["sender_role"] == "agent"
    assert visitor.page.evaluate("chimes") >= 1  # a chime for a message that came while closed
    visitor.shot(artifacts, "unread-badge")
    # Reopening marks it read: the badge clears and the agent gets the receipt.
    visitor.page.evaluate("Kefu.open()")
    visitor.page.wait_for_function("window.events.some(([name, n]) => name === 'unread' && n === 0)")
    agent.wait_for(lambda f: f["action"] == "read" and f["role"] == "visitor" and f["seq"] == 2)


def test_page_views_reach_the_visitor_profile(stack, visitor, tenant):
    visitor.goto("product.html?utm_source=newsletter&utm_medium=email&utm_campaign=spring")
    visitor.page.click("[data-tab=brewing]")  # a single-page-app navigation (history.pushState)
    visitor.page.evaluate("Kefu.identify({name: 'Mei Lin', email: 'mei@example.com', attributes: {plan: 'gold'}})")
    visitor_id = visitor.session()["visitor_id"]
    token = agent_token(stack, tenant.agent_email, tenant.agent_password)
    profile: dict = {}
    for _ in range(50):
        status, profile = http_json("GET", f"{stack.url}/v1/visitors/{visitor_id}", token=token)
        assert status == 200, profile
        if len(profile.get("trail") or []) >= 2 and profile.get("name"):
            break
        visitor.page.wait_for_timeout(100)
    urls = [page["url"] for page in profile["trail"]]
    assert urls[-1].endswith("/demo/product.html?tab=brewing")
    assert urls[-2].endswith("/demo/product.html?utm_source=newsletter&utm_medium=email&utm_campaign=spring")
    assert profile["current_page"]["title"] == "Tie Guan Yin — brewing — Teahouse"
    assert profile["utm"]["source"] == "newsletter" and profile["utm"]["campaign"] == "spring"
    assert profile["language"] and profile["screen"]
    assert profile["name"] == "Mei Lin" and profile["email"] == "mei@example.com"
    assert profile["attributes"] == {"plan": "gold"}


def test_chinese_ui_from_browser_language_and_set_locale(stack, chromium, tenant, artifacts):
    context = demo_context(chromium, tenant.site_key, locale="zh-CN", viewport={"width": 1280, "height": 800})
    try:
        person = Visitor(stack, context, tenant.site_key).goto()
        frame = person.open()
        assert frame.eval_on_selector("#input", "el => el.placeholder") == "输入消息…"
        assert frame.eval_on_selector("#status-text", "el => el.textContent") == "在线"
        person.shot(artifacts, "zh")
        person.page.evaluate("Kefu.setLocale('en')")
        frame.wait_for_function("document.getElementById('input').placeholder === 'Write a message…'")
    finally:
        context.close()


def test_mobile_width_opens_full_screen(stack, chromium, tenant, artifacts):
    context = demo_context(chromium, tenant.site_key, viewport={"width": 375, "height": 700}, has_touch=True)
    try:
        person = Visitor(stack, context, tenant.site_key).goto()
        frame = person.open()
        box = person.panel_box(frame)
        assert box == {"x": 0, "y": 0, "width": 375, "height": 700}
        person.shot(artifacts, "mobile")
        frame.click("#close")
        person.page.wait_for_timeout(250)
        assert person.element_at_launcher() == "kefu-widget"
    finally:
        context.close()


def test_queued_calls_before_load_and_demo_site_key(stack, chromium, demo_tenant):
    """The demo tenant's own key works untouched, and calls queued before the script loads run."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.add_init_script("window.Kefu = {q: [['open']]};")
        page.goto(f"{stack.url}/demo/")
        frame = Visitor(stack, context, DEMO_SITE_KEY)
        frame.page = page
        panel = frame.frame()
        panel.wait_for_selector('#status[data-state="online"]')
        assert page.evaluate("typeof Kefu.open === 'function' && Kefu.version === '1'")
    finally:
        context.close()


def test_messages_typed_offline_are_queued_and_sent_once_in_order(stack, visitor, tenant, artifacts):
    visitor.goto()
    frame = visitor.open()
    visitor.send("before the cut")
    visitor.wait_for_text("before the cut")

    visitor.context.set_offline(True)
    frame.wait_for_selector('#status[data-state="offline"]')
    frame.wait_for_selector("#banner:not([hidden])")
    typed = ["typed offline 1", "typed offline 2", "typed offline 3"]
    for text in typed:
        visitor.send(text)
    visitor.page.wait_for_timeout(300)
    assert [(b["text"], b["pending"]) for b in visitor.bubbles()] == (
        [("before the cut", False)] + [(text, True) for text in typed])
    visitor.shot(artifacts, "offline-queued")

    # A reload while offline keeps the queue (it lives in localStorage) ...
    visitor.context.set_offline(False)
    visitor.page.reload()
    visitor.wait_for_text("typed offline 3")
    frame = visitor.frame()
    frame.wait_for_selector('#status[data-state="online"]')
    for text in typed:
        visitor.wait_for_text(text)  # ... and each is acknowledged once back online
    assert [(b["text"], b["pending"]) for b in visitor.bubbles()] == [(t, False) for t in ["before the cut", *typed]]

    conversation_id = visitor.conversation_id()
    token = agent_token(stack, tenant.agent_email, tenant.agent_password)
    stored = [m["text"] for m in history(stack, token, conversation_id)]
    assert stored == ["before the cut", *typed]  # each once, in the order typed
    visitor.shot(artifacts, "back-online")


def test_gateway_cut_loses_nothing_typed_meanwhile(stack, visitor, tenant, artifacts):
    # While `cut` is set the browser's new sockets are refused, as a gateway that is down would.
    cut = {"on": False}
    visitor.context.route_web_socket(re.compile(r"/ws\?"), lambda ws: ws.close() if cut["on"]
                                     else ws.connect_to_server())
    visitor.goto()
    frame = visitor.open()
    visitor.send("before the gateway cut")
    visitor.wait_for_text("before the gateway cut")
    cut["on"] = True
    http_json("POST", f"{stack.url}/_local/drop-connections")  # every open socket closed abruptly
    frame.wait_for_selector('#status:not([data-state="online"])')
    typed = [f"during the cut {i}" for i in range(1, 5)]
    for text in typed:
        visitor.send(text)
    visitor.page.wait_for_timeout(600)  # reconnect attempts (with backoff) are refused meanwhile
    assert [b["pending"] for b in visitor.bubbles()] == [False, True, True, True, True]
    visitor.shot(artifacts, "cut")
    cut["on"] = False
    for text in typed:
        visitor.wait_for_text(text, timeout=15)
    frame.wait_for_selector('#status[data-state="online"]')
    token = agent_token(stack, tenant.agent_email, tenant.agent_password)
    assert [m["text"] for m in history(stack, token, visitor.conversation_id())] == ["before the gateway cut", *typed]
    assert [b["text"] for b in visitor.bubbles()] == ["before the gateway cut", *typed]


def test_hostile_host_css_does_not_break_the_widget(visitor, agent, artifacts):
    visitor.goto("hostile.html")
    visitor.page.wait_for_function("performance.getEntriesByName('kefu:launcher').length > 0")
    assert visitor.element_at_launcher() == "kefu-widget"
    visitor.shot(artifacts, "hostile-closed")
    # The panel slides in for 0.16 s; with reduced motion (which the widget honours) it is
    # in place at once, so its box is measured where it ends, however fast the machine.
    visitor.page.emulate_media(reduced_motion="reduce")
    frame = visitor.open()
    box = frame.frame_element().bounding_box()
    size = visitor.page.viewport_size
    assert box and box["width"] == 380 and box["height"] >= 400
    assert box["x"] + box["width"] == size["width"] - 20  # where it belongs: bottom right
    assert frame.eval_on_selector("#input", "el => getComputedStyle(el).display") != "none"
    visitor.send("hello from a hostile page")
    visitor.wait_for_text("hello from a hostile page")
    assert agent.wait_for(new_message)["message"]["text"] == "hello from a hostile page"
    visitor.shot(artifacts, "hostile-open")
    # Closed again, the invisible panel does not swallow clicks meant for the page.
    frame.click("#close")
    visitor.page.wait_for_timeout(300)
    middle = visitor.page.evaluate(f"document.elementFromPoint({box['x'] + 190}, {box['y'] + 200})?.localName")
    assert middle != "kefu-widget"
    assert not visitor.errors


def test_identify_with_a_signed_user_hash_marks_the_visitor_verified(stack, visitor, tenant):
    import hashlib
    import hmac

    from chalicelib.adapters.repositories import DynamoTenants

    secret = DynamoTenants().get(tenant.tenant_id).identity_secret
    good = hmac.new(secret.encode(), b"mei@example.com", hashlib.sha256).hexdigest()
    visitor.goto()
    visitor.page.evaluate("hash => Kefu.identify({name: 'Mei', email: 'mei@example.com', user_hash: hash})", good)
    visitor_id = visitor.session()["visitor_id"]
    token = agent_token(stack, tenant.agent_email, tenant.agent_password)
    profile: dict = {}
    for _ in range(50):
        profile = http_json("GET", f"{stack.url}/v1/visitors/{visitor_id}", token=token)[1]
        if profile.get("email"):
            break
        visitor.page.wait_for_timeout(100)
    assert profile["email"] == "mei@example.com" and profile["verified"] is True

    # A wrong hash: the details are kept, but the visitor is not verified.
    visitor.page.evaluate("Kefu.identify({name: 'Mallory', email: 'ceo@example.com', user_hash: 'ab'.repeat(32)})")
    for _ in range(50):
        profile = http_json("GET", f"{stack.url}/v1/visitors/{visitor_id}", token=token)[1]
        if profile.get("email") == "ceo@example.com":
            break
        visitor.page.wait_for_timeout(100)
    assert profile["email"] == "ceo@example.com" and profile["verified"] is False


def test_resolved_conversation_reopens_when_the_visitor_writes_again(visitor, agent, artifacts):
    frame, conversation_id = start_chat(visitor, agent, "is my refund done?")
    agent.reply(conversation_id, "Yes, done.")
    visitor.wait_for_text("Yes, done.")
    agent.send({"action": "conversation.resolve", "conversation_id": conversation_id})
    frame.wait_for_selector("#log li.divider")
    mark = len(agent.frames)
    visitor.send("one more thing")
    visitor.wait_for_text("one more thing")
    again = agent.wait_for(lambda f: new_message(f) and f["message"]["text"] == "one more thing", since=mark)
    assert again["conversation_id"] == conversation_id  # the server reopens the same conversation
    visitor.page.wait_for_timeout(500)
    assert [b["text"] for b in visitor.bubbles()] == ["is my refund done?", "Yes, done.", "one more thing"]
    visitor.shot(artifacts, "reopened")
