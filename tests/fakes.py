"""In-memory implementations of every port in `chalicelib.domain.ports`.

Each fake keeps the conditional semantics of its DynamoDB adapter in
`chalicelib.adapters.repositories` (a failed condition becomes the same domain error or
the same `None`/`False` answer), and hands out copies, as a database read does, so a
service that mutates what it read changes nothing until it writes. `build_services`
wires them the way `chalicelib.bootstrap.build` wires the real adapters.
"""
from __future__ import annotations

import copy
import json
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from chalicelib.domain.clock import FixedClock
from chalicelib.domain.errors import (
    Conflict,
    ConnectionGone,
    DuplicateMessage,
    SequenceConflict,
    Unauthenticated,
)
from chalicelib.domain.ids import new_id
from chalicelib.domain.model import (
    Agent,
    CannedReply,
    Connection,
    Conversation,
    ConversationStatus,
    Identity,
    Message,
    RateState,
    Role,
    Tenant,
    Visitor,
)
from chalicelib.domain.ports import (
    AgentRepository,
    CannedReplyRepository,
    ConnectionGateway,
    ConnectionRepository,
    ConversationRepository,
    FileStore,
    Mailer,
    MessageRepository,
    Metrics,
    PasswordHasher,
    SlaTimer,
    TenantRepository,
    TicketRepository,
    TokenSigner,
    VisitorRepository,
)
from chalicelib.domain.ratelimit import RateLimit
from chalicelib.services.auth import AuthService
from chalicelib.services.chat import ChatService
from chalicelib.services.files import FileService
from chalicelib.domain.tickets import Ticket, TicketExists, TimelineEvent
from chalicelib.services.notifier import Notifier
from chalicelib.services.tickets import TicketService
from chalicelib.services.visitors import VisitorService
from chalicelib.services.workspace import WorkspaceService

# ------------------------------------------------------------------ tenants, agents, visitors


class FakeTenants(TenantRepository):
    def __init__(self) -> None:
        self.items: dict[str, Tenant] = {}

    def get(self, tenant_id: str) -> Tenant | None:
        return copy.deepcopy(self.items.get(tenant_id))

    def get_by_site_key(self, site_key: str) -> Tenant | None:
        found = [t for t in self.items.values() if t.site_key == site_key]
        return copy.deepcopy(found[0]) if found else None

    def add(self, tenant: Tenant) -> None:
        self.items[tenant.tenant_id] = copy.deepcopy(tenant)


class FakeAgents(AgentRepository):
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Agent] = {}
        self._logins: dict[str, tuple[str, str]] = {}  # the "@login" partition: email → key

    def get(self, tenant_id: str, agent_id: str) -> Agent | None:
        return copy.deepcopy(self.items.get((tenant_id, agent_id)))

    def get_by_email(self, email: str) -> Agent | None:
        key = self._logins.get(email.lower())
        return self.get(*key) if key else None

    def add(self, agent: Agent) -> None:
        email = agent.email.lower()
        key = (agent.tenant_id, agent.agent_id)
        if email in self._logins or key in self.items:
            raise Conflict(f"an agent with email {email} already exists")
        self._logins[email] = key
        self.items[key] = replace(agent, email=email)

    def set_presence(self, tenant_id: str, agent_id: str, state: str, at_ms: int) -> bool:
        agent = self.items.get((tenant_id, agent_id))
        if agent is None or agent.presence_at > at_ms:  # the adapter's update is conditional on both
            return False
        agent.presence, agent.presence_at = state, at_ms
        return True


_PROFILE_FIELDS = ("last_seen_at", "attributes", "identified_at", "trail", "utm", "verified", "name", "email", "phone",
                   "referrer", "source", "language", "screen")


class FakeVisitors(VisitorRepository):
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Visitor] = {}

    def get(self, tenant_id: str, visitor_id: str) -> Visitor | None:
        return copy.deepcopy(self.items.get((tenant_id, visitor_id)))

    def add(self, visitor: Visitor) -> None:
        key = (visitor.tenant_id, visitor.visitor_id)
        if key in self.items:  # the adapter's put is conditional on the id being new
            raise Conflict("visitor exists")
        # The adapter writes only the first-visit fields, with version 0.
        self.items[key] = Visitor(visitor.tenant_id, visitor.visitor_id, visitor.created_at,
                                  visitor.last_seen_at, visits=visitor.visits, device=visitor.device)

    def touch(self, tenant_id: str, visitor_id: str, now_ms: int, device: str | None) -> Visitor | None:
        stored = self.items.get((tenant_id, visitor_id))
        if stored is None:
            return None
        stored.last_seen_at = now_ms
        stored.visits += 1
        if device:
            stored.device = device
        return copy.deepcopy(stored)

    def save_profile(self, visitor: Visitor) -> None:
        stored = self.items.get((visitor.tenant_id, visitor.visitor_id))
        if stored is None or stored.version != visitor.version:
            raise Conflict("the visitor changed meanwhile")
        for name in _PROFILE_FIELDS:
            value = getattr(visitor, name)
            # Empty strings are removed by the adapter, so they read back as None.
            setattr(stored, name, copy.deepcopy(value) if value or not isinstance(value, str) else None)
        stored.version = visitor.version + 1
        visitor.version += 1


