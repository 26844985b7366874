"""Ranking, confidence, intents, sentiment, question type and the bot's decision."""
from __future__ import annotations

import math
from collections import Counter
from typing import cast

import pytest

from chalicelib.kb.classify import classify_question
from chalicelib.kb.decide import Thresholds, decide
from chalicelib.kb.intent import anger, asks_when, is_complaint, signals, wants_human
from chalicelib.kb.search import Document, Hit, Index, _edit_distance, _Field, concepts_of

DOCS = [
    Document("refund.en", "When will I get my refund?", "We refund within 5 working days to your card.",
             ("How long does a refund take?",), "en", "returns"),
    Document("ship.en", "How long does delivery take?", "Standard delivery takes 3-5 working days.",
             ("When will my order arrive?",), "en", "shipping"),
    Document("pay.en", "Payment methods", "We accept Visa, PayPal and Alipay.",
             ("Can I pay with PayPal?",), "en", "payment"),
    Document("pw.en", "Forgot your password?", "Click Sign in, then Forgot password.",
             ("I can't log in",), "en", "account"),
    Document("refund.zh", "退款多久到账？", "退货到达仓库后 5 个工作日内原路退款。", ("退款要多久",), "zh", "returns"),
    Document("ship.zh", "下单后多久发货？", "普通快递 3–5 个工作日送达。", ("什么时候能到货",), "zh", "shipping"),
]


@pytest.fixture(scope="module")
def index() -> Index:
    return Index(DOCS)


def test_best_article_first(index: Index) -> None:
    assert index.search("how long until I get my money back")[0].doc_id == "refund.en"
    assert index.search("can i pay by paypal")[0].doc_id == "pay.en"


def test_typos_are_corrected(index: Index) -> None:
    assert index.search("pasword forgoten")[0].doc_id == "pw.en"
    assert index.search("delivry tiem")[0].doc_id == "ship.en"


def test_chinese_traditional_and_full_width(index: Index) -> None:
    assert index.search("退款要多久？")[0].doc_id == "refund.zh"
    assert index.search("退款要多久？？")[0].doc_id == "refund.zh"
    assert index.search("幾天能到貨")[0].doc_id == "ship.zh"


def test_locale_is_preferred(index: Index) -> None:
    assert index.search("refund 多久到账")[0].doc_id == "refund.zh"
    # a base with no Chinese article still answers a mixed question from its English ones
    assert Index(DOCS[:4]).search("refund 多久")[0].doc_id == "refund.en"


def test_confidence_is_low_for_subjects_the_base_never_mentions(index: Index) -> None:
    covered = index.search("how long does a refund take")[0].confidence
    uncovered = index.search("do you sell furniture for the garden")
    assert covered > 0.6
    assert not uncovered or uncovered[0].confidence < 0.3


def test_real_words_are_not_corrected_into_known_ones(index: Index) -> None:
    # "tree" is one edit from "true", "cases" from "cash": real words, so kept as they are.
    extra = Index([*DOCS, Document("t.en", "Is it true?", "True.", (), "en"),
                   Document("c.en", "Cash", "No cash on delivery.", (), "en")])
    assert extra.correct(["tree"], {"tree": "tree"}) == ["tree"]
    assert extra.correct(["case"], {"case": "cases"}) == ["case"]
    assert extra.correct(["pasword"], {"pasword": "pasword"}) == ["password"]


def test_confidence_favours_words_of_the_articles_question_over_its_body(index: Index) -> None:
    # "standard" is only in the delivery article's body; "delivery" is in its title.
    by_body = index.search("standard", limit=1)
    by_title = index.search("delivery", limit=1)
    assert by_body[0].doc_id == by_title[0].doc_id == "ship.en"
    assert by_title[0].confidence > by_body[0].confidence + 0.2


