"""Pushing frames to connections, and forgetting connections API Gateway calls gone."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable

from ..domain import protocol as p
from ..domain.clock import Clock
from ..domain.errors import ConnectionGone
from ..domain.model import Conversation, Role
from ..domain.ports import ConnectionGateway, ConnectionRepository, ConversationRepository

log = logging.getLogger("kefu.notifier")

# API Gateway answers Gone for a connection until its $connect handler has returned (at most
# 29 s, the integration timeout), so a Gone for a younger connection does not prove it gone.
CONNECTING_GRACE_MS = 30_000


class Notifier:
    def __init__(
        self,
        connections: ConnectionRepository,
        conversations: ConversationRepository,
        gateway: ConnectionGateway,
        clock: Clock,
        threads: int = 8,
    ) -> None:
        self._connections = connections
        self._conversations = conversations
        self._gateway = gateway
        self._clock = clock
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self.on_gone: list = []  # callbacks(connection_id) run when a connection is found gone

    def agents(self, tenant_id: str) -> list[str]:
        """Every open agent connection of the tenant (one Query on a sparse index)."""
        return self._connections.agent_connections(tenant_id)

    def agent_connections(self, tenant_id: str, agent_id: str) -> list[str]:
        """Every open connection (workbench tab) of one agent."""
        return self._connections.owner_connections(tenant_id, Role.AGENT, agent_id)

    def visitor_connections(self, tenant_id: str, visitor_id: str) -> list[str]:
        """Every open connection (widget tab) of one visitor."""
        return self._connections.owner_connections(tenant_id, Role.VISITOR, visitor_id)

    def reply(self, connection_id: str, frame: p.Frame) -> None:
        if not self._post(connection_id, encode(frame)):
            self.forget(connection_id, None)

    def fan_out(self, targets: Iterable[str], frame: p.Frame, conversation: Conversation | None = None) -> None:
        data = encode(frame)
        targets = list(dict.fromkeys(targets))
        if len(targets) <= 2:
            gone = [t for t in targets if not self._post(t, data)]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="fanout")
            results = list(self._pool.map(lambda t: (t, self._post(t, data)), targets))
            gone = [t for t, ok in results if not ok]
        for connection_id in gone:
            self.forget(connection_id, conversation)

    def _post(self, connection_id: str, data: bytes) -> bool:
        try:
            self._gateway.post(connection_id, data)
            return True
        except ConnectionGone:
            return False

    def forget(self, connection_id: str, conversation: Conversation | None) -> None:
        """A connection API Gateway calls gone: remove it so nobody posts to it again.

        A connection younger than CONNECTING_GRACE_MS is kept: a dispatch round or a fan-out
        that reaches it while its $connect still runs is answered Gone too, and removing it
        then would leave an open socket whose frames are refused and which no fan-out
        reaches. If it really is gone, its $disconnect or its TTL removes it."""
        if not self._connections.remove_gone(connection_id, self._clock.now_ms() - CONNECTING_GRACE_MS):
            log.info("connection %s answered Gone while it may still be connecting; kept", connection_id)
            return
        log.info("removed gone connection %s", connection_id)
        for callback in self.on_gone:
            callback(connection_id)
        if conversation is not None and connection_id in conversation.watchers:
            self._conversations.remove_watcher(conversation.tenant_id, conversation.conversation_id,
                                               connection_id)
            conversation.watchers.discard(connection_id)


def encode(frame: p.Frame) -> bytes:
    return frame.model_dump_json(exclude_none=True).encode()