# ------------------------------------------------------------------ connections


class FakeConnections(ConnectionRepository):
    def __init__(self) -> None:
        self.items: dict[str, Connection] = {}
        self._lock = threading.Lock()  # the notifier removes gone connections from a thread pool

    def add(self, connection: Connection) -> None:
        with self._lock:
            self.items[connection.connection_id] = connection

    def get(self, connection_id: str) -> Connection | None:
        return self.items.get(connection_id)

    def remove(self, connection_id: str) -> Connection | None:
        with self._lock:
            return self.items.pop(connection_id, None)

    def remove_gone(self, connection_id: str, connected_before: int) -> bool:
        with self._lock:
            connection = self.items.get(connection_id)
            if connection is not None and connection.connected_at >= connected_before:
                return False
            self.items.pop(connection_id, None)
            return True

    def agent_connections(self, tenant_id: str) -> list[str]:
        return sorted(c.connection_id for c in list(self.items.values())
                      if c.tenant_id == tenant_id and c.role is Role.AGENT)

    def visitor_connections(self, tenant_id: str, visitor_id: str) -> list[str]:
        return self.owner_connections(tenant_id, Role.VISITOR, visitor_id)

    def owner_connections(self, tenant_id: str, role: Role, principal_id: str) -> list[str]:
        return sorted(c.connection_id for c in list(self.items.values())
                      if c.tenant_id == tenant_id and c.role is role and c.principal_id == principal_id)


# ------------------------------------------------------------------ conversations and messages


class FakeConversations(ConversationRepository):
    def __init__(self, visitors: FakeVisitors) -> None:
        self.items: dict[tuple[str, str], Conversation] = {}
        self._visitors = visitors  # create_for_visitor writes the visitor item in the same transaction
        self.on_unassign: Callable[[str, str], None] | None = None  # FakeRouting's load, as in one transaction
        # FakeRouting's claim of an agent for a conversation born assigned (raises AgentUnavailable)
        self.on_born_assigned: Callable[[str, str, int, int | None], None] | None = None
        self._lock = threading.Lock()

    def get(self, tenant_id: str, conversation_id: str) -> Conversation | None:
        with self._lock:
            return copy.deepcopy(self.items.get((tenant_id, conversation_id)))

    def get_many(self, tenant_id: str, conversation_ids: list[str]) -> dict[str, Conversation]:
        with self._lock:
            return {c: copy.deepcopy(self.items[(tenant_id, c)]) for c in conversation_ids
                    if (tenant_id, c) in self.items}

    def create_for_visitor(self, conversation: Conversation, reachable_since: int | None = None) -> Conversation:
        c = conversation
        visitor = self._visitors.items.get((c.tenant_id, c.visitor_id))
        key = (c.tenant_id, c.conversation_id)
        if visitor is None or visitor.open_conversation_id or key in self.items:
            existing = self.get(c.tenant_id, visitor.open_conversation_id or "") if visitor else None
            if existing is None:
                raise Conflict("transaction cancelled")
            return existing
        if c.assignee_id:
            assert self.on_born_assigned is not None, "a conversation born assigned needs FakeRouting"
            self.on_born_assigned(c.tenant_id, c.assignee_id, c.created_at, reachable_since)
        self.items[key] = replace(copy.deepcopy(c), last_seq=0)
        visitor.open_conversation_id = c.conversation_id
        return conversation

    def add_watcher(self, tenant_id: str, conversation_id: str, connection_id: str) -> None:
        with self._lock:
            stored = self.items.get((tenant_id, conversation_id))
            if stored is not None:
                stored.watchers.add(connection_id)

    def remove_watcher(self, tenant_id: str, conversation_id: str, connection_id: str) -> None:
        with self._lock:
            stored = self.items.get((tenant_id, conversation_id))
            if stored is not None:
                stored.watchers.discard(connection_id)

    def list_by_status(
        self, tenant_id: str, status: str, limit: int, cursor: str | None
    ) -> tuple[list[Conversation], str | None]:
        matching = sorted(
            (c for c in self.items.values() if c.tenant_id == tenant_id and c.status.value == status),
            key=lambda c: (c.updated_at, c.conversation_id), reverse=True,
        )
        if cursor:
            updated_at, conversation_id = cursor.split(":", 1)
            after = (int(updated_at), conversation_id)
            matching = [c for c in matching if (c.updated_at, c.conversation_id) < after]
        page = [copy.deepcopy(c) for c in matching[:limit]]
        next_cursor = None
        if len(matching) > limit:
            next_cursor = f"{page[-1].updated_at}:{page[-1].conversation_id}"
        return page, next_cursor

    def list_for_visitor(self, tenant_id: str, visitor_id: str, limit: int) -> list[Conversation]:
        mine = [c for c in self.items.values() if c.tenant_id == tenant_id and c.visitor_id == visitor_id]
        mine.sort(key=lambda c: c.conversation_id, reverse=True)
        return [copy.deepcopy(c) for c in mine[:limit]]

    def mark_read(self, tenant_id: str, conversation_id: str, role: str, seq: int) -> bool:
        stored = self.items.get((tenant_id, conversation_id))
        attribute = "visitor_read_seq" if role == "visitor" else "agent_read_seq"
        if stored is None or getattr(stored, attribute) >= seq:
            return False
        setattr(stored, attribute, seq)
        return True

    def set_status(self, tenant_id: str, conversation_id: str, status: str, now_ms: int,
                   conversation: Conversation | None = None) -> Conversation | None:
        stored = self.items.get((tenant_id, conversation_id))
        if stored is None or stored.status.value == status:
            return None
        stored.status, stored.updated_at = ConversationStatus(status), now_ms
        if stored.assignee_id:  # as DynamoDB's: resolving or reopening unassigns (the agent's load goes down)
            if self.on_unassign is not None:
                self.on_unassign(tenant_id, stored.assignee_id)
            stored.last_assignee_id, stored.assignee_id, stored.assigned_at = stored.assignee_id, None, None
        stored.queued_at = now_ms if status == ConversationStatus.OPEN.value else None
        return copy.deepcopy(stored)


