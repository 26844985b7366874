"""The bot: answers a visitor from the knowledge base while no agent is engaged, asks
when unsure, and hands over to a person — on request, on a complaint or anger (raising
the priority), when it has no answer, after two failed answers in a row, or when a site
integration fails. Each answer asks "did this help?".

It runs as a `ChatService.after_visitor_message` hook, in the Lambda that stored the
visitor's message (after the ack and the fan-out), and speaks through
`ChatService.send_message` as a `bot` sender, so its messages are ordinary, ordered,
stored messages that agents see in the history. Its per-conversation state is one item
written conditionally (`BotRepository.save_state`), so two messages handled by two
Lambdas at once cannot both hand over.
"""
from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..domain import protocol as p
from ..domain.clock import Clock
from ..domain.errors import BotSettingsChanged, Forbidden, IntegrationFailed, InvalidFrame
from ..domain.ids import new_id
from ..domain.knowledge import (
    BotRepository,
    BotSettings,
    BotState,
    UnansweredQuestion,
    Webhook,
    WebhookCaller,
)
from ..domain.model import Connection, Conversation, Identity, Message, Role
from .knowledge import KnowledgeService
from .notifier import Notifier

if TYPE_CHECKING:
    from ..kb.decide import Decision
    from .chat import ChatService

log = logging.getLogger("kefu.bot")

BOT_NAME = {"en": "Assistant", "zh": "智能助手"}
MAX_STATE_ATTEMPTS = 4
SETTINGS_TTL_MS = 10_000
# How stale the bot's article index may be: an edit reaches the bot of a warm Lambda within
# this time, and a chat costs no read of the knowledge base's revision per message.
REVISION_CHECK_MS = 10_000
_YES = re.compile(r"^\s*(yes|yep|yeah|yup|y|ok|okay|thanks|thank you|thx|great|perfect|it did|helpful|"
                  r"是|是的|有用|有帮助|好的|好|谢谢|解决了|可以了|明白了)\s*[.!~。！]*\s*$", re.IGNORECASE)
_NO = re.compile(r"^\s*(no|nope|nah|n|not really|it didn'?t|didn'?t help|not helpful|wrong|"
                 r"没有|没用|不是|不对|没帮助|没有帮助|不行|没解决)\s*[.!~。！]*\s*$", re.IGNORECASE)
_CHOICE = re.compile(r"^\s*#?([1-9])\s*[.)。]?\s*$")

TEXT = {
    "en": {
        "helpful": "Did this help?",
        "clarify": "I'm not sure which of these you mean:",
        "clarify_end": "Reply with a number, or tell me more. You can ask for a person at any time.",
        "clarify_one": "Is this what you mean?",
        "clarify_end_one": "Reply 1 for it, or tell me more. You can ask for a person at any time.",
        "thanks": "Glad I could help! Anything else?",
        "retry": "Sorry about that. Could you tell me a bit more? You can also ask for a person at any time.",
        "handoff": "I'm bringing in a member of our team — they will see our conversation so far.",
        "handoff_urgent": "I'm sorry about this. I'm bringing in a member of our team right away — they will "
                          "see our conversation so far.",
        "integration": "Let me check that for you…",
        "read": "While you wait, one of these articles may already answer it:",
        "solved": "Glad that answered it! If you still need a person, just write here.",
        "welcome": "You're welcome! Ask me anything else at any time.",
    },
    "zh": {
        "helpful": "这个回答对您有帮助吗？",
        "clarify": "您想问的是以下哪一个？",
        "clarify_end": "请回复序号，或者再描述一下您的问题。随时可以输入“转人工”。",
        "clarify_one": "您是想问这个吗？",
        "clarify_end_one": "回复 1 查看，或者再描述一下您的问题。随时可以输入“转人工”。",
        "thanks": "很高兴能帮到您！还有其他问题吗？",
        "retry": "抱歉没能帮到您。可以再具体描述一下吗？也可以随时输入“转人工”。",
        "handoff": "正在为您转接人工客服，客服会看到我们之前的对话。",
        "handoff_urgent": "非常抱歉给您带来不便，正在为您优先转接人工客服，客服会看到我们之前的对话。",
        "integration": "正在为您查询……",
        "read": "等待期间，以下文章也许已经能解答您的问题：",
        "solved": "很高兴这篇文章解答了您的问题！如果还需要人工客服，直接在这里留言即可。",
        "welcome": "不客气！还有问题随时问我。",
    },
}
REASON_TEXT = {
    "asked_for_human": "the visitor asked for a person",
    "complaint": "a complaint (priority raised to urgent)",
    "angry": "the visitor is upset (priority raised to urgent)",
    "no_answer": "no article answers the question",
    "two_failed_answers": "two answers in a row did not help",
    "integration_failed": "a site integration failed",
    "not_helpful": "the answer did not help",
}
URGENT_REASONS = ("complaint", "angry")


