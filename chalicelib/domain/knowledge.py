"""Knowledge base and bot: plain data and the ports their services need.

Kept beside (not inside) `model.py` and `ports.py` so the knowledge base can grow
without touching the chat's core types.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

ARTICLE_STATUSES = ("draft", "published")
LOCALES = ("en", "zh")


@dataclass
class Article:
    """A knowledge-base article (or FAQ entry) of one tenant, in one locale."""

    tenant_id: str
    article_id: str
    title: str
    body: str  # Markdown; rendered to HTML only by `render_markdown`, raw HTML is escaped
    locale: str = "en"
    category: str = ""
    phrasings: list[str] = field(default_factory=list)  # other ways visitors ask the question
    status: str = "draft"  # draft | published
    version: int = 1
    created_at: int = 0
    updated_at: int = 0
    updated_by: str = ""
    # Its language's sentence encoder's vectors of its passages (kb.embed.pack), kept so a
    # cold bot need not compute them; recomputed when missing or stale.
    vectors: bytes | None = field(default=None, repr=False, compare=False)
    # Questions on its subject it does not answer: the bot hands those over rather than
    # answering with this article (kb.search.Document.not_answered).
    not_answered: list[str] = field(default_factory=list)

    @property
    def published(self) -> bool:
        return self.status == "published"


@dataclass(frozen=True)
class ArticleVersion:
    """One saved state of an article: the edit history."""

    article_id: str
    version: int
    title: str
    body: str
    category: str
    locale: str
    phrasings: tuple[str, ...]
    status: str
    edited_at: int
    edited_by: str
    not_answered: tuple[str, ...] = ()


@dataclass
class UnansweredQuestion:
    tenant_id: str
    question_id: str
    text: str
    locale: str
    conversation_id: str
    reason: str
    created_at: int
    # The article the bot answered it with, when the visitor said that did not help
    # (reason "not_helpful"): the workbench offers to list the question as one that article
    # does not answer.
    article_id: str = ""


@dataclass
class Webhook:
    """A site integration the bot may call: when a visitor's message matches `pattern`
    (a regular expression whose first group is the parameter, e.g. an order number), the
    bot POSTs {"intent", "value", "text", "visitor_id"} to `url` and relays the
    answer's `reply` text."""

    name: str
    pattern: str
    url: str
    secret: str = ""  # sent as X-Kefu-Signature: HMAC-SHA256 of the body


@dataclass
class BotSettings:
    tenant_id: str
    enabled: bool = True
    answer_threshold: float = 0.45
    clarify_threshold: float = 0.37
    margin: float = 0.1
    greeting_en: str = "Hi! I'm the shop's assistant. Ask me anything, or type \"human\" to reach our team."
    greeting_zh: str = "您好！我是智能助手，有问题请直接问我；需要人工请输入“转人工”。"
    webhooks: list[Webhook] = field(default_factory=list)
    updated_at: int = 0
    updated_by: str = ""
    version: int = 0  # bumped by every save (`BotRepository.save_settings` writes conditionally)


@dataclass
class BotState:
    """The bot's part of one conversation (conditional writes keep it consistent)."""

    tenant_id: str
    conversation_id: str
    failures: int = 0  # failed answers in a row
    handed_off: bool = False
    handoff_reason: str | None = None
    last_article_id: str | None = None  # the answer awaiting "did this help?"
    last_question: str = ""  # the visitor's question it answers: listed as unanswered if it did not help
    last_answer_seq: int = 0
    candidates: list[str] = field(default_factory=list)  # articles offered by a clarifying question
    reading: list[str] = field(default_factory=list)  # articles offered to read while waiting (hand-off)
    answers: int = 0
    resolved_by_bot: bool = False
    locale: str = "en"  # the language the bot last spoke in
    updated_at: int = 0
    version: int = 0


class ArticleRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, tenant_id: str, article_id: str) -> Article | None: ...

    @abc.abstractmethod
    def list_all(self, tenant_id: str) -> list[Article]:
        """Every article of the tenant (drafts included)."""

    @abc.abstractmethod
    def save(self, article: Article, expected_version: int | None) -> None:
        """Store the article and a history entry for `article.version` in one transaction.
        `expected_version` None: create (fails with `Conflict` if the id exists);
        otherwise the stored version must equal it (`Conflict` if someone saved meanwhile)."""

    @abc.abstractmethod
    def delete(self, tenant_id: str, article_id: str) -> bool: ...

    @abc.abstractmethod
    def history(self, tenant_id: str, article_id: str) -> list[ArticleVersion]: ...

    @abc.abstractmethod
    def revision(self, tenant_id: str, max_age_ms: int = 0) -> int:
        """A counter raised by every write to the tenant's articles (cache invalidation).
        `max_age_ms` > 0: a value read that recently (by this container) will do."""

    @abc.abstractmethod
    def store_vectors(self, tenant_id: str, article_id: str, version: int, vectors: bytes) -> bool:
        """Keep passage vectors computed for the article's `version` (derived data: no history
        entry, no revision raised). False, and nothing written, when the article is gone or
        is no longer that version (an editor saved meanwhile; that save brought its own)."""


class BotRepository(abc.ABC):
    @abc.abstractmethod
    def settings(self, tenant_id: str, max_age_ms: int = 0) -> BotSettings:
        """The tenant's bot settings; `max_age_ms` > 0: a copy read that recently will do."""

    @abc.abstractmethod
    def save_settings(self, settings: BotSettings, expected_version: int | None = None) -> bool:
        """Store `settings` as version `expected_version + 1` if the stored ones are still
        `expected_version` (0: none stored yet); False, and nothing written, if someone saved
        in between. `expected_version` None writes whatever is stored (seeding)."""

    @abc.abstractmethod
    def state(self, tenant_id: str, conversation_id: str) -> BotState: ...

    @abc.abstractmethod
    def save_state(self, state: BotState) -> bool:
        """Write if nobody else did since `state.version` was read; bumps the version.
        Returns False (and writes nothing) when another writer came first."""

    @abc.abstractmethod
    def add_unanswered(self, question: UnansweredQuestion) -> None: ...

    @abc.abstractmethod
    def unanswered(self, tenant_id: str, limit: int) -> list[UnansweredQuestion]:
        """Most recent first."""

    @abc.abstractmethod
    def remove_unanswered(self, questions: list[UnansweredQuestion]) -> None:
        """Take questions off the list (an agent taught the bot their answer)."""

    @abc.abstractmethod
    def count(self, tenant_id: str, name: str, value: int = 1) -> None:
        """Add to a per-tenant counter (answers, helpful, handoffs...)."""

    @abc.abstractmethod
    def counters(self, tenant_id: str) -> dict[str, int]: ...


class WebhookCaller(abc.ABC):
    @abc.abstractmethod
    def call(self, webhook: Webhook, payload: dict[str, Any]) -> dict[str, Any]:
        """POST the payload; the JSON answer. Raises `IntegrationFailed` on any failure."""


class VectorsJob(abc.ABC):
    """Starts the job that computes the vectors an import had no time for, without waiting
    for it (an asynchronous invoke of the kb_vectors function): for `article_ids`, or every
    article of the tenant that lacks them (None)."""

    @abc.abstractmethod
    def request(self, tenant_id: str, article_ids: list[str] | None = None) -> None: ...