class FakeMessages(MessageRepository):
    def __init__(self, conversations: FakeConversations) -> None:
        self._conversations = conversations
        self.items: dict[tuple[str, str], dict[int, Message]] = {}
        self._client_ids: dict[tuple[str, str], dict[str, int]] = {}
        # Run before each append, to let a test play a concurrent writer.
        self.before_append: list[Callable[[Conversation, Message], None]] = []

    def append(
        self,
        conversation: Conversation,
        message: Message,
        rate: RateState | None,
        assign_to: str | None = None,
        reopen: bool = False,
    ) -> None:
        for hook in list(self.before_append):
            hook(conversation, message)
        c, m = conversation, message
        key = (c.tenant_id, c.conversation_id)
        if m.client_msg_id in self._client_ids.get(key, {}):
            raise DuplicateMessage("this client_msg_id is already stored")
        stored = self._conversations.items.get(key)
        if (stored is None or stored.last_seq != c.last_seq or stored.status is not c.status
                or (assign_to and stored.assignee_id) or m.seq in self.items.get(key, {})):
            raise SequenceConflict("the conversation moved on; read it again")
        stored.last_seq, stored.updated_at = m.seq, m.created_at
        if not m.internal:
            stored.last_message_preview = (
                m.text[:140] if m.text.strip() else f"[{m.attachment.name}]" if m.attachment else "")
        if assign_to:
            stored.assignee_id = assign_to
        if reopen:
            stored.status = ConversationStatus.OPEN
        if rate is not None:
            stored.rate = RateState(rate.tokens, rate.updated_ms)
        self.items.setdefault(key, {})[m.seq] = m
        self._client_ids.setdefault(key, {})[m.client_msg_id] = m.seq

    def get_by_client_id(self, tenant_id: str, conversation_id: str, client_msg_id: str) -> Message | None:
        key = (tenant_id, conversation_id)
        seq = self._client_ids.get(key, {}).get(client_msg_id)
        return None if seq is None else self.items[key][seq]

    def list_after(self, tenant_id: str, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        stored = self.items.get((tenant_id, conversation_id), {})
        return [stored[s] for s in sorted(stored) if s > after_seq][:limit]

    def list_before(self, tenant_id: str, conversation_id: str, before_seq: int, limit: int) -> list[Message]:
        stored = self.items.get((tenant_id, conversation_id), {})
        earlier = [stored[s] for s in sorted(stored) if s < before_seq]
        return earlier[-limit:] if limit else []

    def first_messages(self, tenant_id: str, conversation_ids: list[str]) -> dict[str, Message]:
        return {c: self.items[(tenant_id, c)][1] for c in conversation_ids if 1 in self.items.get((tenant_id, c), {})}


class FakeCannedReplies(CannedReplyRepository):
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], CannedReply] = {}

    def list(self, tenant_id: str) -> list[CannedReply]:
        return [copy.deepcopy(r) for (t, _), r in sorted(self.items.items()) if t == tenant_id]

    def get(self, tenant_id: str, reply_id: str) -> CannedReply | None:
        return copy.deepcopy(self.items.get((tenant_id, reply_id)))

    def put(self, reply: CannedReply) -> None:
        self.items[(reply.tenant_id, reply.reply_id)] = copy.deepcopy(reply)

    def delete(self, tenant_id: str, reply_id: str) -> bool:
        return self.items.pop((tenant_id, reply_id), None) is not None


# ------------------------------------------------------------------ files, gateway, security, metrics