def test_common_words_the_base_never_uses_weigh_less_than_rare_ones(index: Index) -> None:
    common = index.search("my refund yesterday", limit=1)[0]  # "yesterday": common English
    rare = index.search("my refund crowdfunding", limit=1)[0]  # a subject the base does not cover
    assert common.doc_id == rare.doc_id == "refund.en"
    assert common.confidence > rare.confidence


def test_a_country_name_means_shipping_abroad() -> None:
    docs = [*DOCS, Document("abroad.en", "Do you ship internationally?", "We ship worldwide.", (), "en")]
    assert Index(docs).search("do you deliver to germany")[0].doc_id == "abroad.en"


def test_edit_distance_counts_a_swap_as_one() -> None:
    assert _edit_distance("recieve", "receive", 2) == 1
    assert _edit_distance("abc", "xyz", 1) == 2  # capped at limit + 1


@pytest.mark.parametrize("text", ["talk to a human", "Can I speak to a real person?", "agent please",
                                  "转人工", "我要找人工客服", "真人客服在吗"])
def test_wants_human(text: str) -> None:
    assert wants_human(text)


@pytest.mark.parametrize("text", ["when are your agents available", "客服几点下班", "human size chart"])
def test_not_wanting_human(text: str) -> None:
    assert not wants_human(text)


def test_complaints_in_both_languages() -> None:
    assert is_complaint("I want to file a complaint about the courier")
    assert is_complaint("我要投诉你们")
    assert not is_complaint("how do I return a shirt")


def test_anger_in_both_languages() -> None:
    assert signals("this is the WORST service, you are USELESS!!!").angry
    assert signals("气死我了，什么破服务").angry
    assert not signals("my parcel has not arrived yet").angry
    assert not signals("我的包裹还没到").angry
    assert anger("hello") == 0


@pytest.mark.parametrize("text", [
    "bought hoop earrings, they look awful on me, can i send them back",  # the item on the visitor
    "tried on the bra at home and hate it, can i send it back",
    "put my old flat as the delivery address like an idiot, can i fix it",  # the visitor of themself
    "im such an idiot i typed the wrong email",
    "箱子被压烂了 里面鞋子也变形了",  # 烂: broken, crushed
    "收到嘅外套拉鏈係爛嘅，點算？",
    "验证码邮件是不是进了垃圾箱",  # 垃圾: the spam folder, the bin
    "密碼郵件會唔會喺垃圾郵件度？",
])
def test_strong_words_about_the_item_or_oneself_are_not_anger(text: str) -> None:
    assert not signals(text).angry


@pytest.mark.parametrize("text", [
    "I hate your shop", "this service is awful", "what a crap shop, i hate it", "you idiots",
    "烂透了你们", "什么烂网站", "太烂了吧", "垃圾店", "你们太垃圾了，邮件都发不出来",
])
def test_strong_words_at_the_shop_are_anger(text: str) -> None:
    assert signals(text).angry


@pytest.mark.parametrize("text, kind", [
    ("how much is shipping to canada", "pre_sales"),
    ("do you have this in size M", "pre_sales"),
    ("where is my order, tracking says nothing", "after_sales"),
    ("I want a refund for my broken mug", "after_sales"),
    ("I can't log in, the verification code never arrives", "technical"),
    ("I want to file a complaint", "complaint"),
    ("这个多少钱", "pre_sales"),
    ("退款什么时候到账", "after_sales"),
    ("验证码收不到，登录不了", "technical"),
    ("你们太垃圾了", "complaint"),
])
def test_question_type(text: str, kind: str) -> None:
    assert classify_question(text) == kind


@pytest.mark.parametrize("text, kind", [("hello there", None), ("where is my order?", "after-sales"),
                                        ("你们太垃圾了", "complaint"), ("密码忘了登录不了", "technical"),
                                        ("这个多少钱", "pre-sales")])
def test_message_type_for_routing_rules(text: str, kind: str | None) -> None:
    from chalicelib.kb.classify import message_type

    assert message_type(text) == kind


