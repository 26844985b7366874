"""The bot in the chat, with in-memory fakes: answers, clarifies, hands over, feedback,
webhooks, unanswered questions, and the knowledge base's CRUD rules."""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

import pytest

from chalicelib.api.kb_schemas import BotSettingsIn
from chalicelib.domain.clock import FixedClock
from chalicelib.domain.errors import ArticleChanged, Forbidden, InvalidFrame
from chalicelib.domain.knowledge import BotSettings, Webhook
from chalicelib.domain.model import Connection, Identity, Role, Tenant
from chalicelib.kb import background
from chalicelib.kb.decide import Thresholds
from chalicelib.services.knowledge import ArticleFields
from tests.fakes import build_services, with_routing
from tests.fakes_kb import BotWorld, failing_webhook, with_bot
from tests.kb_eval import load_articles


@dataclass
class Scene:
    kb: BotWorld
    tenant: Tenant
    agent: Identity
    tab: Connection
    ann: Connection
    _n: int = 0

    def say(self, text: str) -> None:
        self._n += 1
        self.kb.world.send(self.tab, {"action": "message.send", "client_msg_id": f"v{self._n}", "text": text})

    def bot_messages(self, who: Connection | None = None) -> list[dict[str, Any]]:
        frames = self.kb.world.gateway.frames((who or self.tab).connection_id, "message.new")
        return [f["message"] for f in frames if f["message"]["sender_role"] == "bot"]

    def prompts(self) -> list[dict[str, Any]]:
        return self.kb.world.gateway.frames(self.tab.connection_id, "bot.prompt")

    @property
    def conversation_id(self) -> str:
        visitor = self.kb.world.visitor_repo.get(self.tenant.tenant_id, self.tab.principal_id)
        assert visitor is not None and visitor.open_conversation_id
        return visitor.open_conversation_id

    def state(self) -> Any:
        return self.kb.repo.state(self.tenant.tenant_id, self.conversation_id)


@pytest.fixture
def scene() -> Scene:
    return make_scene()


def make_scene(routing: bool = False) -> Scene:
    """The demo shop's articles, a visitor's tab and Ann's workbench; with `routing`, Ann is
    online with room (so a conversation is born assigned to her)."""
    world = build_services(FixedClock())
    kb = with_bot(world)
    tenant = world.add_tenant()
    agent = world.add_agent(tenant, "Ann")
    identity = Identity(tenant.tenant_id, Role.AGENT, agent.agent_id, "Ann")
    for a in load_articles():
        kb.knowledge.create(identity, ArticleFields(a["title"], a["body"], a["locale"], a["category"],
                                                    tuple(a["phrasings"]), "published",
                                                    tuple(a.get("not_answered", ()))), a["id"])
    if routing:
        _, routing_repo, _ = with_routing(world)
        routing_repo.add_agent(tenant.tenant_id, agent.agent_id, "Ann", capacity=2, presence="online")
    ann = world.connect_agent(agent, "ann")
    tab = world.connect_visitor(world.add_visitor(tenant), "tab")
    return Scene(kb, tenant, identity, tab, ann)


def test_answers_in_english_and_asks_for_feedback(scene: Scene) -> None:
    scene.say("how long does a refund take?")
    [answer] = scene.bot_messages()
    assert answer["text"].startswith("When will I get my refund?") and answer["text"].endswith("Did this help?")
    assert answer["sender_name"] == "Assistant"
    [prompt] = scene.prompts()
    assert prompt["kind"] == "feedback" and prompt["article"]["id"] == "refund-time.en"
    assert prompt["seq"] == answer["seq"]
    assert scene.bot_messages(scene.ann)[0]["seq"] == answer["seq"]  # agents see the bot's part


def test_answers_in_chinese(scene: Scene) -> None:
    scene.say("退款要多久才能到账？")
    [answer] = scene.bot_messages()
    assert answer["text"].startswith("退款多久到账") and "有帮助" in answer["text"]
    assert answer["sender_name"] == "智能助手"


def test_feedback_yes_counts_as_self_resolved(scene: Scene) -> None:
    scene.say("how do I reset my password")
    seq = scene.prompts()[0]["seq"]
    scene.kb.world.send(scene.tab, {"action": "bot.feedback", "conversation_id": scene.conversation_id,
                                    "seq": seq, "helpful": True})
    assert scene.state().resolved_by_bot
    assert scene.kb.repo.counters(scene.tenant.tenant_id)["helpful"] == 1
    assert scene.bot_messages()[-1]["text"].startswith("Glad I could help")


def test_clarifies_when_unsure_and_answers_the_choice(scene: Scene) -> None:
    scene.kb.repo.save_settings(BotSettings(scene.tenant.tenant_id, answer_threshold=1.0, clarify_threshold=0.2,
                                               margin=1.0))
    scene.say("return")
    [question] = scene.bot_messages()
    assert question["text"].startswith("I'm not sure which of these you mean")
    prompt = scene.prompts()[0]
    assert prompt["kind"] == "choose" and 2 <= len(prompt["candidates"]) <= 3
    scene.say("1")
    answer = scene.bot_messages()[-1]
    assert answer["text"].startswith(prompt["candidates"][0]["title"])


def test_a_clarifying_question_with_one_candidate_asks_about_it_not_which_of_these(scene: Scene) -> None:
    best = scene.kb.bot.try_question(scene.agent, "return").best_confidence
    assert best is not None
    # Only the best article reaches the clarify threshold, and nothing is answered outright.
    scene.kb.repo.save_settings(BotSettings(scene.tenant.tenant_id, answer_threshold=1.0, clarify_threshold=best,
                                               margin=1.0))
    scene.say("return")
    [question] = scene.bot_messages()
    lines = question["text"].split("\n")
    assert lines[0] == "Is this what you mean?" and lines[1].startswith("1. ") and len(lines) == 3
    assert lines[2].startswith("Reply 1 for it")
    prompt = scene.prompts()[0]
    assert (prompt["kind"], len(prompt["candidates"]), prompt["locale"]) == ("choose", 1, "en")
    scene.say("1")
    assert scene.bot_messages()[-1]["text"].startswith(prompt["candidates"][0]["title"])