class FakeFileStore(FileStore):
    """Objects are "uploaded" by the test with `put`; presigned URLs are readable fakes."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[int, str]] = {}
        self.presigned: list[tuple[str, str, int]] = []

    def put(self, key: str, size: int, content_type: str) -> None:
        self.objects[key] = (size, content_type)

    def presign_upload(self, key: str, content_type: str, max_bytes: int) -> dict[str, Any]:
        self.presigned.append((key, content_type, max_bytes))
        return {"url": "https://files.test/upload", "fields": {"key": key, "Content-Type": content_type}}

    def head(self, key: str) -> tuple[int, str] | None:
        return self.objects.get(key)

    def download_url(self, key: str, name: str, content_type: str) -> str:
        return f"https://files.test/{key}?name={name}"


class FakeGateway(ConnectionGateway):
    """Records every frame posted, decoded, per connection; `gone` connections raise."""

    def __init__(self) -> None:
        self.posted: dict[str, list[dict[str, Any]]] = {}
        self.gone: set[str] = set()
        self._lock = threading.Lock()  # the notifier posts from a thread pool

    def post(self, connection_id: str, data: bytes) -> None:
        if connection_id in self.gone:
            raise ConnectionGone(connection_id)
        with self._lock:
            self.posted.setdefault(connection_id, []).append(json.loads(data))

    def frames(self, connection_id: str, action: str | None = None) -> list[dict[str, Any]]:
        frames = self.posted.get(connection_id, [])
        return [f for f in frames if action is None or f["action"] == action]

    def clear(self) -> None:
        with self._lock:
            self.posted.clear()


class FakeSigner(TokenSigner):
    """Plain-text tokens (readable JSON) that expire by the injected clock.

    Only tokens this signer issued verify, so an edited token counts as forged."""

    def __init__(self, clock: FixedClock) -> None:
        self._clock = clock
        self._issued: set[str] = set()

    def issue(self, claims: dict[str, Any], ttl_seconds: int) -> str:
        now = self._clock.now_ms() // 1000
        token = json.dumps({**claims, "iss": "kefu", "iat": now, "exp": now + ttl_seconds,
                            "n": len(self._issued)}, sort_keys=True)
        self._issued.add(token)
        return token

    def verify(self, token: str) -> dict[str, Any]:
        if token not in self._issued:
            raise Unauthenticated("invalid token")
        claims: dict[str, Any] = json.loads(token)
        if claims["exp"] <= self._clock.now_ms() // 1000:
            raise Unauthenticated("token expired")
        return claims


class FakeHasher(PasswordHasher):
    """Reversible on purpose: scrypt's cost has no place in millisecond tests."""

    def hash(self, password: str) -> str:
        return "plain$" + password

    def verify(self, password: str, encoded: str) -> bool:
        return encoded == "plain$" + password


class FakeMetrics(Metrics):
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, name: str, value: int = 1) -> None:
        with self._lock:
            self.counts[name] += value


# ------------------------------------------------------------------ wiring


VISITOR_TOKEN_TTL = 30 * 24 * 3600
AGENT_TOKEN_TTL = 12 * 3600
VISITOR_RATE = RateLimit(burst=10, per_second=1.0)  # the settings' defaults


@dataclass
class FakeServices:
    """The services of `bootstrap.Services`, plus the fakes behind them for tests to inspect."""

    clock: FixedClock
    auth: AuthService
    chat: ChatService
    visitors: VisitorService
    workspace: WorkspaceService
    files: FileService
    tenant_repo: FakeTenants
    agent_repo: FakeAgents
    visitor_repo: FakeVisitors
    connection_repo: FakeConnections
    conversation_repo: FakeConversations
    message_repo: FakeMessages
    canned_repo: FakeCannedReplies
    store: FakeFileStore
    gateway: FakeGateway
    metrics: FakeMetrics
    signer: TokenSigner
    hasher: PasswordHasher
    _serial: list[int] = field(default_factory=lambda: [0])

    # -- seeding helpers: the shortest way to a tenant, an agent or a visitor on a socket

    def add_tenant(self, name: str = "Acme", identity_secret: str = "") -> Tenant:
        tenant = Tenant(new_id("t"), name, new_id("sk"), self.clock.now_ms(), identity_secret)
        self.tenant_repo.add(tenant)
        return tenant

    def add_agent(self, tenant: Tenant, name: str = "Ann", password: str = "secret-pw") -> Agent:
        agent = Agent(tenant.tenant_id, new_id("a"), f"{name.lower()}-{new_id('e')}@example.com", name,
                      self.hasher.hash(password), created_at=self.clock.now_ms())
        self.agent_repo.add(agent)
        return agent

    def connect_agent(self, agent: Agent, connection_id: str | None = None) -> Connection:
        identity = Identity(agent.tenant_id, Role.AGENT, agent.agent_id, agent.display_name)
        return self.chat.connect(connection_id or self._next_connection_id(), identity)

    def add_visitor(self, tenant: Tenant) -> Visitor:
        return self.auth.start_visitor_session(tenant.site_key, None).visitor

    def connect_visitor(self, visitor: Visitor, connection_id: str | None = None) -> Connection:
        identity = Identity(visitor.tenant_id, Role.VISITOR, visitor.visitor_id)
        return self.chat.connect(connection_id or self._next_connection_id(), identity)

    def send(self, connection: Connection, frame: dict[str, Any]) -> None:
        """One client frame through `handle_raw`, as the WebSocket route delivers it."""
        self.chat.handle_raw(connection.connection_id, json.dumps(frame))

    def _next_connection_id(self) -> str:
        self._serial[0] += 1
        return f"conn-{self._serial[0]}"


