"""Ports: what the services need from the outside world. Adapters implement them for
DynamoDB and API Gateway; `tests/fakes.py` implements them in memory."""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from .model import (
    Agent,
    CannedReply,
    Connection,
    Conversation,
    Group,
    LeftMessage,
    Message,
    RateState,
    Role,
    Tenant,
    Visitor,
)
from .routing import AgentState, BusinessHours, RoutingRule

if TYPE_CHECKING:
    from .tickets import Ticket, TimelineEvent


@dataclass(frozen=True)
class LeaseTry:
    """What trying to take the dispatch lease came to."""

    taken: bool  # this dispatcher holds the lease now
    news: tuple[str, ...] = ()  # taken: new conversations earlier dispatchers left to announce
    handed_over: bool = False  # not taken: the holder was marked for another round and has our news


class TenantRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, tenant_id: str) -> Tenant | None: ...

    @abc.abstractmethod
    def get_by_site_key(self, site_key: str) -> Tenant | None: ...

    @abc.abstractmethod
    def add(self, tenant: Tenant) -> None: ...


class AgentRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, tenant_id: str, agent_id: str) -> Agent | None: ...

    @abc.abstractmethod
    def get_by_email(self, email: str) -> Agent | None: ...

    @abc.abstractmethod
    def add(self, agent: Agent) -> None:
        """Store a new agent; raises `Conflict` if the email is taken (in any tenant)."""

    @abc.abstractmethod
    def set_presence(self, tenant_id: str, agent_id: str, state: str, at_ms: int) -> bool:
        """Store the agent's presence as of `at_ms`; False (nothing written) when a choice made
        later is already stored, or the agent is gone."""


class VisitorRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, tenant_id: str, visitor_id: str) -> Visitor | None: ...

    @abc.abstractmethod
    def add(self, visitor: Visitor) -> None: ...

    @abc.abstractmethod
    def touch(self, tenant_id: str, visitor_id: str, now_ms: int, device: str | None) -> Visitor | None:
        """Record a returning visit; returns the updated visitor or None if unknown."""

    @abc.abstractmethod
    def save_profile(self, visitor: Visitor) -> None:
        """Write the profile fields if nobody else did since `visitor.version` was read
        (raises `Conflict` otherwise); bumps `visitor.version`."""


class ConnectionRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, connection: Connection) -> None: ...

    @abc.abstractmethod
    def get(self, connection_id: str) -> Connection | None: ...

    @abc.abstractmethod
    def remove(self, connection_id: str) -> Connection | None:
        """Delete and return the connection (None if it was already gone)."""

    @abc.abstractmethod
    def remove_gone(self, connection_id: str, connected_before: int) -> bool:
        """Delete a connection API Gateway answered Gone for, unless it connected at or after
        `connected_before`: API Gateway answers Gone until $connect has returned, so a young
        connection may be one still being opened. True if the connection no longer exists."""

    @abc.abstractmethod
    def agent_connections(self, tenant_id: str) -> list[str]:
        """Ids of every open agent connection of the tenant."""

    @abc.abstractmethod
    def visitor_connections(self, tenant_id: str, visitor_id: str) -> list[str]:
        """Ids of every open connection (browser tab) of one visitor."""

    @abc.abstractmethod
    def owner_connections(self, tenant_id: str, role: Role, principal_id: str) -> list[str]:
        """Ids of every open connection of one visitor or agent."""


class ConversationRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, tenant_id: str, conversation_id: str) -> Conversation | None: ...

    @abc.abstractmethod
    def get_many(self, tenant_id: str, conversation_ids: list[str]) -> dict[str, Conversation]:
        """The ones that exist, by id, read together (consistent)."""

    @abc.abstractmethod
    def create_for_visitor(self, conversation: Conversation, reachable_since: int | None = None) -> Conversation:
        """Create the visitor's open conversation unless one exists (race-free);
        returns whichever conversation is the visitor's open one afterwards.

        A conversation that comes with an `assignee_id` is born assigned: in the same
        transaction its agent takes one more, on dispatch's conditions (below capacity;
        online, connected and heard from since `reachable_since`). If the agent cannot,
        nothing is written and AgentUnavailable is raised."""

    @abc.abstractmethod
    def add_watcher(self, tenant_id: str, conversation_id: str, connection_id: str) -> None: ...

    @abc.abstractmethod
    def remove_watcher(self, tenant_id: str, conversation_id: str, connection_id: str) -> None: ...

    @abc.abstractmethod
    def list_by_status(
        self, tenant_id: str, status: str, limit: int, cursor: str | None
    ) -> tuple[list[Conversation], str | None]: ...

    @abc.abstractmethod
    def list_for_visitor(self, tenant_id: str, visitor_id: str, limit: int) -> list[Conversation]: ...

    @abc.abstractmethod
    def mark_read(self, tenant_id: str, conversation_id: str, role: str, seq: int) -> bool:
        """Raise the role's read mark to `seq`; False if it was already at or past it."""

    @abc.abstractmethod
    def set_status(self, tenant_id: str, conversation_id: str, status: str, now_ms: int,
                   conversation: Conversation | None = None) -> Conversation | None:
        """Move the conversation to `status` if it is not there already (conditional);
        returns the updated conversation, or None if it already had that status.
        Resolving unassigns it (its agent's load goes down); reopening queues it again.
        `conversation` is the state just read, if the caller has it; raises
        `SequenceConflict` if it changed meanwhile."""