def test_question_type_uses_the_best_article_when_keywords_are_silent(index: Index) -> None:
    assert classify_question("Visa ok?", index) == "pre_sales"


def test_decisions(index: Index) -> None:
    assert decide("how long does a refund take", index).kind == "answer"
    assert decide("how long does a refund take", index).best.doc_id == "refund.en"  # type: ignore[union-attr]
    assert decide("talk to a human", index).reason == "asked_for_human"
    assert decide("I want to file a complaint", index).reason == "complaint"
    assert decide("you are useless idiots!!!", index).reason == "angry"
    assert decide("do you sell garden furniture", index).kind == "handoff"
    assert decide("hello!", index).kind == "greet"
    assert decide("你好", index).kind == "greet"


@pytest.mark.parametrize("text", ["hello!", "你好", "hi there, how are you?", "hey how r u doing today", "how's it going",
                                  "您好，最近好吗？", "你好吗"])
def test_greetings_and_small_talk_are_greeted_back(index: Index, text: str) -> None:
    assert decide(text, index).kind == "greet"


@pytest.mark.parametrize("text", ["hi how do i return a shirt", "hello, how are you shipping my order", "你好，退款多久到账"])
def test_a_question_after_a_greeting_is_a_question(index: Index, text: str) -> None:
    assert decide(text, index).kind != "greet"


@pytest.mark.parametrize("text", ["thanks", "Thank you so much!", "ok, got it", "bye", "好的谢谢", "谢谢！"])
def test_closing_chit_chat_is_not_handed_over(index: Index, text: str) -> None:
    assert decide(text, index).kind == "thanks"


def test_unsure_questions_are_clarified(index: Index) -> None:
    decision = decide("how long", index, Thresholds(answer=0.99, clarify=0.1))
    assert decision.kind == "clarify"
    assert {h.doc_id for h in decision.hits} >= {"refund.en", "ship.en"}


class _Ranked:
    """Stands in for an Index: the same hits, whatever the question (decide only searches)."""

    def __init__(self, *confidences: float) -> None:
        self.hits = [Hit(f"a{i}.en", 1.0 - 0.01 * i, c) for i, c in enumerate(confidences)]

    def search(self, text: str, limit: int = 10) -> list[Hit]:
        return self.hits[:limit]


def test_below_the_default_clarify_threshold_the_bot_hands_over_offering_what_it_found() -> None:
    # 0.37 since session 20 (architecture.md, "Where the bot hands over"): a best article at
    # 0.36 makes no "did you mean" but a hand-off that offers it to read meanwhile.
    unsure = decide("is there a size chart in inches", cast(Index, _Ranked(0.36, 0.30, 0.1)))
    assert (unsure.kind, unsure.reason) == ("handoff", "no_answer")
    assert [h.doc_id for h in unsure.suggestions] == ["a0.en", "a1.en"]
    closer = decide("is there a size chart in inches", cast(Index, _Ranked(0.40, 0.36, 0.1)))
    assert closer.kind == "clarify" and [h.doc_id for h in closer.hits] == ["a0.en"]
    # Sure enough and the only candidate at the threshold: answered (at 0.36 the second, 0.36,
    # would have made it a choice between two).
    sure = decide("is there a size chart in inches", cast(Index, _Ranked(0.47, 0.36, 0.1)))
    assert sure.kind == "answer"
    assert decide("is there a size chart in inches", cast(Index, _Ranked(0.47, 0.36, 0.1)),
                  Thresholds(clarify=0.36)).kind == "clarify"
    tenant = decide("is there a size chart in inches", cast(Index, _Ranked(0.36, 0.30)), Thresholds(clarify=0.35))
    assert tenant.kind == "clarify"


