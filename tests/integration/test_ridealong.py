"""The bot's settings and the knowledge base's revision ride along the conversation read
(chalicelib/adapters/ridealong.py), against moto: once cached, a due refresh costs no
request of its own, and what another container wrote arrives with the next read."""
from __future__ import annotations

import json
import threading
import uuid
from typing import Any, Iterator

import pytest

from chalicelib.adapters import ridealong
from chalicelib.adapters.knowledge import BOT_SETTINGS, META, DynamoArticles, DynamoBot
from chalicelib.adapters.repositories import DynamoConversations, _transaction_connection
from chalicelib.adapters.tables import ConversationItem, KnowledgeItem
from chalicelib.domain.knowledge import Article, BotSettings

TTL = 10_000


class Requests:
    """DynamoDB operations this test's thread made through the adapters' botocore clients
    (the session's stack may still be busy with earlier tests on its own threads)."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self.thread = threading.get_ident()

    def __call__(self, model: Any = None, **_: Any) -> None:
        if threading.get_ident() == self.thread:
            self.made.append(model.name)

    def take(self) -> list[str]:
        made, self.made = self.made, []
        return made


@pytest.fixture
def requests(stack: object) -> Iterator[Requests]:
    counter = Requests()
    clients = {id(c): c for c in (ConversationItem._get_connection().connection.client,
                                  KnowledgeItem._get_connection().connection.client,
                                  _transaction_connection().client)}
    for client in clients.values():
        client.meta.events.register("before-call.dynamodb", counter)
    yield counter
    for client in clients.values():
        client.meta.events.unregister("before-call.dynamodb", counter)


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ms = 1_000_000.0
        monkeypatch.setattr(ridealong, "_now_ms", lambda: self.ms)

    def advance(self, ms: float) -> None:
        self.ms += ms


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    ridealong.CACHE.clear()
    yield Clock(monkeypatch)
    ridealong.CACHE.clear()


def _conversation(tenant_id: str) -> str:
    conversation_id = f"c_{uuid.uuid4().hex[:12]}"
    ConversationItem(tenant_id, conversation_id, visitor_id="v1", visitor_key=f"{tenant_id}#v1", status="open",
                     status_key=f"{tenant_id}#open", created_at=1, updated_at=1, last_seq=0).save()
    return conversation_id


def _written_elsewhere(tenant_id: str, **settings: Any) -> None:
    """Another container saves the settings: this container's cache is not told."""
    KnowledgeItem(tenant_id, BOT_SETTINGS,
                  data_json=json.dumps({"tenant_id": tenant_id, **settings})).save()


def test_a_due_refresh_rides_along_the_conversation_read(stack: object, requests: Requests, clock: Clock) -> None:
    tenant_id = f"t_{uuid.uuid4().hex[:10]}"
    conversation_id = _conversation(tenant_id)
    bot, conversations = DynamoBot(), DynamoConversations()
    requests.take()

    assert bot.settings(tenant_id, max_age_ms=TTL).enabled == BotSettings(tenant_id).enabled
    assert requests.take() == ["GetItem"]  # the first read is the bot's own
    assert conversations.get(tenant_id, conversation_id) is not None
    assert bot.settings(tenant_id, max_age_ms=TTL) is not None
    assert requests.take() == ["GetItem"]  # fresh: the conversation alone, the settings from the cache

    _written_elsewhere(tenant_id, enabled=False, greeting_en="Hi from elsewhere")
    requests.take()
    clock.advance(TTL * ridealong.REFRESH_AT)
    conversation = conversations.get(tenant_id, conversation_id)
    assert conversation is not None and conversation.conversation_id == conversation_id
    assert requests.take() == ["BatchGetItem"]  # one request: the conversation and the due settings
    settings = bot.settings(tenant_id, max_age_ms=TTL)
    assert (settings.enabled, settings.greeting_en) == (False, "Hi from elsewhere")
    assert requests.take() == []


def test_an_item_that_does_not_exist_is_remembered_as_missing(stack: object, requests: Requests,
                                                              clock: Clock) -> None:
    tenant_id = f"t_{uuid.uuid4().hex[:10]}"
    conversation_id = _conversation(tenant_id)
    articles = DynamoArticles()
    assert articles.revision(tenant_id, max_age_ms=TTL) == 0
    clock.advance(TTL)
    requests.take()
    assert DynamoConversations().get(tenant_id, conversation_id) is not None
    assert DynamoConversations().get(tenant_id, "c_nobody") is None  # still due: rides along again
    assert requests.take() == ["BatchGetItem", "GetItem"]
    assert articles.revision(tenant_id, max_age_ms=TTL) == 0
    assert requests.take() == []


def test_a_missing_conversation_is_none_in_a_batch_too(stack: object, requests: Requests, clock: Clock) -> None:
    tenant_id = f"t_{uuid.uuid4().hex[:10]}"
    DynamoBot().settings(tenant_id, max_age_ms=TTL)
    clock.advance(TTL)
    requests.take()
    assert DynamoConversations().get(tenant_id, "c_nobody") is None
    assert requests.take() == ["BatchGetItem"]


def test_this_containers_own_writes_show_at_once(stack: object, requests: Requests, clock: Clock) -> None:
    tenant_id = f"t_{uuid.uuid4().hex[:10]}"
    conversation_id = _conversation(tenant_id)
    bot, articles = DynamoBot(), DynamoArticles()
    assert articles.revision(tenant_id, max_age_ms=TTL) == 0
    assert bot.settings(tenant_id, max_age_ms=TTL).enabled is True

    bot.save_settings(BotSettings(tenant_id, enabled=False))
    requests.take()
    assert bot.settings(tenant_id, max_age_ms=TTL).enabled is False
    assert requests.take() == []  # the saved copy is the cached one

    articles.save(Article(tenant_id=tenant_id, article_id="hours", title="Opening hours", body="9 to 5"),
                  expected_version=None)
    requests.take()
    assert DynamoConversations().get(tenant_id, conversation_id) is not None
    assert requests.take() == ["BatchGetItem"]  # the edit expired the revision: it rides along
    assert articles.revision(tenant_id, max_age_ms=TTL) == 1
    assert requests.take() == []
    assert articles.revision(tenant_id) == 1  # max_age 0: editors always read
    assert requests.take() == ["GetItem"]


def test_reads_at_the_same_time_fetch_a_due_item_once(stack: object, requests: Requests, clock: Clock) -> None:
    tenant_id = f"t_{uuid.uuid4().hex[:10]}"
    conversation_id = _conversation(tenant_id)
    DynamoBot().settings(tenant_id, max_age_ms=TTL)
    clock.advance(TTL)
    claimed = ridealong.CACHE.stale(tenant_id)  # another thread's read is fetching it now
    assert [e.range_key for e in claimed] == [BOT_SETTINGS]
    requests.take()
    assert DynamoConversations().get(tenant_id, conversation_id) is not None
    assert requests.take() == ["GetItem"]  # left out: it is being fetched already
    clock.advance(ridealong.CLAIM_MS)  # that read never finished: the claim lapses
    assert DynamoConversations().get(tenant_id, conversation_id) is not None
    assert requests.take() == ["BatchGetItem"]