def test_talk_to_a_human_hands_over_with_a_note_for_agents(scene: Scene) -> None:
    scene.say("how do I track my order")
    scene.say("I want to talk to a human")
    visitor_side = scene.bot_messages()
    assert visitor_side[-1]["text"].startswith("I'm bringing in a member of our team")
    notes = [m for m in scene.bot_messages(scene.ann) if m["internal"]]
    assert len(notes) == 1 and "asked for a person" in notes[0]["text"]
    assert "Bot answers before: 1" in notes[0]["text"]
    assert not any(m["internal"] for m in visitor_side)  # the note is for agents only
    scene.say("hello? anyone?")
    assert scene.bot_messages()[-1] == visitor_side[-1]  # after a hand-off the bot is quiet


def test_the_handoff_button(scene: Scene) -> None:
    scene.say("how do I track my order")
    scene.kb.world.send(scene.tab, {"action": "bot.handoff", "conversation_id": scene.conversation_id})
    assert scene.state().handed_off and scene.state().handoff_reason == "asked_for_human"


@pytest.mark.parametrize("asks", ["I want to talk to a human please", "button"])
def test_asking_for_a_person_after_a_question_names_that_questions_type(scene: Scene, asks: str) -> None:
    # The request itself says nothing of the subject; the refund question before it does.
    scene.say("how long does a refund take?")
    if asks == "button":
        scene.kb.world.send(scene.tab, {"action": "bot.handoff", "conversation_id": scene.conversation_id})
    else:
        scene.say(asks)
    [note] = [m for m in scene.bot_messages(scene.ann) if m["internal"]]
    assert "Question type: after-sales." in note["text"], note["text"]


@pytest.mark.parametrize("text, reason", [("I want to file a complaint about your courier", "complaint"),
                                          ("你们太垃圾了，气死我了", "angry")])
def test_complaints_and_anger_hand_over_and_raise_priority(scene: Scene, text: str, reason: str) -> None:
    scene.say(text)
    assert scene.state().handoff_reason == reason
    assert scene.kb.priorities[scene.conversation_id] == "urgent"
    note = [m for m in scene.bot_messages(scene.ann) if m["internal"]][0]
    assert "priority raised to urgent" in note["text"] and "Question type: complaint" in note["text"]


def test_two_failed_answers_hand_over(scene: Scene) -> None:
    scene.say("how long does shipping take")
    scene.say("no")
    assert scene.state().failures == 1 and not scene.state().handed_off
    scene.say("can i pay with paypal")
    seq = scene.prompts()[-1]["seq"]
    scene.kb.world.send(scene.tab, {"action": "bot.feedback", "conversation_id": scene.conversation_id,
                                    "seq": seq, "helpful": False})
    assert scene.state().handed_off and scene.state().handoff_reason == "two_failed_answers"
    # Both questions were ones the bot could not answer after all: listed for the workbench.
    # With the article each was answered with, which the workbench offers to say does not answer it.
    listed = {q.text: (q.reason, q.article_id) for q in scene.kb.repo.unanswered(scene.tenant.tenant_id, 50)}
    assert listed == {"how long does shipping take": ("not_helpful", "shipping-time.en"),
                      "can i pay with paypal": ("not_helpful", "payment-methods.en")}


def test_a_chosen_candidate_that_did_not_help_lists_the_question_asked(scene: Scene) -> None:
    scene.say("where is my parcel?")  # tracking, or a missing parcel: the bot asks which
    [choose] = [p for p in scene.prompts() if p["kind"] == "choose"]
    scene.say("2")
    assert scene.state().last_article_id == choose["candidates"][1]["id"]
    scene.say("no")
    [listed] = scene.kb.repo.unanswered(scene.tenant.tenant_id, 50)
    assert (listed.text, listed.reason) == ("where is my parcel?", "not_helpful")
    # A "yes" lists nothing.
    scene.say("how do I reset my password")
    scene.say("yes")
    assert len(scene.kb.repo.unanswered(scene.tenant.tenant_id, 50)) == 1


def test_unanswerable_questions_hand_over_and_are_listed_grouped(scene: Scene) -> None:
    scene.say("do you sell garden furniture?")
    assert scene.state().handoff_reason == "no_answer"
    world = scene.kb.world
    for text in ("garden furniture available?", "is there a student discount"):
        other = world.connect_visitor(world.add_visitor(scene.tenant))
        world.send(other, {"action": "message.send", "client_msg_id": "x1", "text": text})
    groups = scene.kb.knowledge.unanswered_groups(scene.agent)
    counts = sorted((g.count, g.representative) for g in groups)
    assert counts[-1][0] == 2 and "furniture" in counts[-1][1]
    with pytest.raises(Forbidden):
        scene.kb.knowledge.unanswered_groups(Identity(scene.tenant.tenant_id, Role.VISITOR, "v"))


def test_a_hand_over_offers_the_closest_articles_to_read_while_waiting(scene: Scene) -> None:
    """Not answered by the article (it tells how to be emailed when an item is back, not why
    an item sold out), the question is handed over (below the clarify threshold), but the
    article comes near enough to be offered to read meanwhile. (Until session 19 the example was
    "how many of the green hoodies will you have when they come back"; what visitors asked, in
    the background since, holds bulk hoodie orders near it, and nothing is offered for it now.)"""
    scene.say("did the green hoodie sell out because of a sale")
    assert scene.state().handoff_reason == "no_answer"
    [message] = scene.bot_messages()
    assert message["text"].startswith("I'm bringing in a member of our team")
    assert "While you wait, one of these articles may already answer it:" in message["text"]
    [prompt] = scene.prompts()
    assert prompt["kind"] == "read" and prompt["seq"] == message["seq"]
    assert "restock.en" in [c["id"] for c in prompt["candidates"]] and len(prompt["candidates"]) <= 3
    titles = [c["title"] for c in prompt["candidates"]]
    assert all(f"\u2022 {title}" in message["text"] for title in titles)  # in words too, for any client
    note = [m for m in scene.bot_messages(scene.ann) if m["internal"]][0]
    assert "Offered to read meanwhile: " + "; ".join(titles) in note["text"]