@dataclass(frozen=True)
class Handoff:
    """What the bot hands over: passed to `BotService.on_handoff` callbacks (routing)."""

    tenant_id: str
    conversation_id: str
    reason: str
    priority: str  # "urgent" for complaints and anger, else "normal"
    question_type: str
    last_text: str


@dataclass(frozen=True)
class Trial:
    """What the bot would do with a question (`BotService.try_question`): `kind` is a
    decision kind, "integration" (a webhook's pattern matches) or "nothing_to_answer_from"
    (no published article); `articles` are (id, title, locale, confidence) of what it would
    answer with, offer to choose from, or offer to read while the visitor waits."""

    kind: str
    reason: str | None
    locale: str
    thresholds: Any  # kb.decide.Thresholds
    articles: list[tuple[str, str, str, float]] = field(default_factory=list)
    best_confidence: float | None = None
    webhook: str | None = None
    model_check: str | None = None  # the language model's word on the article: "answers" / "does_not_answer"


PriorityRaiser = Callable[[str, str, str], None]  # (tenant_id, conversation_id, priority)
# An optional answer writer (e.g. an LLM such as Amazon Bedrock, grounded on the article):
# (visitor's question, article title, article text, locale) → the answer to send, or None
# to send the article itself. Off unless bootstrap passes one; any failure falls back.
AnswerWriter = Callable[[str, str, str, str], "str | None"]
# An optional reader (adapters/llm.py, a model on Amazon Bedrock): (visitor's message, article
# title, article text, locale) → True if the article answers it, False if not, None for no
# opinion; it can overrule the bot's best article (kb.decide.overrule). Off unless configured.
ArticleJudge = Callable[[str, str, str, str], "bool | None"]


