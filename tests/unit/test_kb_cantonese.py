"""Written Cantonese: visitors from Hong Kong and Guangdong write 嘅, 喺, 冇, 咗, 點解 where the
articles (in Mandarin) write 的, 在, 没有, 了, 为什么 (kb.text.mandarin). Read as Mandarin, such a
question finds its article as surely as the Mandarin one does. So do English shop words in a
Chinese message ("想cancel點搞", "tracking number會send去我email"), read as the Mandarin the
articles use (kb.text._MIXED, session 18)."""
from __future__ import annotations

import re

import pytest

from chalicelib.kb import background, search, text
from chalicelib.kb.decide import decide
from chalicelib.kb.search import Index
from tests.kb_eval import load_index, load_index_written_background


@pytest.fixture(scope="module")
def shop() -> Index:
    return load_index()


@pytest.mark.parametrize(("asked", "article", "kind"), [
    ("我嘅包裹話送咗，但係我冇收到", "missing-package.zh", "answer"),
    ("張卡俾人拒咗，點算好？", "payment-failed.zh", "clarify"),
    ("啲錢幾時退返俾我？", "refund-time.zh", "clarify"),
])
def test_a_cantonese_question_is_answered_or_asked_about_not_handed_over(
        monkeypatch: pytest.MonkeyPatch, shop: Index, asked: str, article: str, kind: str) -> None:
    decision = decide(asked, shop)
    assert (decision.kind, decision.hits[0].doc_id) == (kind, article)
    # Read as it is written, the same question was handed over for want of certainty.
    with monkeypatch.context() as m:
        m.setattr(text, "mandarin", lambda t: t)
        m.setattr(search, "mandarin", lambda t: t)
        plain = decide(asked, shop)
    assert plain.kind == "handoff" and plain.reason == "no_answer"


def test_the_mandarin_reading_is_one_more_span_and_never_replaces_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    spans = search.spans("我嘅包裹話送咗，但係我冇收到", "zh")
    assert spans[0] == "我嘅包裹話送咗，但係我冇收到"  # the message as written ranks
    assert "我的包裹話送了，但是我没有收到" in spans
    mandarin_spans = search.spans("我的包裹说送了，但是我没有收到", "zh")
    with monkeypatch.context() as m:
        m.setattr(search, "mandarin", lambda t: t)
        assert search.spans("我的包裹说送了，但是我没有收到", "zh") == mandarin_spans  # nothing added
        assert len(search.spans("我嘅包裹話送咗，但係我冇收到", "zh")) < len(spans)


def test_a_traditional_message_is_also_read_in_simplified_script(monkeypatch: pytest.MonkeyPatch, shop: Index) -> None:
    """The articles are written in simplified characters; the encoder reads both scripts, but a
    passage's own script is nearer. The message as written still ranks; its simplified reading is
    one more span, which may only raise the certainty."""
    asked = "訂單已經出貨了，還能取消嗎？"
    spans = search.spans(asked, "zh")
    assert spans[0] == asked and "订单已经出货了，还能取消吗？" in spans
    assert search.spans("订单已经出货了，还能取消吗？", "zh") == ["订单已经出货了，还能取消吗？", "订单已经出货了", "还能取消吗"]
    decision = decide(asked, shop)
    assert (decision.kind, decision.hits[0].doc_id) == ("answer", "cancel-order.zh")
    with monkeypatch.context() as m:
        m.setattr(search, "simplified", lambda t: t)
        as_written = decide(asked, shop)
    assert as_written.kind in ("clarify", "handoff") and as_written.hits[0].doc_id == "cancel-order.zh"
    assert as_written.hits[0].confidence < decision.hits[0].confidence