def test_an_article_read_while_waiting_that_answered_it(scene: Scene) -> None:
    """The visitor says an offered article answered the question: thanked, counted as
    helped, agents told in a note; once only; only offered articles, only the visitor."""
    scene.say("did the green hoodie sell out because of a sale")
    gateway, tab = scene.kb.world.gateway, scene.tab
    solved = {"action": "bot.solved", "conversation_id": scene.conversation_id, "article_id": "restock.en"}
    stranger = {**solved, "article_id": "invoice.en"}
    scene.kb.world.send(tab, stranger)
    refused = gateway.frames(tab.connection_id, "error")[-1]
    assert refused["code"] == "invalid_frame" and refused["message"] == "that article was not offered"
    scene.kb.world.send(scene.ann, solved)
    assert gateway.frames(scene.ann.connection_id, "error")[-1]["code"] == "forbidden"
    assert not scene.state().resolved_by_bot

    scene.kb.world.send(tab, solved)
    assert scene.state().resolved_by_bot and scene.state().reading == []
    assert scene.bot_messages()[-1]["text"] == "Glad that answered it! If you still need a person, just write here."
    note = [m for m in scene.bot_messages(scene.ann) if m["internal"]][-1]
    assert note["text"].startswith("The visitor says \u201cOut of stock items and restock alerts\u201d answered")
    counters = scene.kb.repo.counters(scene.tenant.tenant_id)
    assert counters["helpful"] == 1 and counters["solved_while_waiting"] == 1
    messages = len(scene.bot_messages())
    scene.kb.world.send(tab, solved)  # a second tab, a double click: nothing more
    assert len(scene.bot_messages()) == messages and scene.kb.repo.counters(scene.tenant.tenant_id)["helpful"] == 1


def test_a_hand_over_offers_articles_in_chinese_too(scene: Scene) -> None:
    # When an invoice can be issued later: not in the invoice article, nor in its list of what
    # it does not answer (a question near a line of that list, "paper or e-invoice", is handed
    # over without the article offered: the tenant said it does not answer that). Until session
    # 19 the example was "发票上的地址能写公司的地址吗", now nearer the change-address article.
    scene.say("发票可以晚一点再开吗")
    assert scene.state().handoff_reason == "no_answer"
    [message] = scene.bot_messages()
    assert message["text"].startswith("正在为您转接人工客服") and "等待期间，以下文章也许已经能解答您的问题：" in message["text"]
    [prompt] = scene.prompts()
    offered = [c["id"] for c in prompt["candidates"]]
    assert prompt["kind"] == "read" and "invoice.zh" in offered and all(i.endswith(".zh") for i in offered)


def test_a_hand_over_with_nothing_close_offers_nothing(scene: Scene) -> None:
    scene.say("write me a poem about the sea")
    assert scene.state().handoff_reason == "no_answer"
    assert scene.bot_messages()[0]["text"] == "I'm bringing in a member of our team — they will see our conversation so far."
    assert scene.prompts() == []


def test_the_bot_is_quiet_once_an_agent_is_engaged(scene: Scene) -> None:
    scene.say("hello")
    assert len(scene.bot_messages()) == 1  # the greeting
    scene.kb.world.send(scene.ann, {"action": "message.send", "client_msg_id": "a1",
                                    "conversation_id": scene.conversation_id, "text": "Hi, Ann here"})
    scene.say("how long does a refund take?")
    assert len(scene.bot_messages()) == 1


def test_no_published_article_no_bot() -> None:
    world = build_services(FixedClock())
    with_bot(world)
    tenant = world.add_tenant()
    tab = world.connect_visitor(world.add_visitor(tenant), "tab")
    world.send(tab, {"action": "message.send", "client_msg_id": "v1", "text": "talk to a human"})
    assert not [f for f in world.gateway.frames("tab", "message.new")]


def test_webhook_answers_and_its_failure_hands_over(scene: Scene) -> None:
    hook = Webhook("order-status", r"order\s*#?\s*(\d{4,})", "https://shop.example/kefu")
    scene.kb.repo.save_settings(BotSettings(scene.tenant.tenant_id, webhooks=[hook]))
    scene.kb.webhooks.handler = lambda w, payload: {"reply": f"Order {payload['value']} left on Monday."}
    scene.say("status of order #12345 please")
    assert scene.bot_messages()[-1]["text"] == "Order 12345 left on Monday."
    scene.kb.webhooks.handler = failing_webhook
    scene.say("and order 99999?")
    assert scene.state().handoff_reason == "integration_failed"
    note = [m for m in scene.bot_messages(scene.ann) if m["internal"]][0]
    assert "order-status: the integration answered HTTP 500" in note["text"]


