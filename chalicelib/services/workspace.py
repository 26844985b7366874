"""The agent's workspace: presence and canned replies."""
from __future__ import annotations

from typing import Callable

from ..domain import protocol as p
from ..domain.clock import Clock
from ..domain.errors import Conflict, Forbidden, NotFound
from ..domain.ids import new_id
from ..domain.model import Agent, CannedReply, Connection, Identity
from ..domain.ports import AgentRepository, CannedReplyRepository
from .notifier import Notifier

MAX_CANNED_REPLIES = 500


class WorkspaceService:
    def __init__(self, agents: AgentRepository, canned: CannedReplyRepository, notifier: Notifier,
                 clock: Clock) -> None:
        self._agents = agents
        self._canned = canned
        self._notifier = notifier
        self._clock = clock
        self.on_presence: list[Callable[[Connection, str], None]] = []  # e.g. online → serve the queue

    def me(self, identity: Identity) -> Agent:
        agent = self._agents.get(identity.tenant_id, identity.principal_id) if identity.is_agent else None
        if agent is None:
            raise Forbidden("this needs an agent's token")
        return agent

    def set_presence(self, connection: Connection, frame: p.Frame) -> None:
        assert isinstance(frame, p.SetPresence)
        if not connection.identity.is_agent:
            raise Forbidden("only agents have presence")
        if not self._agents.set_presence(connection.tenant_id, connection.principal_id, frame.state,
                                         frame.received_ms or self._clock.now_ms()):
            return  # a choice made after this one is already stored (and was told)
        self._notifier.fan_out(self._notifier.agents(connection.tenant_id),
                               p.AgentPresence(agent_id=connection.principal_id, state=frame.state))
        for callback in self.on_presence:
            callback(connection, frame.state)

    # canned replies ("quick phrases")

    def canned_replies(self, identity: Identity) -> list[CannedReply]:
        self.me(identity)
        return sorted(self._canned.list(identity.tenant_id), key=lambda r: r.shortcut)

    def save_canned_reply(self, identity: Identity, shortcut: str, text: str,
                          reply_id: str | None = None) -> CannedReply:
        existing = self.canned_replies(identity)
        if reply_id is not None and not any(r.reply_id == reply_id for r in existing):
            raise NotFound("no such canned reply")
        if any(r.shortcut == shortcut and r.reply_id != reply_id for r in existing):
            raise Conflict(f"the shortcut /{shortcut} is already used")
        if reply_id is None and len(existing) >= MAX_CANNED_REPLIES:
            raise Conflict(f"at most {MAX_CANNED_REPLIES} canned replies")
        reply = CannedReply(identity.tenant_id, reply_id or new_id("r"), shortcut, text, self._clock.now_ms())
        self._canned.put(reply)
        return reply

    def delete_canned_reply(self, identity: Identity, reply_id: str) -> None:
        self.me(identity)
        if not self._canned.delete(identity.tenant_id, reply_id):
            raise NotFound("no such canned reply")