class MessageRepository(abc.ABC):
    @abc.abstractmethod
    def append(
        self,
        conversation: Conversation,
        message: Message,
        rate: RateState | None,
        assign_to: str | None = None,
        reopen: bool = False,
    ) -> None:
        """Store `message` as seq `conversation.last_seq + 1` in one transaction, optionally
        making `assign_to` the assignee and reopening a resolved conversation.

        Raises `SequenceConflict` if another writer advanced the conversation first and
        `DuplicateMessage` if the client message id is already stored.
        """

    @abc.abstractmethod
    def get_by_client_id(self, tenant_id: str, conversation_id: str, client_msg_id: str) -> Message | None: ...

    @abc.abstractmethod
    def list_after(
        self, tenant_id: str, conversation_id: str, after_seq: int, limit: int
    ) -> list[Message]: ...

    @abc.abstractmethod
    def list_before(
        self, tenant_id: str, conversation_id: str, before_seq: int, limit: int
    ) -> list[Message]:
        """The `limit` messages just before `before_seq`, oldest first."""

    @abc.abstractmethod
    def first_messages(self, tenant_id: str, conversation_ids: list[str]) -> dict[str, Message]:
        """Each conversation's first message (seq 1), by conversation id, read together."""


class RoutingRepository(abc.ABC):
    """Agents' routing state, the queue, assignments, and the routing settings."""

    # -- agents' routing state (on the agent items)

    @abc.abstractmethod
    def agents(self, tenant_id: str) -> list[AgentState]:
        """Every agent of the tenant with capacity, load, presence and heartbeat (one Query)."""

    @abc.abstractmethod
    def agent(self, tenant_id: str, agent_id: str) -> AgentState | None: ...

    @abc.abstractmethod
    def save_profile(self, tenant_id: str, agent_id: str, groups: frozenset[str], languages: frozenset[str],
                     seniority: int, capacity: int) -> AgentState | None:
        """Change an agent's groups, languages, seniority and capacity (None if no such agent)."""

    @abc.abstractmethod
    def connected(self, tenant_id: str, agent_id: str, now_ms: int) -> None:
        """One more open workbench connection; also a heartbeat."""

    @abc.abstractmethod
    def disconnected(self, tenant_id: str, agent_id: str) -> None: ...

    @abc.abstractmethod
    def heartbeat(self, tenant_id: str, agent_id: str, now_ms: int, timeout_ms: int) -> bool:
        """Stamp the agent's heartbeat; True if the previous one was older than `timeout_ms`
        (the agent was not being offered conversations and now is again)."""

    # -- the queue and assignments

    @abc.abstractmethod
    def queue(self, tenant_id: str, limit: int) -> list[Conversation]:
        """Queued conversations in queue order (priority, then arrival)."""

    @abc.abstractmethod
    def reprioritize(self, tenant_id: str, conversation_id: str, priority: str) -> bool:
        """Give a still-queued conversation a new priority (its place in the queue moves);
        False if it is no longer queued."""

    @abc.abstractmethod
    def queue_position(self, tenant_id: str, conversation: Conversation) -> int:
        """1 + how many queued conversations are ahead of this one."""

    @abc.abstractmethod
    def assign(self, tenant_id: str, conversation_id: str, agent_id: str, now_ms: int, *,
               expected_assignee: str | None = None, reachable_since: int | None = None,
               note: str | None = None) -> None:
        """Make `agent_id` the assignee in one transaction: the agent's load goes up by one
        if it is below capacity (and, with `reachable_since`, the agent is online, connected
        and has a heartbeat since then); the conversation is open and its assignee is
        `expected_assignee` (None: unassigned), whose load goes down by one.

        Raises `AgentUnavailable` (capacity, presence) or `Conflict` (the conversation's
        assignee is not the expected one, or it is resolved).
        """

    @abc.abstractmethod
    def assign_together(self, tenant_id: str, pairs: list[tuple[str, str]], now_ms: int,
                        reachable_since: int) -> bool:
        """Assign several unassigned conversations at once, all or nothing, in one
        transaction: each (conversation id, agent id) pair as `assign` does with
        `reachable_since` and no expected assignee. The agents are all different (the
        conditions are each agent's own `load < capacity`). False if any condition failed:
        nothing was written (the caller assigns one by one to learn which)."""

    @abc.abstractmethod
    def requeue(self, tenant_id: str, conversation_id: str, expected_assignee: str | None,
                group_id: str | None, priority: str, now_ms: int) -> None:
        """Put the conversation back in the queue (for `group_id`), taking it from
        `expected_assignee` (whose load goes down); `Conflict` if the assignee changed."""

    # -- the dispatcher's lease: one dispatcher per tenant at a time

    @abc.abstractmethod
    def acquire_lease(self, tenant_id: str, holder: str, now_ms: int, ttl_ms: int,
                      news: Sequence[str] = ()) -> LeaseTry:
        """Take the tenant's dispatch lease if it is free or expired (and with it the new
        conversations others left on it); else mark it dirty, so the holder runs another
        round, and leave `news` (conversations just created) on it for the holder to
        announce to the agents."""

    @abc.abstractmethod
    def renew_lease(self, tenant_id: str, holder: str, now_ms: int, ttl_ms: int) -> bool:
        """Extend the lease if `holder` still has it (False: it expired and was taken)."""

    @abc.abstractmethod
    def release_lease(self, tenant_id: str, holder: str) -> tuple[bool, list[str]]:
        """Give the lease back unless it was marked dirty meanwhile: (True, []). If it was,
        clear the mark, keep the lease and return (False, the new conversations the markers
        left): the holder runs another round and announces them."""

    # -- settings

    @abc.abstractmethod
    def groups(self, tenant_id: str) -> list[Group]: ...

    @abc.abstractmethod
    def put_group(self, group: Group) -> None: ...

    @abc.abstractmethod
    def delete_group(self, tenant_id: str, group_id: str) -> bool: ...

    @abc.abstractmethod
    def rules(self, tenant_id: str) -> list[RoutingRule]: ...

    @abc.abstractmethod
    def put_rule(self, rule: RoutingRule) -> None: ...

    @abc.abstractmethod
    def delete_rule(self, tenant_id: str, rule_id: str) -> bool: ...

    @abc.abstractmethod
    def business_hours(self, tenant_id: str) -> BusinessHours | None: ...

    @abc.abstractmethod
    def put_business_hours(self, tenant_id: str, hours: BusinessHours | None) -> None: ...

    # -- messages left while nobody could answer

    @abc.abstractmethod
    def add_left_message(self, message: LeftMessage) -> None: ...

    @abc.abstractmethod
    def left_messages(self, tenant_id: str, limit: int) -> list[LeftMessage]:
        """Newest first."""


