"""DynamoDB repositories of the knowledge base and the bot (table `knowledge`)."""
from __future__ import annotations

import json
from dataclasses import asdict

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from ..domain.errors import ArticleChanged, Conflict
from ..domain.knowledge import (
    Article,
    ArticleRepository,
    ArticleVersion,
    BotRepository,
    BotSettings,
    BotState,
    UnansweredQuestion,
    Webhook,
)
from .repositories import _conditional_failed, _transaction_connection
from .ridealong import CACHE
from .tables import KnowledgeItem

META = "meta"
BOT_SETTINGS = "bot"
STATE_TTL_S = 30 * 24 * 3600


def _article_key(article_id: str) -> str:
    return f"a#{article_id}"


def _history_key(article_id: str, version: int) -> str:
    return f"h#{article_id}#{version:06d}"


def _article(item: KnowledgeItem) -> Article:
    return Article(
        tenant_id=item.tenant_id, article_id=item.item_key[2:], title=item.title or "", body=item.body or "",
        locale=item.locale or "en", category=item.category or "",
        phrasings=json.loads(item.phrasings_json or "[]"), status=item.status or "draft",
        version=int(item.version or 1), created_at=int(item.created_at or 0),
        updated_at=int(item.updated_at or 0), updated_by=item.updated_by or "", vectors=item.vectors,
        not_answered=json.loads(item.not_answered_json or "[]"),
    )


class DynamoArticles(ArticleRepository):
    def get(self, tenant_id: str, article_id: str) -> Article | None:
        try:
            return _article(KnowledgeItem.get(tenant_id, _article_key(article_id), consistent_read=True))
        except DoesNotExist:
            return None

    def list_all(self, tenant_id: str) -> list[Article]:
        return [_article(i) for i in KnowledgeItem.query(
            tenant_id, KnowledgeItem.item_key.startswith("a#"), consistent_read=True)]

    def save(self, article: Article, expected_version: int | None) -> None:
        """One transaction: the article (conditional on the version the editor read), its
        history entry, and the tenant's revision counter (so warm bots rebuild their index)."""
        a = article
        item = KnowledgeItem(
            a.tenant_id, _article_key(a.article_id), title=a.title, body=a.body, category=a.category,
            locale=a.locale, phrasings_json=json.dumps(a.phrasings, ensure_ascii=False), status=a.status,
            version=a.version, created_at=a.created_at, updated_at=a.updated_at, updated_by=a.updated_by,
            vectors=a.vectors,
            not_answered_json=json.dumps(a.not_answered, ensure_ascii=False) if a.not_answered else None,
        )
        condition = (KnowledgeItem.item_key.does_not_exist() if expected_version is None
                     else KnowledgeItem.version == expected_version)
        history = KnowledgeItem(
            a.tenant_id, _history_key(a.article_id, a.version), title=a.title, body=a.body, category=a.category,
            locale=a.locale, phrasings_json=item.phrasings_json, status=a.status, version=a.version,
            updated_at=a.updated_at, updated_by=a.updated_by, not_answered_json=item.not_answered_json,
        )
        try:
            with TransactWrite(connection=_transaction_connection()) as tx:
                tx.save(item, condition=condition)
                tx.save(history)
                tx.update(KnowledgeItem(a.tenant_id, META), actions=[KnowledgeItem.value.add(1)])
        except TransactWriteError as error:
            reasons = [getattr(r, "code", None) for r in (error.cancellation_reasons or [])]
            if "ConditionalCheckFailed" in reasons:
                if expected_version is None:
                    raise Conflict(f"article {a.article_id} already exists") from None
                raise ArticleChanged("the article was saved by someone else meanwhile; reload it") from None
            if "TransactionConflict" in reasons:
                raise ArticleChanged("the article is being saved by someone else; retry") from None
            raise
        CACHE.expire(KnowledgeItem, a.tenant_id, META)  # this container's bot sees the edit at once

    def delete(self, tenant_id: str, article_id: str) -> bool:
        raw = KnowledgeItem._get_connection().delete_item(tenant_id, _article_key(article_id),
                                                          return_values="ALL_OLD")
        if not (raw and raw.get("Attributes")):
            return False
        KnowledgeItem(tenant_id, META).update(actions=[KnowledgeItem.value.add(1)])
        CACHE.expire(KnowledgeItem, tenant_id, META)
        return True

    def history(self, tenant_id: str, article_id: str) -> list[ArticleVersion]:
        return [
            ArticleVersion(article_id, int(i.version or 0), i.title or "", i.body or "", i.category or "",
                           i.locale or "en", tuple(json.loads(i.phrasings_json or "[]")), i.status or "draft",
                           int(i.updated_at or 0), i.updated_by or "", tuple(json.loads(i.not_answered_json or "[]")))
            for i in KnowledgeItem.query(tenant_id, KnowledgeItem.item_key.startswith(f"h#{article_id}#"),
                                         scan_index_forward=False)
        ]

    def revision(self, tenant_id: str, max_age_ms: int = 0) -> int:
        item = CACHE.get(KnowledgeItem, tenant_id, META, max_age_ms)
        return int(item.value or 0) if item is not None else 0

    def store_vectors(self, tenant_id: str, article_id: str, version: int, vectors: bytes) -> bool:
        try:
            KnowledgeItem(tenant_id, _article_key(article_id)).update(
                actions=[KnowledgeItem.vectors.set(vectors)], condition=KnowledgeItem.version == version)
        except UpdateError as error:
            if _conditional_failed(error):
                return False
            raise
        return True