def test_parallel_handoffs_post_one_note(scene: Scene) -> None:
    scene.say("where is my parcel")  # creates the conversation and the bot's state
    conversation_id = scene.conversation_id
    barrier = threading.Barrier(4)

    def press() -> None:
        barrier.wait()
        scene.kb.world.send(scene.tab, {"action": "bot.handoff", "conversation_id": conversation_id})

    threads = [threading.Thread(target=press) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([m for m in scene.bot_messages(scene.ann) if m["internal"]]) == 1


def test_articles_versions_and_conflicts(scene: Scene) -> None:
    knowledge = scene.kb.knowledge
    article = knowledge.create(scene.agent, ArticleFields("Opening hours", "9-5", "en", "general"))
    assert article.version == 1 and article.status == "draft"
    knowledge.update(scene.agent, article.article_id, ArticleFields("Opening hours", "9-6", "en", "general"), 1)
    with pytest.raises(ArticleChanged):
        knowledge.update(scene.agent, article.article_id, ArticleFields("Hours", "8-5", "en", "general"), 1)
    assert [v.version for v in knowledge.history(scene.agent, article.article_id)] == [2, 1]
    with pytest.raises(InvalidFrame):
        knowledge.create(scene.agent, ArticleFields("x", "y", "fr"))
    with pytest.raises(Forbidden):
        knowledge.create(Identity(scene.tenant.tenant_id, Role.VISITOR, "v"), ArticleFields("x", "y"))
    # drafts are found by agents but never by visitors or the bot
    assert knowledge.search(scene.agent, "opening hours 9-6")[0].article.article_id == article.article_id
    assert all(r.article.article_id != article.article_id
               for r in knowledge.search_published(scene.tenant.tenant_id, "opening hours 9-6"))


def test_other_tenants_articles_are_invisible(scene: Scene) -> None:
    other = scene.kb.world.add_tenant("Other")
    assert scene.kb.knowledge.search_published(other.tenant_id, "refund") == []
    assert scene.kb.knowledge.articles(Identity(other.tenant_id, Role.AGENT, "x")) == []


def test_an_optional_answer_writer_is_used_and_its_failure_falls_back(scene: Scene) -> None:
    calls: list[tuple[str, str]] = []

    def writer(question: str, title: str, body: str, locale: str) -> str:
        calls.append((question, title))
        if "paypal" in question:
            raise RuntimeError("provider down")
        return f"In short: {body.split('.')[0]}."

    scene.kb.bot._answer_writer = writer
    scene.say("how long does a refund take?")
    assert scene.bot_messages()[-1]["text"].startswith("In short: We refund within 5 working days")
    scene.say("can i pay with paypal")
    assert scene.bot_messages()[-1]["text"].startswith("Payment methods")
    assert [c[1] for c in calls] == ["When will I get my refund?", "Payment methods we accept"]


def test_saved_articles_carry_their_vectors_and_a_long_import_leaves_the_rest_to_the_bot(
        scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.kb import embed
    from chalicelib.kb.search import MAX_PASSAGES, Document
    from chalicelib.services import knowledge

    saved = scene.kb.articles.get(scene.tenant.tenant_id, "refund-time.zh")
    assert saved is not None and saved.vectors is not None
    document = Document(saved.article_id, saved.title, saved.body, tuple(saved.phrasings), "zh",
                        not_answered=tuple(saved.not_answered))
    assert embed.unpack(saved.vectors, document.vector_texts(), 512, embed.USE_ID) is not None
    # The questions it does not answer are embedded with it: other lines, other key, recomputed.
    assert len(saved.not_answered) == 10
    assert embed.unpack(saved.vectors, document.passages(), 512, embed.USE_ID) is None
    # A body of many sentences: at most MAX_PASSAGES vectors, so the item stays small.
    long_body = " ".join(f"Sentence number {i} says something." for i in range(300))
    scene.kb.knowledge.create(scene.agent, ArticleFields("Long", long_body, "en", "misc", (), "published"), "long")
    long = scene.kb.articles.get(scene.tenant.tenant_id, "long")
    assert long is not None and long.vectors is not None
    assert len(long.vectors) == 16 + 2 * 384 * MAX_PASSAGES
    # An import past its time budget saves every article; those late have no vectors yet,
    # and the bot still answers from them (it computes what is missing).
    monkeypatch.setattr(knowledge, "IMPORT_VECTOR_SECONDS", -1.0)
    created, updated = scene.kb.knowledge.import_articles(scene.agent, [
        ("late-gift", ArticleFields("Can I wrap my order as a gift?", "Yes: gift wrapping costs $3 at checkout.",
                                    "en", "orders", ("gift wrap",), "published"))])
    assert (created, updated) == (1, 0)
    late = scene.kb.articles.get(scene.tenant.tenant_id, "late-gift")
    assert late is not None and late.vectors is None
    scene.say("could you wrap my parcel as a present")
    assert scene.bot_messages()[-1]["text"].startswith("Can I wrap my order as a gift?")
    # What the bot computed is stored with that version, so the next container need not.
    kept = scene.kb.articles.get(scene.tenant.tenant_id, "late-gift")
    assert kept is not None and kept.version == late.version and kept.vectors is not None
    gift_passages = Document("late-gift", late.title, late.body, tuple(late.phrasings)).passages()
    assert embed.unpack(kept.vectors, gift_passages, 384, embed.MODEL_ID) is not None
    assert scene.kb.articles.history(scene.tenant.tenant_id, "late-gift")[0].version == late.version  # no new version


def test_vectors_are_kept_only_for_the_version_they_were_computed_for(scene: Scene) -> None:
    """An editor who saved meanwhile wins: the stale vectors are not written over theirs."""
    articles, tenant_id = scene.kb.articles, scene.tenant.tenant_id
    article = articles.get(tenant_id, "refund-time.en")
    assert article is not None and article.vectors is not None
    assert articles.store_vectors(tenant_id, "refund-time.en", article.version, b"k" * 16) is True
    assert articles.store_vectors(tenant_id, "refund-time.en", article.version - 1, b"stale") is False
    assert articles.store_vectors(tenant_id, "no-such-article", 1, b"stale") is False
    stored = articles.get(tenant_id, "refund-time.en")
    assert stored is not None and stored.vectors == b"k" * 16 and stored.version == article.version


def _late_import(scene: Scene, monkeypatch: pytest.MonkeyPatch, ids: tuple[str, ...]) -> None:
    """Import `ids` again (new versions) past the import's time budget: saved without vectors."""
    from chalicelib.services import knowledge

    monkeypatch.setattr(knowledge, "IMPORT_VECTOR_SECONDS", -1.0)
    by_id = {a["id"]: a for a in load_articles()}
    scene.kb.knowledge.import_articles(scene.agent, [
        (i, ArticleFields(by_id[i]["title"], by_id[i]["body"], by_id[i]["locale"], by_id[i]["category"],
                          tuple(by_id[i]["phrasings"]), "published" if i != "gift-card.en" else "draft"))
        for i in ids])


def test_an_import_past_its_time_starts_the_vectors_job_which_fills_them_in(
        scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    """What an import had no time for is computed by the job it starts (published articles
    first), each stored for the version read; the job stops at its deadline and says how many
    are left."""
    import time

    from chalicelib.kb import embed
    from chalicelib.kb.search import Document

    tenant_id, articles, job = scene.tenant.tenant_id, scene.kb.articles, scene.kb.vectors_job
    ids = ("refund-time.en", "refund-time.zh", "cancel-order.en", "gift-card.en")
    assert job.requests == []  # the demo's articles were created one by one, each with its vectors
    _late_import(scene, monkeypatch, ids)
    assert job.requests == [tenant_id]  # once per import, not per article
    assert job.ids == [list(ids)]  # for its own articles
    assert all(a.vectors is None for a in map(lambda i: articles.get(tenant_id, i), ids) if a)
    # Past its deadline before the first article: nothing stored, all four left (published first).
    left = ["cancel-order.en", "refund-time.en", "refund-time.zh", "gift-card.en"]
    assert scene.kb.knowledge.fill_vectors(tenant_id, time.monotonic() - 1, ids) == (0, left)
    # A job for other articles leaves these alone.
    assert scene.kb.knowledge.fill_vectors(tenant_id, time.monotonic() + 60, ["shipping-time.en"]) == (0, [])
    assert scene.kb.knowledge.fill_vectors(tenant_id, time.monotonic() + 60, ids[:2]) == (2, [])
    assert scene.kb.knowledge.fill_vectors(tenant_id, time.monotonic() + 60) == (2, [])  # all: the other two
    for article_id in ids:
        article = articles.get(tenant_id, article_id)
        assert article is not None and article.version == 2
        model = embed.MODEL_ID if article.locale == "en" else embed.USE_ID
        passages = Document(article_id, article.title, article.body, tuple(article.phrasings),
                            article.locale).vector_texts()
        assert embed.unpack(article.vectors, passages, 384 if article.locale == "en" else 512, model) is not None
        assert len(articles.history(tenant_id, article_id)) == 2  # derived data: no new version
    assert scene.kb.knowledge.fill_vectors(tenant_id, time.monotonic() + 60) == (0, [])  # nothing left
    # An import whose articles all got their vectors in time starts nothing.
    monkeypatch.setattr("chalicelib.services.knowledge.IMPORT_VECTOR_SECONDS", 60.0)
    scene.kb.knowledge.import_articles(scene.agent, [("new-one", ArticleFields("Do you sell gift cards?", "Yes.",
                                                                                "en", "orders", (), "published"))])
    assert job.requests == [tenant_id]


def test_the_vectors_job_keeps_an_editors_save_and_an_import_survives_not_starting_it(
        scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant_id, articles, job = scene.tenant.tenant_id, scene.kb.articles, scene.kb.vectors_job
    job.error = RuntimeError("Lambda said no")
    _late_import(scene, monkeypatch, ("refund-time.en", "cancel-order.en"))
    assert job.requests == []  # starting the job failed: logged; the import is saved all the same
    read = articles.get(tenant_id, "refund-time.en")
    assert read is not None and read.version == 2 and read.vectors is None
    # The job reads version 2; an editor saves version 3 (with its own vectors) before the job writes.
    real_store = articles.store_vectors

    def editor_first(t: str, article_id: str, version: int, vectors: bytes) -> bool:
        if article_id == "refund-time.en":
            scene.kb.knowledge.update(scene.agent, article_id, ArticleFields(
                read.title, read.body + " Edited.", "en", read.category, tuple(read.phrasings), "published"), 2)
        return real_store(t, article_id, version, vectors)

    monkeypatch.setattr(articles, "store_vectors", editor_first)
    assert scene.kb.knowledge.fill_vectors(tenant_id, float("inf")) == (1, [])  # cancel-order only
    edited = articles.get(tenant_id, "refund-time.en")
    assert edited is not None and edited.version == 3 and edited.body.endswith("Edited.")
    assert edited.vectors is not None and edited.vectors != read.vectors
    scene.say("how long does a refund take?")
    assert scene.bot_messages()[-1]["text"].startswith("When will I get my refund?")


def test_an_import_checked_with_dry_run_writes_nothing_and_an_id_twice_is_refused(scene: Scene) -> None:
    knowledge, tenant_id = scene.kb.knowledge, scene.tenant.tenant_id
    before = {a.article_id: a.version for a in scene.kb.articles.list_all(tenant_id)}
    items = [("refund-time.en", ArticleFields("Refunds", "5 days.", "en", "billing", (), "published")),
             ("brand-new", ArticleFields("New", "Body.", "en", "misc", (), "draft")),
             (None, ArticleFields("No id", "Body.", "en", "misc", (), "draft"))]
    assert knowledge.import_articles(scene.agent, items, dry_run=True) == (2, 1)
    assert {a.article_id: a.version for a in scene.kb.articles.list_all(tenant_id)} == before
    with pytest.raises(InvalidFrame, match="'brand-new' appears more than once"):
        knowledge.import_articles(scene.agent, [*items, items[1]], dry_run=True)
    with pytest.raises(InvalidFrame, match="'brand-new' appears more than once"):
        knowledge.import_articles(scene.agent, [*items, items[1]])
    assert {a.article_id: a.version for a in scene.kb.articles.list_all(tenant_id)} == before  # nothing written
    assert knowledge.import_articles(scene.agent, items) == (2, 1)


def test_unanswered_questions_that_mean_the_same_are_grouped_though_they_share_no_word(scene: Scene) -> None:
    world = scene.kb.world
    texts = ("do you sell garden furniture?", "can i buy patio chairs and tables from you",
             "do you have a shop in berlin", "is there a physical store in germany")
    for text in texts:
        visitor = world.connect_visitor(world.add_visitor(scene.tenant))
        world.send(visitor, {"action": "message.send", "client_msg_id": "q1", "text": text})
    listed = {q.text for q in scene.kb.repo.unanswered(scene.tenant.tenant_id, 50)}
    assert set(texts) <= listed, listed  # all four handed over as unanswerable
    groups = {frozenset(q.text for q in g.questions) for g in scene.kb.knowledge.unanswered_groups(scene.agent)}
    assert frozenset(texts[:2]) in groups and frozenset(texts[2:]) in groups, groups


def test_an_unanswered_group_is_named_by_what_shops_are_commonly_asked(scene: Scene) -> None:
    """A group that means nearly the same as one of the background questions written for the bot
    carries it as its topic (a name for what the base lacks, never a visitor's words from the
    background's asked part: "can you gift wrap my order? its for my mum" is one); one that
    matches none carries none."""
    world = scene.kb.world
    for text in ("can you gift wrap my order", "could you wrap it as a present please", "do you sell garden furniture?"):
        visitor = world.connect_visitor(world.add_visitor(scene.tenant))
        world.send(visitor, {"action": "message.send", "client_msg_id": "q1", "text": text})
    topics = {g.representative: g.topic for g in scene.kb.knowledge.unanswered_groups(scene.agent)}
    assert topics["can you gift wrap my order"] == "Do you offer gift wrapping?"
    assert topics["do you sell garden furniture?"] == ""
    assert not set(topics.values()) & {*background.asked("en"), *background.asked("zh")}


def test_a_conversation_born_assigned_still_gets_the_bots_try_at_its_first_message() -> None:
    scene = make_scene(routing=True)
    scene.say("how long does a refund take?")
    [ack] = scene.kb.world.gateway.frames(scene.tab.connection_id, "message.ack")
    conversation = scene.kb.world.conversation_repo.get(scene.tenant.tenant_id, ack["conversation_id"])
    assert conversation is not None and conversation.assignee_id == scene.agent.principal_id  # born assigned
    [answer] = scene.bot_messages()  # as when dispatch assigned it a moment later
    assert answer["text"].startswith("When will I get my refund?")
    scene.say("and what about shipping costs?")  # Ann has it now: the bot stays out
    assert len(scene.bot_messages()) == 1


def test_a_wording_taught_as_answered_leaves_the_questions_the_article_does_not_answer(scene: Scene) -> None:
    world, knowledge = scene.kb.world, scene.kb.knowledge
    tab = world.connect_visitor(world.add_visitor(scene.tenant))
    world.send(tab, {"action": "message.send", "client_msg_id": "q1", "text": "where can i watch my box travel"})
    [listed] = [q for q in scene.kb.repo.unanswered(scene.tenant.tenant_id, 50)
                if q.text == "where can i watch my box travel"]
    article = knowledge.get(scene.agent, "order-tracking.en")
    assert len(article.not_answered) == 10  # the demo shop's own lines
    article = knowledge.update(scene.agent, article.article_id, ArticleFields(
        article.title, article.body, "en", article.category, tuple(article.phrasings), "published",
        ("Where can I watch my box travel?", "can the courier leave it with a neighbour")), article.version)
    taught = knowledge.teach(scene.agent, article.article_id, [listed.question_id], article.version)
    assert taught.phrasings[-1] == "where can i watch my box travel"
    assert taught.not_answered == ["can the courier leave it with a neighbour"]
    assert knowledge.history(scene.agent, article.article_id)[1].not_answered == (
        "Where can I watch my box travel?", "can the courier leave it with a neighbour")


def test_an_agent_says_the_answer_given_does_not_answer_the_question(scene: Scene) -> None:
    """The visitor says the answer did not help; the agent lists the question as one that article
    does not answer (a new version, in its history), and the bot hands it over from then on."""
    world, knowledge = scene.kb.world, scene.kb.knowledge
    asked = "will express delivery come on a saturday"
    scene.say(asked)
    [prompt] = scene.prompts()
    assert (prompt["kind"], prompt["article"]["id"]) == ("feedback", "shipping-time.en")  # answered
    scene.say("no")
    [listed] = scene.kb.repo.unanswered(scene.tenant.tenant_id, 50)
    assert (listed.text, listed.reason, listed.article_id) == (asked, "not_helpful", "shipping-time.en")
    article = knowledge.get(scene.agent, "shipping-time.en")

    told = knowledge.teach(scene.agent, article.article_id, [listed.question_id], article.version, answers=False)
    assert told.version == article.version + 1 and told.not_answered[-1] == asked
    assert told.phrasings == article.phrasings
    assert knowledge.history(scene.agent, article.article_id)[0].not_answered[-1] == asked
    assert not scene.kb.repo.unanswered(scene.tenant.tenant_id, 50)

    world.clock.advance(11_000)  # the bot's containers see the new version (REVISION_CHECK_MS)
    tab = world.connect_visitor(world.add_visitor(scene.tenant))
    world.send(tab, {"action": "message.send", "client_msg_id": "q1", "text": asked})
    replies = [f["message"] for f in world.gateway.frames(tab.connection_id, "message.new")
               if f["message"]["sender_role"] == "bot"]
    assert replies[0]["text"].startswith("I'm bringing in")  # handed over, not answered
    assert all(p["kind"] != "feedback" for p in world.gateway.frames(tab.connection_id, "bot.prompt"))

    # The same wording again is not listed twice; one of the article's own phrasings is refused.
    again = replace(listed, question_id="q_again", text="Will EXPRESS delivery come on a Saturday?!")
    own = replace(listed, question_id="q_own", text=told.phrasings[0])
    scene.kb.repo.add_unanswered(again)
    scene.kb.repo.add_unanswered(own)
    assert knowledge.teach(scene.agent, told.article_id, [again.question_id], told.version, answers=False) == told
    with pytest.raises(InvalidFrame, match="own phrasings"):
        knowledge.teach(scene.agent, told.article_id, [own.question_id], told.version, answers=False)
    # Past 30 questions it does not answer: a clear error, nothing changed, the question still listed.
    full = knowledge.update(scene.agent, told.article_id, ArticleFields(
        told.title, told.body, "en", told.category, tuple(told.phrasings), "published",
        tuple(f"detail {i}" for i in range(30))), told.version)
    one_more = replace(listed, question_id="q_more", text="can express come on a sunday")
    scene.kb.repo.add_unanswered(one_more)
    with pytest.raises(InvalidFrame, match="at most 30"):
        knowledge.teach(scene.agent, told.article_id, [one_more.question_id], full.version, answers=False)
    assert knowledge.get(scene.agent, told.article_id).version == full.version
    still = {q.question_id: (q.text, q.reason) for q in scene.kb.repo.unanswered(scene.tenant.tenant_id, 50)}
    assert still.pop("q_own")[1] == still.pop("q_more")[1] == "not_helpful"
    assert list(still.values()) == [(asked, "no_answer")]  # the second visitor's, handed over


def test_an_agent_teaches_the_bot_a_wording_from_the_unanswered_list(scene: Scene) -> None:
    from chalicelib.domain.errors import ArticleChanged as Changed
    from chalicelib.domain.errors import NotFound

    world, knowledge = scene.kb.world, scene.kb.knowledge

    def ask(text: str) -> Connection:
        tab = world.connect_visitor(world.add_visitor(scene.tenant))
        world.send(tab, {"action": "message.send", "client_msg_id": "q1", "text": text})
        return tab

    ask("where can i watch my box travel")  # the tracking article's subject, in words it does not use
    ask("东西寄出来以后在哪能看到它的行程")
    listed = {q.text: q for q in scene.kb.repo.unanswered(scene.tenant.tenant_id, 50)}
    english, chinese = listed["where can i watch my box travel"], listed["东西寄出来以后在哪能看到它的行程"]
    article = knowledge.get(scene.agent, "order-tracking.en")
    with pytest.raises(InvalidFrame, match="language"):  # a Chinese wording is no phrasing of an English article
        knowledge.teach(scene.agent, article.article_id, [english.question_id, chinese.question_id], article.version)
    with pytest.raises(NotFound):
        knowledge.teach(scene.agent, article.article_id, ["q_gone"], article.version)
    with pytest.raises(Changed):
        knowledge.teach(scene.agent, article.article_id, [english.question_id], article.version - 1)

    taught = knowledge.teach(scene.agent, article.article_id, [english.question_id], article.version)
    assert taught.version == article.version + 1 and taught.phrasings[-1] == "where can i watch my box travel"
    assert max(v.version for v in knowledge.history(scene.agent, article.article_id)) == taught.version
    assert english.question_id not in {q.question_id for q in scene.kb.repo.unanswered(scene.tenant.tenant_id, 50)}

    world.clock.advance(11_000)  # the bot's containers see the new version (REVISION_CHECK_MS)
    tab = ask("where can i watch my box travel")
    [prompt] = world.gateway.frames(tab.connection_id, "bot.prompt")
    assert (prompt["kind"], prompt["article"]["id"]) == ("feedback", "order-tracking.en")  # answered now

    # The same wording again (listed before the bot knew it) is not added twice.
    again = replace(english, question_id="q_again", text="Where can I WATCH my box travel?!")
    scene.kb.repo.add_unanswered(again)
    assert knowledge.teach(scene.agent, article.article_id, [again.question_id], taught.version).version == taught.version
    # Past 30 phrasings: a clear error, nothing changed, the question still listed.
    full = knowledge.update(scene.agent, article.article_id, ArticleFields(
        taught.title, taught.body, "en", taught.category, tuple(f"wording {i}" for i in range(30)), "published"),
        taught.version)
    one_more = replace(english, question_id="q_more", text="is my box on its way")
    scene.kb.repo.add_unanswered(one_more)
    with pytest.raises(InvalidFrame, match="at most 30"):
        knowledge.teach(scene.agent, article.article_id, [one_more.question_id], full.version)
    assert knowledge.get(scene.agent, article.article_id).version == full.version
    assert one_more.question_id in {q.question_id for q in scene.kb.repo.unanswered(scene.tenant.tenant_id, 50)}
    assert again.question_id not in {q.question_id for q in scene.kb.repo.unanswered(scene.tenant.tenant_id, 50)}


def test_a_tenant_s_default_thresholds_are_the_bot_s() -> None:
    # The stored settings, the defaults REST shows (the workbench's "Restore defaults") and
    # decide()'s defaults are one choice (the clarify threshold 0.37 since session 20): a
    # tenant that never saved settings gets what the evaluation measured.
    from chalicelib.api.knowledge import _settings_out

    stored, shown, bot = BotSettings("t"), _settings_out(BotSettings("t")).defaults, Thresholds()
    assert stored.clarify_threshold == shown.clarify_threshold == bot.clarify == 0.37
    assert stored.answer_threshold == shown.answer_threshold == bot.answer
    assert stored.margin == shown.margin == bot.margin
    assert "0.37 by default" in (BotSettingsIn.model_fields["clarify_threshold"].description or "")


def _supervisor(scene: Scene) -> Identity:
    key = (scene.tenant.tenant_id, scene.agent.principal_id)
    scene.kb.world.agent_repo.items[key] = replace(scene.kb.world.agent_repo.items[key], role="supervisor")
    return scene.agent


def test_only_supervisors_and_admins_change_the_bot_s_settings(scene: Scene) -> None:
    with pytest.raises(Forbidden, match="supervisors and admins"):
        scene.kb.bot.save_settings(scene.agent, {"enabled": False})
    assert scene.kb.bot.settings(scene.agent).enabled is True  # an agent reads them
    saved = scene.kb.bot.save_settings(_supervisor(scene), {"enabled": False})
    assert (saved.enabled, saved.version, saved.updated_by) == (False, 1, "Ann")
    with pytest.raises(Forbidden):
        scene.kb.bot.settings(Identity(scene.tenant.tenant_id, Role.VISITOR, "v_1", "Visitor"))


def test_a_change_keeps_what_it_leaves_out_and_a_webhook_s_secret(scene: Scene) -> None:
    supervisor = _supervisor(scene)
    bot = scene.kb.bot
    hook = {"name": "orders", "pattern": r"order (\d+)", "url": "https://shop.example/kefu", "secret": "s3cret"}
    bot.save_settings(supervisor, {"answer_threshold": 0.6, "greeting_en": "Hello from the shop", "webhooks": [hook]})
    saved = bot.save_settings(supervisor, {"clarify_threshold": 0.3})
    assert (saved.answer_threshold, saved.clarify_threshold, saved.greeting_en) == (0.6, 0.3, "Hello from the shop")
    assert [(w.name, w.secret) for w in saved.webhooks] == [("orders", "s3cret")]
    # The form sends the list back without secrets (it never sees them): kept by name.
    saved = bot.save_settings(supervisor, {"webhooks": [{**hook, "secret": None, "pattern": r"order #?(\d+)"},
                                                        {**hook, "name": "returns", "secret": None}]})
    assert [(w.name, w.pattern, w.secret) for w in saved.webhooks] == [("orders", r"order #?(\d+)", "s3cret"),
                                                                      ("returns", r"order (\d+)", "")]
    saved = bot.save_settings(supervisor, {"greeting_en": "", "webhooks": [{**hook, "secret": ""}]})
    assert saved.greeting_en == BotSettings("t").greeting_en  # empty: the default greeting
    assert [(w.name, w.secret) for w in saved.webhooks] == [("orders", "")]  # "": the secret removed
    assert scene.kb.bot.settings(scene.agent) == saved


def test_bad_settings_are_refused_with_what_is_wrong_and_nothing_changes(scene: Scene) -> None:
    supervisor = _supervisor(scene)
    bot = scene.kb.bot
    before = bot.save_settings(supervisor, {"answer_threshold": 0.5})
    with pytest.raises(InvalidFrame, match=r"clarify threshold \(0.6\) must not be above the answer threshold \(0.5\)"):
        bot.save_settings(supervisor, {"clarify_threshold": 0.6})
    hook = {"name": "orders", "pattern": "order (", "url": "https://shop.example/kefu", "secret": None}
    with pytest.raises(InvalidFrame, match="webhook orders: the pattern is not a regular expression"):
        bot.save_settings(supervisor, {"webhooks": [hook]})
    with pytest.raises(InvalidFrame, match="names must differ"):
        bot.save_settings(supervisor, {"webhooks": [{**hook, "pattern": "a"}, {**hook, "pattern": "b"}]})
    assert bot.settings(scene.agent) == before


def test_a_stale_edit_of_the_settings_is_refused(scene: Scene) -> None:
    from chalicelib.domain.errors import BotSettingsChanged

    supervisor = _supervisor(scene)
    first = scene.kb.bot.save_settings(supervisor, {"margin": 0.2}, version=0)
    scene.kb.bot.save_settings(supervisor, {"margin": 0.3}, version=first.version)
    with pytest.raises(BotSettingsChanged, match="meanwhile"):
        scene.kb.bot.save_settings(supervisor, {"margin": 0.4}, version=first.version)
    assert scene.kb.bot.settings(scene.agent).margin == 0.3


def test_trying_a_question_says_what_the_bot_would_do_and_writes_nothing(scene: Scene) -> None:
    bot = scene.kb.bot
    answer = bot.try_question(scene.agent, "how long does a refund take?")
    assert (answer.kind, [a[0] for a in answer.articles]) == ("answer", ["refund-time.en"])
    assert answer.best_confidence is not None and answer.best_confidence >= answer.thresholds.answer
    # The same question at trial thresholds no article reaches: handed over, nothing saved.
    strict = bot.try_question(scene.agent, "how long does a refund take?", answer_threshold=1.0,
                              clarify_threshold=1.0)
    assert (strict.kind, strict.reason) == ("handoff", "no_answer")
    assert "refund-time.en" in [a[0] for a in strict.articles]  # offered to read while waiting
    vague = bot.try_question(scene.agent, "return", answer_threshold=1.0, clarify_threshold=0.2, margin=1.0)
    assert vague.kind == "clarify" and 2 <= len(vague.articles) <= 3
    assert bot.try_question(scene.agent, "I want to talk to a human").reason == "asked_for_human"
    assert bot.try_question(scene.agent, "你好").kind == "greet"
    assert bot.settings(scene.agent).version == 0 and not scene.kb.repo.unanswered(scene.tenant.tenant_id, 10)
    with pytest.raises(InvalidFrame, match="must not be above"):
        bot.try_question(scene.agent, "refund", answer_threshold=0.3, clarify_threshold=0.5)


def test_trying_a_question_names_the_webhook_that_would_answer_it(scene: Scene) -> None:
    hook = Webhook("order-status", r"order\s*#?\s*(\d{4,})", "https://shop.example/kefu")
    scene.kb.repo.save_settings(BotSettings(scene.tenant.tenant_id, webhooks=[hook]))
    trial = scene.kb.bot.try_question(scene.agent, "where is order #12345")
    assert (trial.kind, trial.webhook) == ("integration", "order-status")
    assert scene.kb.webhooks.calls == []  # named, not called


# ------------------------------------------------------------------ the optional language-model check


def test_an_article_check_can_answer_what_the_bot_would_hand_over_and_hand_over_what_it_would_answer(
        scene: Scene) -> None:
    asked: list[tuple[str, str, str]] = []

    def judge(question: str, title: str, body: str, locale: str) -> bool | None:
        asked.append((question, title, locale))
        return "knickers" in question  # the return policy answers this; not the refund question

    scene.kb.bot._judge = judge
    scene.say("Can I return knickers if they dont fit? still in the packet")  # handed over without the check
    answer = scene.bot_messages()[-1]["text"]
    assert answer.startswith("Return policy") and "Did this help?" in answer
    assert asked[0][1:] == ("Return policy", "en")  # the closest article, not the other two offered
    scene.say("how long does a refund take?")  # answered without the check
    assert scene.bot_messages()[-1]["text"].startswith("I'm bringing in a member of our team")
    assert scene.state().handoff_reason == "no_answer"
    counters = scene.kb.repo.counters(scene.tenant.tenant_id)
    assert counters["model_answered"] == 1 and counters["model_handed_over"] == 1
    assert [q.text for q in scene.kb.repo.unanswered(scene.tenant.tenant_id, 10)] == ["how long does a refund take?"]


def test_a_turn_retried_after_a_lost_race_asks_the_model_once_and_lists_the_question_once(
        scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def judge(question: str, title: str, body: str, locale: str) -> bool | None:
        asked.append(question)
        return False

    scene.kb.bot._judge = judge
    scene.say("hello")  # the conversation and the bot's state exist
    repo, save, lost = scene.kb.repo, scene.kb.repo.save_state, []

    def save_after_another(state: Any) -> bool:
        if not lost:  # another invocation wrote the state first: this write's version is stale
            lost.append(state.version)
            save(repo.state(state.tenant_id, state.conversation_id))
        return save(state)

    monkeypatch.setattr(repo, "save_state", save_after_another)
    scene.say("how long does a refund take?")
    assert lost and asked == ["how long does a refund take?"]
    assert scene.state().handoff_reason == "no_answer"
    assert repo.counters(scene.tenant.tenant_id)["model_handed_over"] == 1
    assert [q.text for q in repo.unanswered(scene.tenant.tenant_id, 10)] == ["how long does a refund take?"]
    assert sum(m["text"].startswith("I'm bringing in a member of our team") for m in scene.bot_messages()) == 1


def test_without_an_opinion_or_when_it_fails_the_check_changes_nothing_and_never_judges_a_request_for_a_person(
        scene: Scene) -> None:
    calls: list[str] = []

    def judge(question: str, title: str, body: str, locale: str) -> bool | None:
        calls.append(question)
        if "paypal" in question:
            raise RuntimeError("Bedrock throttled")
        return None

    scene.kb.bot._judge = judge
    scene.say("how long does a refund take?")
    assert scene.bot_messages()[-1]["text"].startswith("When will I get my refund?")
    scene.say("can i pay with paypal")
    assert scene.bot_messages()[-1]["text"].startswith("Payment methods")
    scene.say("hello")
    scene.say("I want to talk to a human")
    assert calls == ["how long does a refund take?", "can i pay with paypal"]
    assert scene.state().handoff_reason == "asked_for_human"
    assert "model_answered" not in scene.kb.repo.counters(scene.tenant.tenant_id)


def test_trying_a_question_shows_the_checks_word_and_still_writes_nothing(scene: Scene) -> None:
    scene.kb.bot._judge = lambda question, title, body, locale: title == "Return policy"
    trial = scene.kb.bot.try_question(scene.agent, "Can I return knickers if they dont fit? still in the packet")
    assert (trial.kind, trial.model_check, [a[0] for a in trial.articles]) == ("answer", "answers", ["return-policy.en"])
    refused = scene.kb.bot.try_question(scene.agent, "how long does a refund take?")
    assert (refused.kind, refused.reason, refused.model_check) == ("handoff", "no_answer", "does_not_answer")
    assert scene.kb.repo.counters(scene.tenant.tenant_id) == {}
    scene.kb.bot._judge = None
    assert scene.kb.bot.try_question(scene.agent, "how long does a refund take?").model_check is None