class DispatchTrigger(abc.ABC):
    """Starts the dispatch function for a tenant without waiting for it (async invoke)."""

    @abc.abstractmethod
    def request(self, tenant_id: str, conversation_ids: list[str] | None = None, new: bool = False,
                born_assigned: bool = False) -> None:
        """`conversation_ids`: conversations just queued or changed; `new`: they were just
        created, and the dispatcher tells the agents about them; `born_assigned`: they were
        created assigned, with nobody waiting, so telling is all there is to do."""


class CannedReplyRepository(abc.ABC):
    @abc.abstractmethod
    def list(self, tenant_id: str) -> list[CannedReply]: ...

    @abc.abstractmethod
    def get(self, tenant_id: str, reply_id: str) -> CannedReply | None: ...

    @abc.abstractmethod
    def put(self, reply: CannedReply) -> None: ...

    @abc.abstractmethod
    def delete(self, tenant_id: str, reply_id: str) -> bool: ...


class FileStore(abc.ABC):
    """Object storage for attachments: browsers upload and download directly with presigned URLs."""

    @abc.abstractmethod
    def presign_upload(self, key: str, content_type: str, max_bytes: int) -> dict[str, Any]:
        """{"url": ..., "fields": {...}} for a browser's multipart POST."""

    @abc.abstractmethod
    def head(self, key: str) -> tuple[int, str] | None:
        """(size, content type) of a stored object, or None."""

    @abc.abstractmethod
    def download_url(self, key: str, name: str, content_type: str) -> str: ...


