"""In-memory fakes of the knowledge base's and the bot's ports (see chalicelib/domain/knowledge.py),
with the conditional semantics of `chalicelib.adapters.knowledge`, and `with_bot` to add
the knowledge base and the bot to a `tests.fakes.build_services` world."""
from __future__ import annotations

import copy
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from chalicelib.domain.errors import ArticleChanged, Conflict, IntegrationFailed
from chalicelib.domain.knowledge import (
    Article,
    ArticleRepository,
    ArticleVersion,
    BotRepository,
    BotSettings,
    BotState,
    UnansweredQuestion,
    VectorsJob,
    Webhook,
    WebhookCaller,
)
from chalicelib.domain.model import Identity
from chalicelib.services.bot import BotService
from chalicelib.services.knowledge import KnowledgeService
from chalicelib.services.routing import SUPERVISORS
from tests.fakes import FakeServices


class FakeArticles(ArticleRepository):
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Article] = {}
        self.versions: dict[tuple[str, str], list[ArticleVersion]] = {}
        self.revisions: Counter[str] = Counter()
        self._lock = threading.Lock()

    def get(self, tenant_id: str, article_id: str) -> Article | None:
        return copy.deepcopy(self.items.get((tenant_id, article_id)))

    def list_all(self, tenant_id: str) -> list[Article]:
        return [copy.deepcopy(a) for (t, _), a in self.items.items() if t == tenant_id]

    def save(self, article: Article, expected_version: int | None) -> None:
        key = (article.tenant_id, article.article_id)
        with self._lock:
            current = self.items.get(key)
            if expected_version is None and current is not None:
                raise Conflict("exists")
            if expected_version is not None and (current is None or current.version != expected_version):
                raise ArticleChanged("changed")
            self.items[key] = copy.deepcopy(article)
            a = article
            self.versions.setdefault(key, []).insert(0, ArticleVersion(
                a.article_id, a.version, a.title, a.body, a.category, a.locale, tuple(a.phrasings), a.status,
                a.updated_at, a.updated_by, tuple(a.not_answered)))
            self.revisions[article.tenant_id] += 1

    def delete(self, tenant_id: str, article_id: str) -> bool:
        with self._lock:
            removed = self.items.pop((tenant_id, article_id), None)
            if removed:
                self.revisions[tenant_id] += 1
            return removed is not None

    def history(self, tenant_id: str, article_id: str) -> list[ArticleVersion]:
        return list(self.versions.get((tenant_id, article_id), []))

    def revision(self, tenant_id: str, max_age_ms: int = 0) -> int:
        return self.revisions[tenant_id]

    def store_vectors(self, tenant_id: str, article_id: str, version: int, vectors: bytes) -> bool:
        with self._lock:
            current = self.items.get((tenant_id, article_id))
            if current is None or current.version != version:
                return False
            self.items[(tenant_id, article_id)] = replace(current, vectors=vectors)
            return True


class FakeBotRepository(BotRepository):
    def __init__(self) -> None:
        self.settings_by_tenant: dict[str, BotSettings] = {}
        self.states: dict[tuple[str, str], BotState] = {}
        self.questions: list[UnansweredQuestion] = []
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def settings(self, tenant_id: str, max_age_ms: int = 0) -> BotSettings:
        return copy.deepcopy(self.settings_by_tenant.get(tenant_id) or BotSettings(tenant_id))

    def save_settings(self, settings: BotSettings, expected_version: int | None = None) -> bool:
        with self._lock:
            stored = self.settings_by_tenant.get(settings.tenant_id)
            if expected_version is not None and (stored.version if stored else 0) != expected_version:
                return False
            settings.version = (expected_version if expected_version is not None else settings.version) + 1
            self.settings_by_tenant[settings.tenant_id] = copy.deepcopy(settings)
            return True

    def state(self, tenant_id: str, conversation_id: str) -> BotState:
        return copy.deepcopy(self.states.get((tenant_id, conversation_id)) or BotState(tenant_id, conversation_id))

    def save_state(self, state: BotState) -> bool:
        key = (state.tenant_id, state.conversation_id)
        with self._lock:
            stored = self.states.get(key)
            if (stored.version if stored else 0) != state.version:
                return False
            state.version += 1
            self.states[key] = copy.deepcopy(state)
            return True

    def add_unanswered(self, question: UnansweredQuestion) -> None:
        self.questions.append(copy.deepcopy(question))

    def unanswered(self, tenant_id: str, limit: int) -> list[UnansweredQuestion]:
        mine = [q for q in self.questions if q.tenant_id == tenant_id]
        return sorted(mine, key=lambda q: -q.created_at)[:limit]

    def remove_unanswered(self, questions: list[UnansweredQuestion]) -> None:
        gone = {(q.tenant_id, q.question_id) for q in questions}
        self.questions = [q for q in self.questions if (q.tenant_id, q.question_id) not in gone]

    def count(self, tenant_id: str, name: str, value: int = 1) -> None:
        self.counts[(tenant_id, name)] += value

    def counters(self, tenant_id: str) -> dict[str, int]:
        return {name: n for (t, name), n in self.counts.items() if t == tenant_id}


class FakeWebhooks(WebhookCaller):
    """Answers from `handler(webhook, payload)`; records calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.handler: Callable[[Webhook, dict[str, Any]], dict[str, Any]] = lambda w, p: {"reply": "ok"}

    def call(self, webhook: Webhook, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((webhook.name, payload))
        return self.handler(webhook, payload)


class FakeVectorsJob(VectorsJob):
    """Records the tenants it was asked to fill vectors for (and the articles, in `ids`);
    `error` makes starting it fail."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.ids: list[list[str] | None] = []
        self.error: Exception | None = None

    def request(self, tenant_id: str, article_ids: list[str] | None = None) -> None:
        if self.error is not None:
            raise self.error
        self.requests.append(tenant_id)
        self.ids.append(article_ids)


def failing_webhook(_webhook: Webhook, _payload: dict[str, Any]) -> dict[str, Any]:
    raise IntegrationFailed("the integration answered HTTP 500")


@dataclass
class BotWorld:
    world: FakeServices
    knowledge: KnowledgeService
    bot: BotService
    articles: FakeArticles
    repo: FakeBotRepository
    webhooks: FakeWebhooks
    vectors_job: FakeVectorsJob
    priorities: dict[str, str] = field(default_factory=dict)


def with_bot(world: FakeServices) -> BotWorld:
    """Wire the knowledge base and the bot into `world` the way bootstrap does."""
    articles, repo, webhooks, vectors_job = FakeArticles(), FakeBotRepository(), FakeWebhooks(), FakeVectorsJob()
    knowledge = KnowledgeService(articles, repo, world.tenant_repo, world.clock, vectors_job)
    priorities: dict[str, str] = {}

    def is_supervisor(identity: Identity) -> bool:
        agent = world.agent_repo.get(identity.tenant_id, identity.principal_id)
        return agent is not None and agent.role in SUPERVISORS

    bot = BotService(knowledge, repo, world.chat, world.chat._notifier, world.clock, webhooks,
                     lambda _t, conversation_id, priority: priorities.__setitem__(conversation_id, priority),
                     is_supervisor=is_supervisor)
    world.chat.after_visitor_message.append(bot.after_visitor_message)
    world.chat.frame_handlers.update({"bot.handoff": bot.handle_handoff, "bot.feedback": bot.handle_feedback,
                                      "bot.choose": bot.handle_choose, "bot.solved": bot.handle_solved})
    return BotWorld(world, knowledge, bot, articles, repo, webhooks, vectors_job, priorities)