class DynamoBot(BotRepository):
    def settings(self, tenant_id: str, max_age_ms: int = 0) -> BotSettings:
        item = CACHE.get(KnowledgeItem, tenant_id, BOT_SETTINGS, max_age_ms)
        if item is None:
            return BotSettings(tenant_id)
        data = json.loads(item.data_json or "{}")
        webhooks = [Webhook(**w) for w in data.pop("webhooks", [])]
        for key in ("tenant_id", "version"):
            data.pop(key, None)
        return BotSettings(tenant_id, webhooks=webhooks, version=int(item.version or 0), **data)

    def save_settings(self, settings: BotSettings, expected_version: int | None = None) -> bool:
        data = asdict(settings)
        for key in ("tenant_id", "version"):
            data.pop(key)
        version = (expected_version if expected_version is not None else settings.version) + 1
        item = KnowledgeItem(settings.tenant_id, BOT_SETTINGS, data_json=json.dumps(data, ensure_ascii=False),
                             version=version)
        # Settings stored before they had a version count as version 0.
        condition = (None if expected_version is None
                     else (KnowledgeItem.item_key.does_not_exist() | KnowledgeItem.version.does_not_exist())
                     if expected_version == 0 else KnowledgeItem.version == expected_version)
        try:
            item.save(condition=condition)
        except PutError as error:
            if _conditional_failed(error):
                return False
            raise
        settings.version = version
        CACHE.put(item)
        return True

    def state(self, tenant_id: str, conversation_id: str) -> BotState:
        try:
            item = KnowledgeItem.get(tenant_id, f"s#{conversation_id}", consistent_read=True)
        except DoesNotExist:
            return BotState(tenant_id, conversation_id)
        data = json.loads(item.data_json or "{}")
        data.update(tenant_id=tenant_id, conversation_id=conversation_id, version=int(item.version or 0))
        return BotState(**data)

    def save_state(self, state: BotState) -> bool:
        data = asdict(state)
        for key in ("tenant_id", "conversation_id", "version"):
            data.pop(key)
        condition = (KnowledgeItem.item_key.does_not_exist() if state.version == 0
                     else KnowledgeItem.version == state.version)
        try:
            KnowledgeItem(state.tenant_id, f"s#{state.conversation_id}", data_json=json.dumps(data),
                          version=state.version + 1,
                          expires_at=state.updated_at // 1000 + STATE_TTL_S).save(condition=condition)
        except PutError as error:
            if _conditional_failed(error):
                return False
            raise
        state.version += 1
        return True

    def add_unanswered(self, question: UnansweredQuestion) -> None:
        q = question
        KnowledgeItem(q.tenant_id, f"u#{q.created_at:013d}#{q.question_id}", data_json=json.dumps(
            {"question_id": q.question_id, "text": q.text, "locale": q.locale, "conversation_id": q.conversation_id,
             "reason": q.reason, "created_at": q.created_at, "article_id": q.article_id},
            ensure_ascii=False)).save()

    def unanswered(self, tenant_id: str, limit: int) -> list[UnansweredQuestion]:
        return [UnansweredQuestion(tenant_id=tenant_id, **json.loads(i.data_json or "{}"))
                for i in KnowledgeItem.query(tenant_id, KnowledgeItem.item_key.startswith("u#"),
                                             scan_index_forward=False, limit=limit)]

    def remove_unanswered(self, questions: list[UnansweredQuestion]) -> None:
        # A DeleteItem each (at most 50, on an agent's click): the functions' role grants no
        # BatchWriteItem, and this is the only place that would need it.
        for q in questions:
            KnowledgeItem(q.tenant_id, f"u#{q.created_at:013d}#{q.question_id}").delete()

    def count(self, tenant_id: str, name: str, value: int = 1) -> None:
        KnowledgeItem(tenant_id, f"n#{name}").update(actions=[KnowledgeItem.value.add(value)])

    def counters(self, tenant_id: str) -> dict[str, int]:
        return {i.item_key[2:]: int(i.value or 0)
                for i in KnowledgeItem.query(tenant_id, KnowledgeItem.item_key.startswith("n#"))}


def raise_conversation_priority(tenant_id: str, conversation_id: str, priority: str) -> None:
    """Mark the conversation urgent (the bot's escalation); a missing conversation is ignored."""
    from .tables import ConversationItem

    try:
        ConversationItem(tenant_id, conversation_id).update(
            actions=[ConversationItem.priority.set(priority)],
            condition=ConversationItem.conversation_id.exists(),
        )
    except UpdateError as error:
        if not _conditional_failed(error):
            raise