class ConnectionGateway(abc.ABC):
    """Pushes frames to open WebSocket connections (API Gateway's @connections API)."""

    @abc.abstractmethod
    def post(self, connection_id: str, data: bytes) -> None:
        """Send; raises `ConnectionGone` if the connection no longer exists."""


class TokenSigner(abc.ABC):
    @abc.abstractmethod
    def issue(self, claims: dict[str, Any], ttl_seconds: int) -> str: ...

    @abc.abstractmethod
    def verify(self, token: str) -> dict[str, Any]:
        """Return the claims of a valid, unexpired token or raise `Unauthenticated`."""


class PasswordHasher(abc.ABC):
    @abc.abstractmethod
    def hash(self, password: str) -> str: ...

    @abc.abstractmethod
    def verify(self, password: str, encoded: str) -> bool: ...


class Metrics(abc.ABC):
    @abc.abstractmethod
    def count(self, name: str, value: int = 1) -> None: ...


# ------------------------------------------------------------------ tickets (chalicelib.services.tickets)


class TicketRepository(abc.ABC):
    """Tickets, their timelines and ticket settings. Every write that two Lambdas could race
    on is conditional (see docs/data-model.md)."""

    @abc.abstractmethod
    def next_number(self, tenant_id: str) -> int:
        """A new, never reused ticket number of the tenant (one atomic counter update)."""

    @abc.abstractmethod
    def add(self, ticket: "Ticket", events: list["TimelineEvent"]) -> None:
        """Store a new ticket with its first events. A ticket made from a conversation
        claims the conversation: raises `TicketExists` (details: number) if one did first."""

    @abc.abstractmethod
    def get(self, tenant_id: str, number: int) -> "Ticket | None": ...

    @abc.abstractmethod
    def save(self, ticket: "Ticket", events: list["TimelineEvent"]) -> None:
        """Write the ticket if its stored version is still `ticket.version` (else `Conflict`),
        with its new events, in one transaction; bumps `ticket.version`."""

    @abc.abstractmethod
    def add_events(self, tenant_id: str, events: list["TimelineEvent"]) -> None: ...

    @abc.abstractmethod
    def timeline(self, tenant_id: str, number: int, limit: int) -> list["TimelineEvent"]:
        """The ticket's events, oldest first."""

    @abc.abstractmethod
    def by_index(self, tenant_id: str, index: str, key: str, limit: int) -> list["Ticket"]:
        """Tickets by `index` ("status", "assignee" or "group") = `key`, most recently updated first."""

    @abc.abstractmethod
    def by_conversation(self, tenant_id: str, conversation_id: str) -> int | None: ...

    @abc.abstractmethod
    def get_setting(self, tenant_id: str, kind: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def put_setting(self, tenant_id: str, kind: str, data: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def hit(self, tenant_id: str, key: str, window_ms: int, now_ms: int) -> int:
        """Count one hit in the current fixed window of `key`; returns the window's count."""

    @abc.abstractmethod
    def agents(self, tenant_id: str) -> list[Agent]:
        """The tenant's agents (who may change ticket settings)."""

    @abc.abstractmethod
    def supervisors(self, tenant_id: str, group_id: str | None) -> list[str]:
        """Ids of the supervisors and admins of the group (routing's skill-group membership);
        all of the tenant's when the group has none, so an escalation always reaches someone."""


class SlaTimer(abc.ABC):
    """The per-ticket SLA timer (a Step Functions Standard execution on AWS)."""

    @abc.abstractmethod
    def arm(self, tenant_id: str, number: int, sla_version: int, wake_at_ms: int) -> None:
        """Start the timer for this deadline version (idempotent per version)."""

    @abc.abstractmethod
    def disarm(self, tenant_id: str, number: int, sla_version: int) -> None:
        """Stop the timer of that version, if it still runs."""


class Mailer(abc.ABC):
    @abc.abstractmethod
    def send(self, to: str, subject: str, text: str) -> None: ...