@pytest.mark.parametrize(("written", "mandarin"), [
    ("唔該唔好再send email俾我", "请不要再发 邮件给我"),  # not "不该不好": please, don't
    ("唔好意思，寄嚟嘅size唔啱，換件好唔好？", "不好意思，寄来的尺码不对，換件好不好？"),  # sorry; OK or not
    ("有冇得用PayPal俾錢？", "能不能用PayPal付钱？"),
    ("我平時著M，偏細定偏大？", "我平時穿M，偏小定偏大？"),  # 著 before a size is "wear", 細 by a size is "small"
    ("買滿五十蚊係咪唔使運費", "買滿五十元是不是不用運費"),
    ("收到嘅外套有個窿", "收到的外套有個洞"),
    ("保固期多久？簡訊收不到", "保修期多久？短信收不到"),  # Taiwan's words
    ("登入不了，帳號被鎖", "登录不了，账号被鎖"),
])
def test_regional_words_are_read_as_the_articles_write_them(written: str, mandarin: str) -> None:
    assert text.mandarin(written) == mandarin


@pytest.mark.parametrize("unchanged", ["著名品牌", "等著收貨", "穿著舒服嗎", "细节", "仔細看"])
def test_the_same_characters_in_their_mandarin_sense_are_left_alone(unchanged: str) -> None:
    assert text.mandarin(unchanged) == unchanged


@pytest.mark.parametrize(("asked", "article"), [
    ("保固期是多久？要附發票嗎？", "warranty.zh"),  # was handed over
    ("唔該唔好再send email俾我", "newsletter.zh"),
])
def test_a_question_in_regional_words_is_answered(shop: Index, asked: str, article: str) -> None:
    decision = decide(asked, shop)
    assert (decision.kind, decision.hits[0].doc_id) == ("answer", article)


def test_a_hole_in_a_coat_is_read_right_but_handed_over_near_what_visitors_asked(shop: Index) -> None:
    """窿 is read as 洞 and the damaged-item article comes first, as since session 17, when it
    was answered. Since session 19 it is handed over: what visitors asked (the background's
    second part) holds "這件外套係咩材質？" ("what is this coat made of?", unanswered), which the
    Chinese encoder puts near it for the coat alone — a known cost of that change
    (architecture.md, "The background, grown from what visitors asked")."""
    asked = "收到嘅外套有個窿，點算？"
    decision = decide(asked, shop)
    assert (decision.kind, decision.hits[0].doc_id) == ("handoff", "damaged-item.zh")
    assert decision.suggestions[0].doc_id == "damaged-item.zh"  # offered to read while waiting
    assert "這件外套係咩材質？" in background.asked("zh")
    written_only = decide(asked, load_index_written_background())
    assert (written_only.kind, written_only.hits[0].doc_id) == ("answer", "damaged-item.zh")


@pytest.mark.parametrize(("written", "mandarin"), [
    ("express同standard差幾多日？", "加急快递同普通快递差多少日？"),
    ("想cancel個Order，點搞？", "想取消個订单，怎么搞？"),
    ("tracking number會send去我email定係要自己去account睇？", "快递单号會发去我邮件定是要自己去账户看？"),
    ("promo code用唔到，price drop咗可唔可以退差價", "优惠码用不到，降价了可不可以退差價"),
    ("iPhone app 入面用 PayPal 俾唔到錢", "iPhone app 入面用 PayPal 给不到錢"),  # names stay
])
def test_english_shop_words_in_a_chinese_message_are_read_as_the_articles_write_them(written: str,
                                                                                   mandarin: str) -> None:
    assert text.mandarin(written) == mandarin


@pytest.mark.parametrize("english", ["how do i cancel my order", "Tracking number please", "refund?"])
def test_an_english_message_is_left_as_it_is(english: str) -> None:
    assert text.mandarin(english) == english and text.normalize(english) == english.lower()


@pytest.mark.parametrize(("asked", "article", "before"), [
    ("我的order现在到哪儿了 咋查", "order-tracking.zh", "clarify"),
    ("discount code 输进去没反应", "promo-code.zh", "clarify"),
    ("件衫太大，可唔可以同我換細一個size？", "exchange.zh", "clarify"),
])
def test_a_chinese_question_with_english_shop_words_is_answered(monkeypatch: pytest.MonkeyPatch, shop: Index,
                                                                asked: str, article: str, before: str) -> None:
    decision = decide(asked, shop)
    assert (decision.kind, decision.hits[0].doc_id) == ("answer", article)
    with monkeypatch.context() as m:  # without the glossary the bot only asked which article
        m.setattr(text, "_MIXED_RE", re.compile(r"(?!x)x"))
        assert decide(asked, shop).kind == before
