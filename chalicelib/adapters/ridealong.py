"""Tenant-wide items a warm container caches, refreshed by riding along a read it makes anyway.

The bot needs its tenant's settings and the knowledge base's revision counter for every
visitor message it may answer. Read on their own they cost a GetItem each; cached for a few
seconds they still cost that read whenever the cache had expired, which for a quiet tenant
is nearly every message. Instead, once a container has read such an item through
`CACHE.get`, every later conversation read of the same tenant that finds the item near its
maximum age fetches it in the same BatchGetItem as the conversation (`get_with_stale`). The
message path reads the conversation before any hook runs, so the bot finds its items fresh
and a visitor message costs one read for the conversation, whatever the caches need.

Writes made in this container update or expire the cached copy at once; writes made in other
containers reach it within the maximum age the reader asked for.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, TypeVar

from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

M = TypeVar("M", bound=Model)
Key = tuple[str, str, str]  # table, hash key, range key

# An item is fetched along with a read once it is this share of its maximum age old, so the
# read that needs it next finds it fresh instead of reading it alone.
REFRESH_AT = 0.8
# While one read is fetching a due item, others of the same container leave it out this long.
CLAIM_MS = 2_000
MAX_ENTRIES = 2_000
MAX_UNPROCESSED_ROUNDS = 5


def _now_ms() -> float:
    return time.monotonic() * 1000


@dataclass
class _Entry:
    model: type[Model]
    hash_key: str
    range_key: str
    item: Model | None  # None: the item does not exist (also worth knowing)
    fetched_ms: float
    max_age_ms: int
    claimed_until_ms: float = float("-inf")  # a read is fetching it along (see stale)


class RideAlongCache:
    def __init__(self) -> None:
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._by_tenant: dict[str, set[Key]] = {}
        self._lock = threading.Lock()

    def get(self, model: type[M], hash_key: str, range_key: str, max_age_ms: int) -> M | None:
        """The item (None if it does not exist), read consistently unless a copy at most
        `max_age_ms` old is cached; from then on reads of the tenant refresh it along."""
        key = (model.Meta.table_name, hash_key, range_key)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and _now_ms() - entry.fetched_ms < max_age_ms:
                return entry.item  # type: ignore[return-value]
        try:
            item: M | None = model.get(hash_key, range_key, consistent_read=True)
        except DoesNotExist:
            item = None
        self._store(model, hash_key, range_key, item, max_age_ms)
        return item

    def put(self, item: Model) -> None:
        """This container wrote `item`: cached copies show it at once."""
        hash_key, range_key = _keys(item)
        key = (item.Meta.table_name, hash_key, range_key)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.item, entry.fetched_ms = item, _now_ms()

    def expire(self, model: type[Model], hash_key: str, range_key: str) -> None:
        """This container changed the item without reading it back: refresh it on the next read."""
        with self._lock:
            entry = self._entries.get((model.Meta.table_name, hash_key, range_key))
            if entry is not None:
                entry.fetched_ms = entry.claimed_until_ms = float("-inf")

    def stale(self, tenant_id: str) -> list[_Entry]:
        """The tenant's cached items due for a refresh, claimed for the caller's read: reads
        running at the same time in this container do not fetch them again."""
        now = _now_ms()
        with self._lock:
            due = [e for k in self._by_tenant.get(tenant_id, ()) if (e := self._entries.get(k)) is not None
                   and now - e.fetched_ms >= e.max_age_ms * REFRESH_AT and now >= e.claimed_until_ms]
            for entry in due:
                entry.claimed_until_ms = now + CLAIM_MS
            return due

    def _store(self, model: type[Model], hash_key: str, range_key: str, item: Model | None,
               max_age_ms: int) -> None:
        key = (model.Meta.table_name, hash_key, range_key)
        with self._lock:
            old = self._entries.get(key)
            self._entries[key] = _Entry(model, hash_key, range_key, item, _now_ms(),
                                        max(max_age_ms, old.max_age_ms if old else 0))
            self._entries.move_to_end(key)
            self._by_tenant.setdefault(hash_key, set()).add(key)
            while len(self._entries) > MAX_ENTRIES:  # a warm Lambda serving many tenants stays bounded
                gone, _ = self._entries.popitem(last=False)
                self._by_tenant.get(gone[1], set()).discard(gone)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_tenant.clear()


CACHE = RideAlongCache()


def _keys(item: Model) -> tuple[str, str]:
    return (getattr(item, item._hash_key_attribute().attr_name),
            getattr(item, item._range_key_attribute().attr_name))


def _key_map(model: type[Model], hash_key: str, range_key: str) -> dict[str, Any]:
    hashed, ranged = model._hash_key_attribute(), model._range_key_attribute()
    return {hashed.attr_name: {hashed.attr_type: hashed.serialize(hash_key)},
            ranged.attr_name: {ranged.attr_type: ranged.serialize(range_key)}}


def get_with_stale(model: type[M], hash_key: str, range_key: str, connection: Any) -> M | None:
    """GetItem of one item (consistent), and in the same request (a BatchGetItem) the cached
    items of the tenant `hash_key` that are due for a refresh. One request either way."""
    due = CACHE.stale(hash_key)
    if not due:
        try:
            return model.get(hash_key, range_key, consistent_read=True)
        except DoesNotExist:
            return None
    target: Key = (model.Meta.table_name, hash_key, range_key)
    wanted: dict[Key, type[Model]] = {target: model}
    wanted.update({(e.model.Meta.table_name, e.hash_key, e.range_key): e.model for e in due})
    models = {table: kind for (table, _, _), kind in wanted.items()}
    request: dict[str, Any] = {}
    for (table, h, r), kind in wanted.items():
        request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(_key_map(kind, h, r))
    found: dict[Key, Model] = {}
    for attempt in range(MAX_UNPROCESSED_ROUNDS):
        response = connection.dispatch("BatchGetItem", {"RequestItems": request})
        for table, items in response.get("Responses", {}).items():
            for raw in items:
                item = models[table].from_raw_data(raw)
                found[(table, *_keys(item))] = item
        request = response.get("UnprocessedKeys") or {}
        if not request or target in found:
            break  # throttled ride-alongs stay due; they ride along the next read
        time.sleep(0.02 * 2 ** attempt)
    for key, kind in wanted.items():
        if key != target and (key in found or not request):  # not found and all processed: it does not exist
            CACHE._store(kind, key[1], key[2], found.get(key), 0)
    if target not in found and request:
        return model.get(hash_key, range_key, consistent_read=True)  # still unprocessed: read it alone
    return found.get(target)  # type: ignore[return-value]
