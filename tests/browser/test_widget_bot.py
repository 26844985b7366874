"""The bot and the knowledge base in the widget (headless Chromium): "did you mean"
suggestions while typing, the FAQ browser, the answer's "did this help?" buttons and the
"talk to a person" button."""
from __future__ import annotations

import pytest

from tests.kb_eval import load_articles

from .conftest import agent_token, http_json

pytestmark = pytest.mark.browser


@pytest.fixture
def shop(stack, tenant):
    token = agent_token(stack, tenant.agent_email, tenant.agent_password)
    articles = [{"id": a["id"], "title": a["title"], "body": a["body"], "locale": a["locale"],
                 "category": a["category"], "phrasings": a["phrasings"], "not_answered": a["not_answered"],
                 "status": "published"} for a in load_articles() if a["locale"] == "en"]
    status, body = http_json("POST", f"{stack.url}/v1/kb/import", {"format": "json", "articles": articles}, token)
    assert status == 200, body
    return tenant


def test_suggestions_faq_answer_and_feedback(shop, visitor, artifacts):
    visitor.goto()
    frame = visitor.open()
    frame.type("#input", "how long does a refund take", delay=20)
    frame.wait_for_selector(".kb-suggest:not([hidden]) .kb-suggestion")
    titles = frame.eval_on_selector_all(".kb-suggest .kb-suggestion", "bs => bs.map(b => b.textContent)")
    assert titles[0] == "When will I get my refund?" and len(titles) <= 3
    visitor.shot(artifacts, "suggestions")
    frame.click(".kb-suggestion >> nth=0")  # the article opens in the panel, as text
    frame.wait_for_selector(".kb-article h2")
    assert "5 working days" in frame.inner_text(".kb-article")
    assert frame.eval_on_selector(".kb-article", "a => a.querySelector('strong, script') === null")
    frame.click(".kb-back")
    frame.click(".kb-faq")  # the FAQ: published articles by category
    frame.wait_for_selector(".kb-faq-list h3")
    assert "Track your order" in frame.inner_text(".kb-faq-list")
    visitor.shot(artifacts, "faq")
    frame.click(".kb-back")

    visitor.send("how long does a refund take")
    frame.wait_for_selector("li.m.them .kb-actions .kb-chip")
    answer = [b for b in visitor.bubbles() if not b["mine"]][-1]
    assert answer["text"].startswith("When will I get my refund?") and "**" not in answer["text"]
    visitor.shot(artifacts, "answer")
    frame.click("li.m.them .kb-chip >> text=Yes")
    visitor.wait_for_text("Glad I could help! Anything else?")
    assert not visitor.errors


def test_talk_to_a_person_button_hands_over(shop, visitor, artifacts):
    visitor.goto()
    frame = visitor.open()
    visitor.send("where is my parcel")
    frame.wait_for_selector("li.m.them .kb-actions .kb-chip")
    frame.click("li.m.them .kb-chip >> text=Talk to a person")
    visitor.wait_for_text("I'm bringing in a member of our team — they will see our conversation so far.")
    visitor.shot(artifacts, "handoff")
    assert not visitor.errors