def test_a_typo_between_two_equally_common_words_is_corrected_the_same_way_every_time() -> None:
    # "reciept" is one edit from both "receipt" and "recept"; which one used to depend on the
    # vocabulary set's iteration order, i.e. on the interpreter's hash seed (one question of the
    # evaluation changed its answer from run to run). Several seeds, one answer: the first in
    # alphabetical order.
    import os
    import subprocess
    import sys

    code = ("from chalicelib.kb.search import Document, Index\n"
            "i = Index([Document('a.en', 'Receipt', 'Your receipt.', (), 'en'),"
            " Document('b.en', 'Recept', 'Recept.', (), 'en')])\n"
            "print(i.correct(['reciept'], {'reciept': 'reciept'})[0])")
    answers = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout.strip()
               for seed in range(8)}
    assert answers == {"receipt"}


HOURS = [Document("hours.en", "When can I reach a person?",
                  "Our team answers the chat Monday to Friday 9:00-18:00 and Saturday 10:00-16:00; not on Sundays.",
                  ("What are your opening hours?", "Are you there on Sunday?", "What time does support start?",
                   "When is the chat open?", "What time does the chat close?", "Can I reach someone at the weekend?"),
                  "en", "contact"),
         Document("hours.zh", "客服几点上班？", "人工客服周一至周五 9:00–18:00，周六 10:00–16:00，周日休息。",
                  ("客服什么时候在线", "周末有客服吗", "晚上有人工客服吗", "周日发邮件有人回吗", "晚上留言什么时候回复",
                   "非工作时间留言会有人看吗", "客服是24小时的吗"), "zh", "contact")]


@pytest.mark.parametrize("text", ["can i talk to a real person on sunday", "when can i talk to a real person",
                                  "what time can i chat with a real person", "晚上十点还能找到真人客服吗",
                                  "周末有真人回复吗", "真人客服几点上班"])
def test_asking_when_people_answer_is_a_question_for_the_base(text: str) -> None:
    assert signals(text).wants_human and asks_when(text)
    from chalicelib.kb import embed

    with_hours = decide(text, Index([*DOCS, *HOURS], encoders=embed.encoders()))
    assert with_hours.reason != "asked_for_human" and with_hours.hits[0].doc_id.startswith("hours.")
    # Without an article that answers it, the bot hands over as asked.
    without = decide(text, Index(DOCS))
    assert without.kind == "handoff" and without.reason == "asked_for_human"


@pytest.mark.parametrize("text", ["talk to a human", "i want a real person now",
                                  "I need to speak to a human, I've been trying since this morning",
                                  "转人工，我从昨天晚上等到现在", "人工客服在吗"])
def test_asking_for_a_person_now_hands_over_at_once(text: str) -> None:
    assert not asks_when(text)
    decision = decide(text, Index([*DOCS, *HOURS]))
    assert decision.kind == "handoff" and decision.reason == "asked_for_human" and decision.hits == []


def test_a_fields_idf_follows_every_passage_added_and_bm25_is_the_same_for_any_query_form() -> None:
    """idf is remembered per term (a question's words are asked of every article) and forgotten
    when a passage is added; a set question that shares no term scores 0 without its loop."""
    stats = _Field()
    stats.add(["refund", "order"])
    assert stats.idf("refund") == math.log(1 + (1 - 1 + 0.5) / (1 + 0.5))
    stats.add(["shipping"])
    stats.add(["shipping", "order"])
    assert stats.idf("refund") == math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))
    assert stats.idf("order") == math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    passage = Counter(["refund", "order", "order"])
    for query in (["order", "refund", "unknown"], ["shipping"], []):
        assert stats.bm25(set(query), passage, 3) == stats.bm25(list(query), passage, 3)
    assert stats.bm25({"order"}, passage, 3) > 0.0 and stats.bm25({"shipping"}, passage, 3) == 0.0


def test_a_words_concepts_are_remembered_and_cannot_be_changed_by_a_caller() -> None:
    first = concepts_of("refund")
    assert first == {"~refund"} == concepts_of("退款") and isinstance(first, frozenset)
    assert concepts_of("refund") is first and concepts_of("xyzzy") == frozenset()