class BotService:
    def __init__(self, knowledge: KnowledgeService, repo: BotRepository, chat: ChatService, notifier: Notifier,
                 clock: Clock, webhooks: WebhookCaller, raise_priority: PriorityRaiser | None = None,
                 answer_writer: AnswerWriter | None = None,
                 is_supervisor: Callable[[Identity], bool] | None = None,
                 judge: ArticleJudge | None = None) -> None:
        self._knowledge = knowledge
        self._repo = repo
        self._chat = chat
        self._notifier = notifier
        self._clock = clock
        self._webhooks = webhooks
        self._raise_priority = raise_priority
        self._answer_writer = answer_writer
        self._supervisor = is_supervisor
        self._judge = judge
        self.on_handoff: list[Callable[[Handoff], None]] = []

    # ------------------------------------------------------------ settings (REST)

    def settings(self, identity: Identity) -> BotSettings:
        if not identity.is_agent:
            raise Forbidden("only agents see the bot's settings")
        return self._repo.settings(identity.tenant_id)

    def save_settings(self, identity: Identity, data: dict[str, Any], version: int | None = None) -> BotSettings:
        """Change the fields in `data`; those left out keep their current values. A webhook
        sent without a secret keeps the secret stored under its name; an empty greeting is
        the default one. With `version` (the settings the editor saw) the save fails with
        BotSettingsChanged if someone saved since; without, the change is merged into what
        is stored at the moment of writing (a conditional write, retried), so two partial
        changes at once both land. Supervisors and admins only: webhooks send visitors'
        words to a URL."""
        if not identity.is_agent:
            raise Forbidden("only agents change the bot's settings")
        if not self._is_supervisor(identity):
            raise Forbidden("only supervisors and admins change the bot's settings")
        for _attempt in range(MAX_STATE_ATTEMPTS):
            current = self._repo.settings(identity.tenant_id)
            if version is not None and current.version != version:
                raise BotSettingsChanged("someone changed the bot's settings meanwhile: reload them")
            updated = self._merged(current, data, identity)
            if self._repo.save_settings(updated, current.version):
                return updated
        raise BotSettingsChanged("the bot's settings kept changing while saving: try again")

    def _merged(self, current: BotSettings, data: dict[str, Any], identity: Identity) -> BotSettings:
        defaults = BotSettings(current.tenant_id)
        changes = {k: v for k, v in data.items() if v is not None and k != "webhooks"}
        for greeting in ("greeting_en", "greeting_zh"):
            if changes.get(greeting, None) == "":
                changes[greeting] = getattr(defaults, greeting)
        webhooks = current.webhooks
        if data.get("webhooks") is not None:
            secrets = {w.name: w.secret for w in current.webhooks}
            webhooks = []
            for w in data["webhooks"]:
                secret = w.get("secret")
                webhooks.append(Webhook(w["name"], w["pattern"], w["url"],
                                        secrets.get(w["name"], "") if secret is None else secret))
            names = [w.name for w in webhooks]
            if len(set(names)) != len(names):
                raise InvalidFrame("webhook names must differ from each other")
            for webhook in webhooks:
                try:
                    re.compile(webhook.pattern)
                except re.error as error:
                    raise InvalidFrame(f"webhook {webhook.name}: the pattern is not a regular expression: "
                                       f"{error}") from None
        updated = BotSettings(**{**asdict(current), **changes, "webhooks": webhooks,
                                 "tenant_id": current.tenant_id, "updated_at": self._clock.now_ms(),
                                 "updated_by": identity.display_name or identity.principal_id})
        _check_thresholds(updated.answer_threshold, updated.clarify_threshold)
        return updated

    def try_question(self, identity: Identity, text: str, answer_threshold: float | None = None,
                     clarify_threshold: float | None = None, margin: float | None = None) -> Trial:
        """What the bot would do with `text` as a visitor's first question, at the stored
        thresholds or at those given (to try before saving). Writes nothing."""
        from ..kb.decide import Thresholds, decide
        from ..kb.text import detect_locale

        if not identity.is_agent:
            raise Forbidden("only agents try the bot")
        settings = self._repo.settings(identity.tenant_id)
        answer = settings.answer_threshold if answer_threshold is None else answer_threshold
        clarify = settings.clarify_threshold if clarify_threshold is None else clarify_threshold
        _check_thresholds(answer, clarify)
        thresholds = Thresholds(answer, clarify, settings.margin if margin is None else margin)
        locale = detect_locale(text)
        found = _webhook_for(settings, text)
        if found is not None:
            return Trial("integration", None, locale, thresholds, webhook=found[0].name)
        index = self._knowledge.index(identity.tenant_id)
        if len(index) == 0:
            return Trial("nothing_to_answer_from", None, locale, thresholds)
        decision, check = self._checked(decide(text, index, thresholds), text, index, thresholds)
        shown = decision.suggestions if decision.kind == "handoff" else decision.hits
        confidence = {h.doc_id: h.confidence for h in shown}
        articles = [(a.article_id, a.title, a.locale, confidence[a.article_id])
                    for a in self._published(identity.tenant_id, [h.doc_id for h in shown])]
        best = decision.hits[0].confidence if decision.hits else None
        return Trial(decision.kind, decision.reason, locale, thresholds, articles=articles, best_confidence=best,
                     model_check=check)

    def _checked(self, decision: Decision, text: str, index: Any, thresholds: Any) -> tuple[Decision, str | None]:
        """The decision after the optional reader's word on its article (none configured, no
        article to ask about, or no opinion: unchanged), and that word."""
        from ..kb.decide import candidate, overrule

        hit = candidate(decision) if self._judge is not None else None
        document = index.documents.get(hit.doc_id) if hit is not None else None
        if self._judge is None or hit is None or document is None:
            return decision, None
        try:
            answers = self._judge(text, document.title, document.body, document.locale)
        except Exception:  # an optional reader never stops the bot
            log.exception("the article check failed; deciding without it")
            answers = None
        if answers is None:
            return decision, None
        return overrule(decision, hit, answers, thresholds), "answers" if answers else "does_not_answer"

    def _is_supervisor(self, identity: Identity) -> bool:
        return self._supervisor is not None and self._supervisor(identity)

    def _tenant_settings(self, tenant_id: str) -> BotSettings:
        # A copy up to SETTINGS_TTL_MS old will do; the repository keeps it fresh by fetching it
        # along with the conversation the message path reads anyway (no read of its own).
        return self._repo.settings(tenant_id, max_age_ms=SETTINGS_TTL_MS)

    # ------------------------------------------------------------ the chat hook

    def after_visitor_message(self, connection: Connection, conversation: Conversation, message: Message) -> None:
        """A visitor's message was stored: answer it if no agent is engaged."""
        if (conversation.assignee_id and message.seq > 1) or not message.text.strip():
            # An agent has the conversation (or it is only an attachment). The first message
            # is the bot's to try even if an agent took the conversation as it was created.
            return
        settings = self._tenant_settings(conversation.tenant_id)
        if not settings.enabled:
            return
        index = self._knowledge.index(conversation.tenant_id, max_age_ms=REVISION_CHECK_MS)
        if len(index) == 0:
            return  # nothing to answer from: the bot stays out of the way
        from ..kb.text import detect_locale

        text, locale = message.text, detect_locale(message.text)
        once = _Once()  # what a retried turn must not do twice (ask the model, list the question)
        for _attempt in range(MAX_STATE_ATTEMPTS):
            state = self._repo.state(conversation.tenant_id, conversation.conversation_id)
            if state.handed_off:
                return
            if self._turn(conversation, state, settings, index, text, locale, once):
                return
        log.warning("bot state kept changing; giving up on this message",
                    extra={"conversation_id": conversation.conversation_id})

    def _turn(self, conversation: Conversation, state: BotState, settings: BotSettings, index: Any,
              text: str, locale: str, once: _Once) -> bool:
        """One decision; False if the state changed under us (the caller reads it again with the
        same `once`: the message's decision, the model's word and its listing as unanswered are
        made once however often the state's write has to be retried)."""
        from ..kb.decide import Thresholds, decide

        if state.last_article_id and (_YES.match(text) or _NO.match(text)):
            return self._feedback(conversation, state, bool(_YES.match(text)), locale)
        choice = _CHOICE.match(text)
        if state.candidates and choice and int(choice.group(1)) <= len(state.candidates):
            return self._answer(conversation, state, state.candidates[int(choice.group(1)) - 1], locale, text)
        found = _webhook_for(settings, text)
        if found is not None:
            return self._integration(conversation, state, *found, text, locale)

        if once.decision is None:
            thresholds = Thresholds(settings.answer_threshold, settings.clarify_threshold, settings.margin)
            first = decide(text, index, thresholds)
            once.decision, _check = self._checked(first, text, index, thresholds)
            if once.decision.kind != first.kind:  # the reader overruled the bot: a tenant sees how often
                self._repo.count(conversation.tenant_id, "model_answered" if once.decision.kind == "answer"
                                 else "model_handed_over")
        decision = once.decision
        if decision.kind == "handoff":
            if decision.reason == "no_answer" and not once.listed:
                once.listed = True
                self._repo.add_unanswered(UnansweredQuestion(
                    conversation.tenant_id, new_id("q"), text[:500], locale, conversation.conversation_id,
                    "no_answer", self._clock.now_ms()))
            return self._handoff(conversation, state, decision.reason or "no_answer", text, locale,
                                 decision.question_type, suggestions=[h.doc_id for h in decision.suggestions])
        if decision.kind == "thanks":
            return self._say(conversation, state, TEXT[locale]["welcome"], locale)
        if decision.kind == "greet":
            return self._say(conversation, state, settings.greeting_zh if locale == "zh" else settings.greeting_en,
                             locale)
        if decision.kind == "clarify":
            state.last_question = text[:500]  # the question a chosen candidate will answer
            return self._clarify(conversation, state, decision, locale)
        assert decision.best is not None
        if decision.best.doc_id == state.last_article_id:
            # Asked again after the same answer: that answer did not help.
            return self._failed(conversation, state, text, locale)
        state.last_question = text[:500]  # listed as unanswered if the answer does not help
        return self._answer(conversation, state, decision.best.doc_id, locale, text)

    # ------------------------------------------------------------ visitor frames

    def handle_handoff(self, connection: Connection, frame: p.Frame) -> None:
        assert isinstance(frame, p.BotHandoff)
        conversation = self._visitor_conversation(connection, frame.conversation_id)
        if conversation is None:
            return
        for _attempt in range(MAX_STATE_ATTEMPTS):
            state = self._repo.state(conversation.tenant_id, conversation.conversation_id)
            if state.handed_off or self._handoff(conversation, state, "asked_for_human", "", "en", "pre_sales",
                                                 locale_from_history=True):
                return

    def handle_feedback(self, connection: Connection, frame: p.Frame) -> None:
        assert isinstance(frame, p.BotFeedback)
        conversation = self._visitor_conversation(connection, frame.conversation_id)
        if conversation is None:
            return
        for _attempt in range(MAX_STATE_ATTEMPTS):
            state = self._repo.state(conversation.tenant_id, conversation.conversation_id)
            if state.handed_off or not state.last_article_id or state.last_answer_seq != frame.seq:
                return  # not the answer awaiting feedback: nothing to do
            if self._feedback(conversation, state, frame.helpful, state_locale(state)):
                return

    def handle_choose(self, connection: Connection, frame: p.Frame) -> None:
        assert isinstance(frame, p.BotChoose)
        conversation = self._visitor_conversation(connection, frame.conversation_id)
        if conversation is None:
            return
        for _attempt in range(MAX_STATE_ATTEMPTS):
            state = self._repo.state(conversation.tenant_id, conversation.conversation_id)
            if state.handed_off or not state.candidates:
                return
            if frame.article_id is None:
                done = self._failed(conversation, state, "", state_locale(state))
            elif frame.article_id in state.candidates:
                done = self._answer(conversation, state, frame.article_id, state_locale(state))
            else:
                raise InvalidFrame("that article was not offered")
            if done:
                return

    def handle_solved(self, connection: Connection, frame: p.Frame) -> None:
        """After a hand-off: an article offered to read while waiting answered the question.
        Counted as helped by the bot; the visitor is thanked and the agents are told (the
        conversation stays for them to resolve: a person may be answering already)."""
        assert isinstance(frame, p.BotSolved)
        if connection.role is not Role.VISITOR:
            raise Forbidden("only the visitor answers the bot")
        conversation = self._chat.conversation(connection.identity, frame.conversation_id)  # theirs, or an error
        for _attempt in range(MAX_STATE_ATTEMPTS):
            state = self._repo.state(conversation.tenant_id, conversation.conversation_id)
            if frame.article_id not in state.reading:
                if state.resolved_by_bot:
                    return  # said already (a second tab, a double click)
                raise InvalidFrame("that article was not offered")
            state.reading, state.resolved_by_bot = [], True
            if not self._save(state):
                continue
            locale = state_locale(state)
            self._repo.count(conversation.tenant_id, "helpful")
            self._repo.count(conversation.tenant_id, "solved_while_waiting")
            self._post(conversation, TEXT[locale]["solved"], locale)
            title = next((a.title for a in self._published(conversation.tenant_id, [frame.article_id])),
                         frame.article_id)
            self._post(conversation, f"The visitor says \u201c{title}\u201d answered their question while "
                                     "waiting; the conversation can probably be resolved.", locale, internal=True)
            return

    def _visitor_conversation(self, connection: Connection, conversation_id: str | None) -> Conversation | None:
        if connection.role is not Role.VISITOR:
            raise Forbidden("only the visitor answers the bot")
        conversation = self._chat.conversation(connection.identity, conversation_id) if conversation_id else None
        if conversation is None:
            return None
        return None if conversation.assignee_id else conversation

    # ------------------------------------------------------------ what the bot does

    def _answer(self, conversation: Conversation, state: BotState, article_id: str, locale: str,
                question: str = "") -> bool:
        article = self._knowledge.published(conversation.tenant_id, article_id)
        state.candidates = []
        state.last_article_id = article.article_id
        state.answers += 1
        state.locale = article.locale
        if not self._save(state):
            return False
        from ..kb.markdown import markdown_to_text

        body = markdown_to_text(article.body)
        written = self._write_answer(question, article.title, body, article.locale) if question else None
        text = f"{written or article.title + chr(10) * 2 + body}\n\n{TEXT[article.locale]['helpful']}"
        seq = self._post(conversation, text, article.locale)
        state.last_answer_seq = seq
        self._save(state)  # best effort: feedback by frame names this seq
        self._repo.count(conversation.tenant_id, "answers")
        self._prompt(conversation, seq, "feedback", article.locale,
                     article=p.BotArticle(id=article.article_id, title=article.title))
        return True

    def _published(self, tenant_id: str, article_ids: list[str]) -> list[Any]:
        articles = []
        for article_id in article_ids:
            try:
                articles.append(self._knowledge.published(tenant_id, article_id))
            except Exception:  # unpublished since the index was built
                continue
        return articles

    def _clarify(self, conversation: Conversation, state: BotState, decision: Decision, locale: str) -> bool:
        articles = self._published(conversation.tenant_id, [hit.doc_id for hit in decision.hits])
        state.candidates = [a.article_id for a in articles]
        state.locale = locale
        if not self._save(state):
            return False
        one = "_one" if len(articles) == 1 else ""  # not "which of these" for a list of one
        lines = [TEXT[locale]["clarify" + one], *(f"{i}. {a.title}" for i, a in enumerate(articles, 1)),
                 TEXT[locale]["clarify_end" + one]]
        seq = self._post(conversation, "\n".join(lines), locale)
        self._repo.count(conversation.tenant_id, "clarifications")
        self._prompt(conversation, seq, "choose", locale,
                     candidates=[p.BotArticle(id=a.article_id, title=a.title) for a in articles])
        return True

    def _feedback(self, conversation: Conversation, state: BotState, helpful: bool, locale: str) -> bool:
        if not helpful:
            if state.last_article_id and state.last_question:
                # A question the bot could not answer after all: listed for the workbench, with
                # the others, as a candidate for a new article or a wording to teach.
                self._repo.add_unanswered(UnansweredQuestion(
                    conversation.tenant_id, new_id("q"), state.last_question, state.locale,
                    conversation.conversation_id, "not_helpful", self._clock.now_ms(), state.last_article_id))
            return self._failed(conversation, state, "", locale)
        state.last_article_id, state.failures, state.resolved_by_bot = None, 0, True
        if not self._save(state):
            return False
        self._repo.count(conversation.tenant_id, "helpful")
        self._post(conversation, TEXT[locale]["thanks"], locale)
        return True

    def _failed(self, conversation: Conversation, state: BotState, text: str, locale: str) -> bool:
        """The visitor said the answer did not help, chose none of the candidates, or asked again."""
        state.failures += 1
        self._repo.count(conversation.tenant_id, "not_helpful")
        if state.failures >= 2:
            return self._handoff(conversation, state, "two_failed_answers", text, locale, "pre_sales")
        state.last_article_id, state.candidates = None, []
        if not self._save(state):
            return False
        self._post(conversation, TEXT[locale]["retry"], locale)
        return True

    def _say(self, conversation: Conversation, state: BotState, text: str, locale: str) -> bool:
        self._post(conversation, text, locale)
        return True

    def _integration(self, conversation: Conversation, state: BotState, webhook: Webhook, match: re.Match[str],
                     text: str, locale: str) -> bool:
        value = match.group(1) if match.groups() else match.group(0)
        try:
            answer = self._webhooks.call(webhook, {"intent": webhook.name, "value": value, "text": text,
                                                   "visitor_id": conversation.visitor_id, "locale": locale})
            reply = answer.get("reply")
            if not isinstance(reply, str) or not reply.strip():
                raise IntegrationFailed("the integration's answer has no reply text")
        except IntegrationFailed as error:
            log.info("integration failed", extra={"webhook": webhook.name, "error": error.message})
            self._repo.count(conversation.tenant_id, "integration_failures")
            return self._handoff(conversation, state, "integration_failed", text, locale, "after_sales",
                                 detail=f"{webhook.name}: {error.message}")
        state.failures, state.last_article_id, state.candidates = 0, None, []
        if not self._save(state):
            return False
        self._post(conversation, reply.strip()[:p.MAX_TEXT_CHARS], locale)
        self._repo.count(conversation.tenant_id, "integration_answers")
        return True

    def _handoff(self, conversation: Conversation, state: BotState, reason: str, text: str, locale: str,
                 question_type: str, detail: str = "", locale_from_history: bool = False,
                 suggestions: list[str] | None = None) -> bool:
        """Hand the conversation to a person, once: the conditional state write decides.
        `suggestions`: the closest articles of a question the bot could not answer, offered
        to read while the visitor waits (the right one often is among them)."""
        if locale_from_history:
            locale = state_locale(state)
        if reason == "asked_for_human" and state.last_question:
            from ..kb.classify import classify_question, message_type

            # "talk to a human" (words or button) says nothing of the subject: the question the
            # bot was last asked does (a refund question is after-sales, not the default pre-sales).
            if message_type(text) is None and message_type(state.last_question) is not None:
                question_type = classify_question(state.last_question)
        reading = self._published(conversation.tenant_id, suggestions or [])
        state.handed_off, state.handoff_reason, state.candidates = True, reason, []
        state.reading, state.locale = [a.article_id for a in reading], locale
        if not self._save(state):
            return False
        priority = "urgent" if reason in URGENT_REASONS else "normal"
        if priority == "urgent" and self._raise_priority is not None:
            self._raise_priority(conversation.tenant_id, conversation.conversation_id, priority)
        lines = [TEXT[locale]["handoff_urgent" if priority == "urgent" else "handoff"]]
        if reading:
            lines += ["", TEXT[locale]["read"], *(f"\u2022 {a.title}" for a in reading)]
        seq = self._post(conversation, "\n".join(lines), locale)
        if reading:
            self._prompt(conversation, seq, "read", locale,
                         candidates=[p.BotArticle(id=a.article_id, title=a.title) for a in reading])
        note = [f"Bot handed over: {REASON_TEXT.get(reason, reason)}.", f"Question type: {question_type.replace('_', '-')}."]
        if detail:
            note.append(f"Detail: {detail}")
        if reading:
            note.append("Offered to read meanwhile: " + "; ".join(a.title for a in reading) + ".")
        if text:
            note.append(f"Last message: \u201c{text[:300]}\u201d")
        note.append(f"Bot answers before: {state.answers}; failed in a row: {state.failures}.")
        self._post(conversation, "\n".join(note), locale, internal=True)
        self._repo.count(conversation.tenant_id, "handoffs")
        self._repo.count(conversation.tenant_id, f"handoff_{reason}")
        handoff = Handoff(conversation.tenant_id, conversation.conversation_id, reason, priority, question_type, text)
        for callback in self.on_handoff:
            try:
                callback(handoff)
            except Exception:
                log.exception("on_handoff callback failed")
        return True

    # ------------------------------------------------------------ plumbing

    def _write_answer(self, question: str, title: str, body: str, locale: str) -> str | None:
        if self._answer_writer is None:
            return None
        try:
            written = self._answer_writer(question, title, body, locale)
        except Exception:  # an optional provider never stops the article answer
            log.exception("answer writer failed; sending the article")
            return None
        return written.strip()[:p.MAX_TEXT_CHARS - 200] if written and written.strip() else None

    def _save(self, state: BotState) -> bool:
        state.updated_at = self._clock.now_ms()
        return self._repo.save_state(state)

    def _post(self, conversation: Conversation, text: str, locale: str, internal: bool = False) -> int:
        bot = Connection(connection_id="bot", tenant_id=conversation.tenant_id, role=Role.BOT, principal_id="bot",
                         display_name=BOT_NAME.get(locale, BOT_NAME["en"]), connected_at=0, expires_at=0)
        frame = p.SendMessage(action="message.send", client_msg_id=new_id("bot"),
                              conversation_id=conversation.conversation_id, internal=internal,
                              text=text[:p.MAX_TEXT_CHARS])
        return self._chat.send_message(bot, frame).seq

    def _prompt(self, conversation: Conversation, seq: int, kind: str, locale: str, **fields: Any) -> None:
        """Buttons for message `seq`, labelled in the message's language (`locale`), not the page's."""
        current = self._chat.conversation(Identity(conversation.tenant_id, Role.BOT, "bot"),
                                          conversation.conversation_id)
        frame = p.BotPrompt.model_validate({"conversation_id": conversation.conversation_id, "seq": seq, "kind": kind,
                                            "locale": locale if locale in ("en", "zh") else None, **fields})
        self._notifier.fan_out(current.watchers, frame, current)


@dataclass
class _Once:
    """A visitor message's decision (with the optional model's word) and whether it was listed
    as unanswered: made once, however often the turn's state write is retried."""

    decision: Decision | None = None
    listed: bool = False


def _check_thresholds(answer: float, clarify: float) -> None:
    if clarify > answer:
        raise InvalidFrame(f"the clarify threshold ({clarify:g}) must not be above the answer threshold ({answer:g})")


def _webhook_for(settings: BotSettings, text: str) -> tuple[Webhook, re.Match[str]] | None:
    """The first site integration whose pattern the message matches, with the match."""
    for webhook in settings.webhooks:
        match = re.search(webhook.pattern, text, re.IGNORECASE)
        if match:
            return webhook, match
    return None


def state_locale(state: BotState) -> str:
    return state.locale if state.locale in TEXT else "en"
