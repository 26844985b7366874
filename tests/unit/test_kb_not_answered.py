"""What an article does not answer: questions on its subject, written with the article, that
the bot hands over rather than answering with it (kb.search.Document.not_answered)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from chalicelib.kb.decide import Thresholds, decide
from chalicelib.kb.search import SEMANTIC, Index
from tests.kb_eval import load_index_written_background


@pytest.fixture(scope="module")
def shop() -> Index:
    # The reach was chosen, and these examples picked, with the written background only; what
    # visitors asked (session 19) now hands some of them over before the lines do.
    return load_index_written_background()


def _without_lines(shop: Index) -> Index:
    return Index([dataclasses.replace(d, not_answered=()) for d in shop.documents.values()], encoders=shop.encoders)


def test_a_question_near_what_the_article_says_it_does_not_answer_is_handed_over(shop: Index) -> None:
    # The gift card article says how to buy and spend a card, not whether it can be topped up:
    # one of its lines is "can I top up my gift card?".
    asked = "can i top up my gift card"
    assert "can I top up my gift card?" in shop.documents["gift-card.en"].not_answered
    decision = decide(asked, shop)
    assert decision.kind == "handoff" and decision.reason == "no_answer"
    plain = decide(asked, _without_lines(shop))
    assert plain.kind == "answer" and plain.hits[0].doc_id == "gift-card.en"
    # Chinese too: 礼品卡能充值吗 is a line of the Chinese article.
    with_lines, without = decide("礼品卡可以充值吗", shop), decide("礼品卡可以充值吗", _without_lines(shop))
    assert with_lines.hits[0].doc_id == without.hits[0].doc_id == "gift-card.zh"
    assert with_lines.hits[0].confidence < without.hits[0].confidence - 0.15


def test_what_the_article_answers_is_answered_as_before(shop: Index) -> None:
    plain = _without_lines(shop)
    for asked, article in (("how long does delivery take", "shipping-time.en"),
                           ("how do i check my gift card balance", "gift-card.en"), ("退款多久到账", "refund-time.zh")):
        decision, before = decide(asked, shop), decide(asked, plain)
        assert decision.hits[0].doc_id == before.hits[0].doc_id == article
        assert decision.kind == before.kind and decision.hits[0].confidence == before.hits[0].confidence


def test_the_lines_are_embedded_with_the_article_and_never_matched_as_its_passages(shop: Index) -> None:
    document = shop.documents["shipping-time.en"]
    assert len(document.not_answered) == 10
    assert document.vector_texts() == [*document.passages(), *document.not_answered]
    passages, lines = shop.vectors(document), shop.not_answered(document)
    assert passages.shape[0] == len(document.passages()) + 1  # and the centroid of its questions
    assert lines.shape[0] == 10
    # An article without lines has none.
    plain = _without_lines(shop)
    assert plain.not_answered(plain.documents["shipping-time.en"]).shape[0] == 0
    assert np.allclose(plain.vectors(plain.documents["shipping-time.en"]), passages, atol=1e-5)


# The reach was chosen with the clarify threshold at 0.36 (session 15); its effect on the
# decision is shown there. The default was 0.39 in sessions 17-19 and is 0.37 since session 20
# (architecture.md, "Where the bot hands over"), which moves a few of these over the line by itself.
AT_REACH = Thresholds(clarify=0.36)


def _decide_with(monkeypatch: pytest.MonkeyPatch, shop: Index, asked: str, locale: str, **changes: float) -> tuple[str, float]:
    with monkeypatch.context() as m:
        m.setitem(SEMANTIC, locale, dataclasses.replace(SEMANTIC[locale], **changes))
        decision = decide(asked, shop, AT_REACH)
    return decision.kind, decision.hits[0].confidence


@pytest.mark.parametrize(("asked", "locale", "article"), [
    # The hours article gives the week's hours; one of its lines is "is customer service open on
    # Christmas Day?", a little farther from the message than the article's own phrasings.
    ("are you guys open on christmas day", "en", "contact-hours.en"),
    # Buying and spending a card online; a line asks whether it works in a physical store.
    ("礼品卡可以拿去实体店用吗", "zh", "gift-card.zh")])
def test_a_line_near_the_message_counts_even_when_a_phrasing_is_a_little_nearer(
        monkeypatch: pytest.MonkeyPatch, shop: Index, asked: str, locale: str, article: str) -> None:
    semantic = SEMANTIC[locale]
    assert semantic.not_answered_reach == 0.10 and semantic.not_answered_near == 0.65
    kind, confidence = _decide_with(monkeypatch, shop, asked, locale)
    plain_kind, plain_confidence = _decide_with(monkeypatch, shop, asked, locale, not_answered_reach=0.0)
    assert decide(asked, shop).hits[0].doc_id == article
    # Answered or asked about without the reach; asked about or handed over with it.
    assert (plain_kind, kind) in (("answer", "clarify"), ("answer", "handoff"), ("clarify", "handoff"))
    assert confidence < plain_confidence


@pytest.mark.parametrize(("asked", "locale"), [("想看看我的东西现在走到哪了", "zh"), ("return period?", "en")])
def test_a_line_that_is_not_near_in_itself_does_not_reach(
        monkeypatch: pytest.MonkeyPatch, shop: Index, asked: str, locale: str) -> None:
    # Answered questions whose nearest line is only loosely related (below 0.65) but within
    # 0.10 of the article: counting from below the article's best for them would hand them over.
    kind, confidence = _decide_with(monkeypatch, shop, asked, locale)
    everywhere_kind, everywhere = _decide_with(monkeypatch, shop, asked, locale, not_answered_near=0.0)
    assert kind != "handoff" and everywhere_kind == "handoff" and everywhere < confidence
    # (At 0.39, the default of sessions 17-19, both sat just under the line, 0.38-0.39: handed
    # over with the right article offered first to read while waiting; at 0.37 they are over it.)