def test_a_hand_over_offers_articles_to_read_while_waiting(shop, visitor, artifacts):
    """A question its article does not answer (where the next batch is made) is handed over; the closest
    articles come as buttons under the hand-over message, one opens in the panel (nothing is
    sent), and the visitor can say it answered the question."""
    visitor.goto()
    frame = visitor.open()
    visitor.send("sold out green hoodie, will the next batch be made in the same factory")
    frame.wait_for_selector("li.m.them .kb-actions .kb-read")
    handoff = [b for b in visitor.bubbles() if not b["mine"]][-1]
    assert handoff["text"].startswith("I'm bringing in a member of our team")
    chips = frame.eval_on_selector_all("li.m.them .kb-read", "bs => bs.map(b => b.textContent)")
    assert "Out of stock items and restock alerts" in chips and len(chips) <= 3
    # No "talk to a person" here: the conversation is already handed over.
    assert frame.eval_on_selector_all("li.m.them .kb-chip", "bs => bs.map(b => b.textContent)") == chips
    visitor.shot(artifacts, "handoff-reading")
    sent = len(visitor.bubbles())
    frame.click("li.m.them .kb-read >> text=Out of stock items and restock alerts")
    frame.wait_for_selector(".kb-article h2")
    assert frame.inner_text(".kb-article h2") == "Out of stock items and restock alerts"
    frame.click(".kb-back")
    assert len(visitor.bubbles()) == sent
    # It did answer the question: one click says so (the bot thanks; agents get a note).
    frame.click("li.m.them .kb-read >> text=Out of stock items and restock alerts")
    frame.click(".kb-article .kb-solved")
    visitor.wait_for_text("Glad that answered it! If you still need a person, just write here.")
    assert frame.eval_on_selector_all("li.m.them .kb-read", "bs => bs.every(b => b.disabled)")
    visitor.shot(artifacts, "solved-while-waiting")
    assert not visitor.errors


@pytest.fixture
def shop_in_both_languages(stack, tenant):
    token = agent_token(stack, tenant.agent_email, tenant.agent_password)
    for locale in ("en", "zh"):  # a request each: the API takes at most 64 KB at once
        articles = [{"id": a["id"], "title": a["title"], "body": a["body"], "locale": a["locale"],
                     "category": a["category"], "phrasings": a["phrasings"], "status": "published"}
                    for a in load_articles() if a["locale"] == locale]
        status, body = http_json("POST", f"{stack.url}/v1/kb/import", {"format": "json", "articles": articles}, token)
        assert status == 200, body
    return tenant


def test_buttons_speak_the_answers_language_and_a_long_draft_still_gets_suggestions(
        shop_in_both_languages, visitor, artifacts):
    """On an English page a question asked in Chinese is answered in Chinese, and the buttons
    under it are Chinese too (the prompt carries the message's language). A draft longer than
    the search reads (500 characters) is matched by its start rather than refused."""
    searched: list[int] = []
    visitor.page.on("response", lambda r: searched.append(r.status) if "/kb/public/search" in r.url else None)
    visitor.goto()
    frame = visitor.open()
    frame.fill("#input", "how long does a refund take " + "and also I was wondering about this " * 20)
    frame.type("#input", "?")  # an input event, as typing gives
    frame.wait_for_selector(".kb-suggest:not([hidden]) .kb-suggestion")
    assert frame.inner_text(".kb-suggest .kb-suggestion >> nth=0") == "When will I get my refund?"
    assert searched and all(status == 200 for status in searched), searched
    frame.fill("#input", "")

    visitor.send("退款多久到账")
    frame.wait_for_selector("li.m.them .kb-actions .kb-chip")
    answer = [b for b in visitor.bubbles() if not b["mine"]][-1]
    assert answer["text"].endswith("这个回答对您有帮助吗？")
    chips = frame.eval_on_selector_all("li.m.them .kb-actions .kb-chip", "bs => bs.map(b => b.textContent)")
    assert chips == ["有帮助", "没帮助", "转人工"], chips
    visitor.shot(artifacts, "chinese-answer-on-an-english-page")
    assert not visitor.errors


def test_once_the_bot_writes_again_the_buttons_under_its_earlier_answer_are_disabled(shop, visitor, artifacts):
    visitor.goto()
    frame = visitor.open()
    visitor.send("where is my parcel")
    first = frame.locator("li.m.them .kb-actions").first
    first.locator(".kb-chip").first.wait_for()
    assert first.evaluate("box => [...box.querySelectorAll('button')].every(b => !b.disabled)")
    visitor.send("I want to talk to a human")  # handed over: "did this help?" would do nothing now
    visitor.wait_for_text("I'm bringing in a member of our team — they will see our conversation so far.")
    frame.wait_for_function(
        "() => [...document.querySelector('li.m.them .kb-actions').querySelectorAll('button')].every(b => b.disabled)")
    visitor.shot(artifacts, "earlier-buttons-disabled")
    assert not visitor.errors