def build_services(clock: FixedClock | None = None, signer: TokenSigner | None = None,
                   hasher: PasswordHasher | None = None, visitor_rate: RateLimit = VISITOR_RATE) -> FakeServices:
    """`bootstrap.build` with in-memory fakes instead of DynamoDB, API Gateway and S3."""
    clock = clock or FixedClock()
    tenants, agents, visitors = FakeTenants(), FakeAgents(), FakeVisitors()
    connections, conversations = FakeConnections(), FakeConversations(visitors)
    messages, canned, store = FakeMessages(conversations), FakeCannedReplies(), FakeFileStore()
    gateway, metrics = FakeGateway(), FakeMetrics()
    signer = signer or FakeSigner(clock)
    hasher = hasher or FakeHasher()
    notifier = Notifier(connections, conversations, gateway, clock)
    auth = AuthService(tenants=tenants, agents=agents, visitors=visitors, signer=signer, hasher=hasher,
                       clock=clock, visitor_token_ttl=VISITOR_TOKEN_TTL, agent_token_ttl=AGENT_TOKEN_TTL)
    chat = ChatService(connections=connections, conversations=conversations, messages=messages,
                       visitors=visitors, notifier=notifier, clock=clock, visitor_rate=visitor_rate,
                       metrics=metrics)
    files = FileService(store, chat.conversation)
    chat.attach_files(files.resolve, files.url)
    visitor_service = VisitorService(visitors, tenants, conversations, notifier, clock)
    workspace = WorkspaceService(agents, canned, notifier, clock)
    chat.frame_handlers.update({
        "page.view": visitor_service.page_view,
        "identify": visitor_service.identify,
        "presence.set": workspace.set_presence,
    })
    return FakeServices(clock=clock, auth=auth, chat=chat, visitors=visitor_service, workspace=workspace,
                        files=files, tenant_repo=tenants, agent_repo=agents, visitor_repo=visitors,
                        connection_repo=connections, conversation_repo=conversations, message_repo=messages,
                        canned_repo=canned, store=store, gateway=gateway, metrics=metrics, signer=signer,
                        hasher=hasher)


# ------------------------------------------------------------------ tickets


class FakeTickets(TicketRepository):
    """Tickets in memory with the DynamoDB adapter's conditions: the counter only grows, a
    save needs the version it read, a conversation has one ticket."""

    def __init__(self, agents: FakeAgents, conversations: FakeConversations | None = None) -> None:
        self._agents = agents
        self._conversations = conversations
        self._lock = threading.Lock()
        self.counters: dict[str, int] = {}
        self.items: dict[tuple[str, int], Ticket] = {}
        self.events: dict[tuple[str, int], list[TimelineEvent]] = {}
        self.conversations: dict[tuple[str, str], int] = {}
        self.settings: dict[tuple[str, str], dict[str, Any]] = {}
        self.hits: Counter[tuple[str, str, int]] = Counter()
        self.groups: dict[str, set[str]] = {}  # agent id → skill groups (routing's membership)

    def next_number(self, tenant_id: str) -> int:
        with self._lock:
            self.counters[tenant_id] = self.counters.get(tenant_id, 0) + 1
            return 1000 + self.counters[tenant_id]

    def add(self, ticket: Ticket, events: list[TimelineEvent]) -> None:
        with self._lock:
            key = (ticket.tenant_id, ticket.number)
            if key in self.items:
                raise Conflict("ticket exists")
            if ticket.conversation_id and ticket.source == "conversation":
                existing = self.conversations.get((ticket.tenant_id, ticket.conversation_id))
                if existing is not None:
                    raise TicketExists("the conversation has a ticket", {"number": existing})
                self.conversations[(ticket.tenant_id, ticket.conversation_id)] = ticket.number
                stored = self._conversations.items.get((ticket.tenant_id, ticket.conversation_id)) \
                    if self._conversations else None
                if stored is not None:
                    stored.ticket_number = ticket.number
            ticket.version = 1
            self.items[key] = copy.deepcopy(ticket)
            self.events.setdefault(key, []).extend(events)

    def get(self, tenant_id: str, number: int) -> Ticket | None:
        return copy.deepcopy(self.items.get((tenant_id, number)))

    def save(self, ticket: Ticket, events: list[TimelineEvent]) -> None:
        with self._lock:
            key = (ticket.tenant_id, ticket.number)
            stored = self.items.get(key)
            if stored is None or stored.version != ticket.version:
                raise Conflict("the ticket changed meanwhile")
            ticket.version += 1
            self.items[key] = copy.deepcopy(ticket)
            self.events.setdefault(key, []).extend(events)

    def add_events(self, tenant_id: str, events: list[TimelineEvent]) -> None:
        with self._lock:
            for event in events:
                self.events.setdefault((tenant_id, event.number), []).append(event)

    def timeline(self, tenant_id: str, number: int, limit: int) -> list[TimelineEvent]:
        return sorted(self.events.get((tenant_id, number), []), key=lambda e: e.at)[:limit]

    def by_index(self, tenant_id: str, index: str, key: str, limit: int) -> list[Ticket]:
        field_of = {"status": lambda t: t.status.value, "assignee": lambda t: t.assignee_id,
                    "group": lambda t: t.group_id}[index]
        found = [copy.deepcopy(t) for (tid, _), t in self.items.items() if tid == tenant_id and field_of(t) == key]
        return sorted(found, key=lambda t: t.updated_at, reverse=True)[:limit]

    def by_conversation(self, tenant_id: str, conversation_id: str) -> int | None:
        return self.conversations.get((tenant_id, conversation_id))

    def get_setting(self, tenant_id: str, kind: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.settings.get((tenant_id, kind)))

    def put_setting(self, tenant_id: str, kind: str, data: dict[str, Any]) -> None:
        self.settings[(tenant_id, kind)] = copy.deepcopy(data)

    def hit(self, tenant_id: str, key: str, window_ms: int, now_ms: int) -> int:
        with self._lock:
            self.hits[(tenant_id, key, now_ms // window_ms)] += 1
            return self.hits[(tenant_id, key, now_ms // window_ms)]

    def agents(self, tenant_id: str) -> list[Agent]:
        return [copy.deepcopy(a) for (tid, _), a in self._agents.items.items() if tid == tenant_id]

    def supervisors(self, tenant_id: str, group_id: str | None) -> list[str]:
        bosses = [a for a in self.agents(tenant_id) if a.role in ("supervisor", "admin")]
        in_group = [a.agent_id for a in bosses if group_id and group_id in self.groups.get(a.agent_id, ())]
        return in_group or [a.agent_id for a in bosses]


class FakeTimer(SlaTimer):
    """Records the armed timers: (tenant, number, version) → wake time."""

    def __init__(self) -> None:
        self.armed: dict[tuple[str, int, int], int] = {}
        self.disarmed: list[tuple[str, int, int]] = []

    def arm(self, tenant_id: str, number: int, sla_version: int, wake_at_ms: int) -> None:
        self.armed.setdefault((tenant_id, number, sla_version), wake_at_ms)

    def disarm(self, tenant_id: str, number: int, sla_version: int) -> None:
        self.disarmed.append((tenant_id, number, sla_version))
        self.armed.pop((tenant_id, number, sla_version), None)

    def running(self, tenant_id: str, number: int) -> dict[int, int]:
        return {v: at for (t, n, v), at in self.armed.items() if (t, n) == (tenant_id, number)}


class FakeMailer(Mailer):
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, to: str, subject: str, text: str) -> None:
        self.sent.append((to, subject, text))


def build_ticket_service(services: FakeServices, public_url: str = "https://kefu.test") -> tuple[
        TicketService, FakeTickets, FakeTimer, FakeMailer]:
    """A TicketService on the fakes of `build_services`, as `bootstrap.build` wires the real one."""
    tickets, timer, mailer = FakeTickets(services.agent_repo, services.conversation_repo), FakeTimer(), FakeMailer()
    service = TicketService(tickets, services.tenant_repo, services.conversation_repo, services.message_repo,
                            services.visitor_repo, Notifier(services.connection_repo, services.conversation_repo,
                                                            services.gateway, services.clock),
                            timer, mailer, services.signer, services.clock, public_url,
                            sleep=lambda seconds: services.clock.advance(int(seconds * 1000)))
    return service, tickets, timer, mailer


# ------------------------------------------------------------------ routing


class FakeDispatchTrigger:
    """Records dispatch requests instead of invoking a Lambda; tests run `dispatch` themselves."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, list[str]]] = []
        self.new: list[str] = []  # conversations the dispatcher was asked to announce
        self.born_assigned: list[str] = []  # ... that need nothing else

    def request(self, tenant_id: str, conversation_ids: list[str] | None = None, new: bool = False,
                born_assigned: bool = False) -> None:
        self.requests.append((tenant_id, list(conversation_ids or [])))
        if new:
            self.new.extend(conversation_ids or [])
        if born_assigned:
            self.born_assigned.extend(conversation_ids or [])


def _refuses(agent: Any, reachable_since: int | None) -> bool:
    """`DynamoRouting.agent_takes_one`, negated: full, gone, or (if asked) not reachable."""
    return agent is None or agent.load >= agent.capacity or (reachable_since is not None and not (
        agent.presence == "online" and agent.live_connections > 0 and agent.heartbeat_at >= reachable_since))


class FakeRouting:
    """`RoutingRepository` in memory, with `DynamoRouting`'s conditions: an assignment raises
    the agent's load only below capacity (and, if asked, only for a reachable agent) and only
    for an open conversation with the expected assignee; the lease is taken once."""

    def __init__(self, conversations: FakeConversations) -> None:
        from chalicelib.domain.routing import AgentState

        self._conversations = conversations
        self._lock = threading.Lock()
        self.agent_states: dict[tuple[str, str], AgentState] = {}
        conversations.on_unassign = self._release
        conversations.on_born_assigned = self._take_one
        self.groups_: dict[tuple[str, str], Any] = {}
        self.rules_: dict[tuple[str, str], Any] = {}
        self.hours: dict[str, Any] = {}
        self.left: list[Any] = []
        self.lease: dict[str, dict[str, Any]] = {}

    def _release(self, tenant_id: str, agent_id: str) -> None:
        state = self.agent_states.get((tenant_id, agent_id))
        if state is not None:
            state.load -= 1

    def _take_one(self, tenant_id: str, agent_id: str, now_ms: int, reachable_since: int | None) -> None:
        from chalicelib.domain.errors import AgentUnavailable

        with self._lock:
            agent = self.agent_states.get((tenant_id, agent_id))
            if _refuses(agent, reachable_since):
                raise AgentUnavailable("the agent cannot take another conversation now")
            agent.load += 1
            agent.last_assigned_at = now_ms

    def add_agent(self, tenant_id: str, agent_id: str, name: str, **fields: Any) -> None:
        from chalicelib.domain.routing import AgentState

        self.agent_states[(tenant_id, agent_id)] = AgentState(agent_id, name, **fields)

    def agents(self, tenant_id: str) -> list[Any]:
        return [copy.deepcopy(a) for (t, _), a in self.agent_states.items() if t == tenant_id]

    def agent(self, tenant_id: str, agent_id: str) -> Any:
        return copy.deepcopy(self.agent_states.get((tenant_id, agent_id)))

    def save_profile(self, tenant_id: str, agent_id: str, groups: frozenset[str], languages: frozenset[str],
                     seniority: int, capacity: int) -> Any:
        state = self.agent_states.get((tenant_id, agent_id))
        if state is None:
            return None
        state.groups, state.languages, state.seniority, state.capacity = groups, languages, seniority, capacity
        return copy.deepcopy(state)

    def connected(self, tenant_id: str, agent_id: str, now_ms: int) -> None:
        state = self.agent_states.get((tenant_id, agent_id))
        if state:
            state.live_connections += 1
            state.heartbeat_at = now_ms

    def disconnected(self, tenant_id: str, agent_id: str) -> None:
        state = self.agent_states.get((tenant_id, agent_id))
        if state and state.live_connections > 0:
            state.live_connections -= 1

    def heartbeat(self, tenant_id: str, agent_id: str, now_ms: int, timeout_ms: int) -> bool:
        state = self.agent_states.get((tenant_id, agent_id))
        if state is None:
            return False
        stale = state.heartbeat_at is None or now_ms - state.heartbeat_at > timeout_ms
        state.heartbeat_at = now_ms
        return stale

    def queue(self, tenant_id: str, limit: int) -> list[Conversation]:
        from chalicelib.domain.routing import queue_key

        waiting = [c for (t, _), c in self._conversations.items.items()
                   if t == tenant_id and c.queued_at is not None and c.assignee_id is None]
        waiting.sort(key=lambda c: queue_key(c.priority, c.queued_at or 0, c.conversation_id))
        return [copy.deepcopy(c) for c in waiting[:limit]]

    def reprioritize(self, tenant_id: str, conversation_id: str, priority: str) -> bool:
        stored = self._conversations.items.get((tenant_id, conversation_id))
        if stored is None or stored.queued_at is None or stored.assignee_id:
            return False
        stored.priority = priority
        return True

    def queue_position(self, tenant_id: str, conversation: Conversation) -> int:
        ids = [c.conversation_id for c in self.queue(tenant_id, 10_000)]
        return ids.index(conversation.conversation_id) + 1 if conversation.conversation_id in ids else len(ids) + 1

    def assign(self, tenant_id: str, conversation_id: str, agent_id: str, now_ms: int, *,
               expected_assignee: str | None = None, reachable_since: int | None = None,
               note: str | None = None) -> None:
        with self._lock:
            self._assign_locked(tenant_id, conversation_id, agent_id, now_ms, expected_assignee, reachable_since)

    def _assign_locked(self, tenant_id: str, conversation_id: str, agent_id: str, now_ms: int,
                       expected_assignee: str | None, reachable_since: int | None) -> None:
        from chalicelib.domain.errors import AgentUnavailable

        agent = self.agent_states.get((tenant_id, agent_id))
        if _refuses(agent, reachable_since):
            raise AgentUnavailable("the agent cannot take another conversation now")
        stored = self._conversations.items.get((tenant_id, conversation_id))
        if stored is None or stored.status is not ConversationStatus.OPEN or stored.assignee_id != expected_assignee:
            raise Conflict("the conversation was taken or changed meanwhile")
        agent.load += 1
        agent.last_assigned_at = now_ms
        if expected_assignee and expected_assignee != agent_id:
            self.agent_states[(tenant_id, expected_assignee)].load -= 1
            stored.last_assignee_id = expected_assignee
        stored.assignee_id, stored.assigned_at, stored.queued_at = agent_id, now_ms, None

    def assign_together(self, tenant_id: str, pairs: list[tuple[str, str]], now_ms: int,
                        reachable_since: int) -> bool:
        from chalicelib.domain.errors import AgentUnavailable

        assert len({agent_id for _, agent_id in pairs}) == len(pairs), "one conversation per agent"
        with self._lock:  # all or nothing: put back what was written if a later pair fails
            agents = [self.agent_states.get((tenant_id, a)) for _, a in pairs]
            stored = [self._conversations.items.get((tenant_id, c)) for c, _ in pairs]
            saved = [(a.load, a.last_assigned_at) if a else None for a in agents]
            saved_conversations = [(c.assignee_id, c.assigned_at, c.queued_at) if c else None for c in stored]
            try:
                for conversation_id, agent_id in pairs:
                    self._assign_locked(tenant_id, conversation_id, agent_id, now_ms, None, reachable_since)
            except (AgentUnavailable, Conflict):
                for agent, before in zip(agents, saved):
                    if agent is not None and before is not None:
                        agent.load, agent.last_assigned_at = before
                for conversation, state in zip(stored, saved_conversations):
                    if conversation is not None and state is not None:
                        conversation.assignee_id, conversation.assigned_at, conversation.queued_at = state
                return False
        return True

    def requeue(self, tenant_id: str, conversation_id: str, expected_assignee: str | None,
                group_id: str | None, priority: str, now_ms: int) -> None:
        with self._lock:
            stored = self._conversations.items.get((tenant_id, conversation_id))
            if stored is None or stored.status is not ConversationStatus.OPEN or stored.assignee_id != expected_assignee:
                raise Conflict("the conversation was taken or changed meanwhile")
            if expected_assignee:
                self.agent_states[(tenant_id, expected_assignee)].load -= 1
                stored.last_assignee_id = expected_assignee
            stored.assignee_id, stored.group_id, stored.priority, stored.queued_at = None, group_id, priority, now_ms

    def acquire_lease(self, tenant_id: str, holder: str, now_ms: int, ttl_ms: int,
                      news: Any = ()) -> Any:
        from chalicelib.domain.ports import LeaseTry

        with self._lock:
            lease = self.lease.get(tenant_id)
            if lease is None or lease["until"] < now_ms:
                left = sorted(lease["pending"]) if lease else []
                self.lease[tenant_id] = {"holder": holder, "until": now_ms + ttl_ms, "dirty": False, "pending": set()}
                return LeaseTry(taken=True, news=tuple(left))
            lease["dirty"] = True
            lease["pending"].update(news)
            return LeaseTry(taken=False, handed_over=True)

    def renew_lease(self, tenant_id: str, holder: str, now_ms: int, ttl_ms: int) -> bool:
        with self._lock:
            lease = self.lease.get(tenant_id)
            if lease is None or lease["holder"] != holder:
                return False
            lease["until"] = now_ms + ttl_ms
            return True

    def release_lease(self, tenant_id: str, holder: str) -> tuple[bool, list[str]]:
        with self._lock:
            lease = self.lease.get(tenant_id)
            if lease is None or lease["holder"] != holder:
                return True, []
            if lease["dirty"]:
                left = sorted(lease["pending"])
                lease["dirty"], lease["pending"] = False, set()
                return False, left
            del self.lease[tenant_id]
            return True, []

    def groups(self, tenant_id: str) -> list[Any]:
        return [copy.deepcopy(g) for (t, _), g in self.groups_.items() if t == tenant_id]

    def put_group(self, group: Any) -> None:
        self.groups_[(group.tenant_id, group.group_id)] = copy.deepcopy(group)

    def delete_group(self, tenant_id: str, group_id: str) -> bool:
        return self.groups_.pop((tenant_id, group_id), None) is not None

    def rules(self, tenant_id: str) -> list[Any]:
        return [r for (t, _), r in self.rules_.items() if t == tenant_id]

    def put_rule(self, rule: Any) -> None:
        self.rules_[(rule.tenant_id, rule.rule_id)] = rule

    def delete_rule(self, tenant_id: str, rule_id: str) -> bool:
        return self.rules_.pop((tenant_id, rule_id), None) is not None

    def business_hours(self, tenant_id: str) -> Any:
        return self.hours.get(tenant_id)

    def put_business_hours(self, tenant_id: str, hours: Any) -> None:
        self.hours[tenant_id] = hours

    def add_left_message(self, message: Any) -> None:
        self.left.append(message)

    def left_messages(self, tenant_id: str, limit: int) -> list[Any]:
        return [m for m in reversed(self.left) if m.tenant_id == tenant_id][:limit]


def with_routing(world: FakeServices) -> tuple[Any, FakeRouting, FakeDispatchTrigger]:
    """Attach a RoutingService on fakes to `world`, as `bootstrap.attach_routing` does."""
    from chalicelib.bootstrap import attach_routing
    from chalicelib.services.chat import conversation_summary
    from chalicelib.services.routing import RoutingService

    repo, trigger = FakeRouting(world.conversation_repo), FakeDispatchTrigger()
    notifier = world.chat._notifier
    routing = RoutingService(repo, world.agent_repo, world.conversation_repo, world.visitor_repo,  # type: ignore[arg-type]
                             notifier, trigger, world.clock, conversation_summary)  # type: ignore[arg-type]
    attach_routing(world.chat, world.workspace, routing)
    return routing, repo, trigger
