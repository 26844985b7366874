"""Plain data the domain works on. No AWS here: adapters translate to and from storage."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Role(str, Enum):
    VISITOR = "visitor"
    AGENT = "agent"
    BOT = "bot"  # the knowledge-base assistant (chalicelib/services/bot.py)


class ConversationStatus(str, Enum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Identity:
    """Who is calling, as proven by a signed token. Every read and write is scoped by `tenant_id`."""

    tenant_id: str
    role: Role
    principal_id: str  # visitor id or agent id
    display_name: str = ""

    @property
    def is_agent(self) -> bool:
        return self.role is Role.AGENT


@dataclass
class Tenant:
    tenant_id: str
    name: str
    site_key: str
    created_at: int = 0
    identity_secret: str = ""  # HMAC key for identify()'s user_hash (verified identity)


@dataclass
class Agent:
    tenant_id: str
    agent_id: str
    email: str
    display_name: str
    password_hash: str
    role: str = "agent"  # agent | supervisor | admin
    created_at: int = 0
    presence: str = "offline"  # online | away | offline
    presence_at: int = 0


@dataclass
class PageVisit:
    url: str
    title: str
    at: int


@dataclass
class Visitor:
    """A person on the site, known by the token in their browser; the profile agents see."""

    tenant_id: str
    visitor_id: str
    created_at: int
    last_seen_at: int
    open_conversation_id: str | None = None
    visits: int = 1
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    verified: bool = False
    attributes: dict[str, str] = field(default_factory=dict)
    # identify: each field (name, email, phone, verified, attr:<key>) → when the frame that
    # set it reached the gateway, so overlapping frames leave what was sent last.
    identified_at: dict[str, int] = field(default_factory=dict)
    trail: list[PageVisit] = field(default_factory=list)  # most recent last
    referrer: str | None = None
    source: str | None = None
    utm: dict[str, str] = field(default_factory=dict)
    device: str | None = None
    language: str | None = None
    screen: str | None = None
    version: int = 0  # optimistic concurrency for profile updates


@dataclass(frozen=True)
class Connection:
    """One open WebSocket. Immutable after $connect, so a warm Lambda may cache it."""

    connection_id: str
    tenant_id: str
    role: Role
    principal_id: str
    display_name: str
    connected_at: int
    expires_at: int

    @property
    def identity(self) -> Identity:
        return Identity(self.tenant_id, self.role, self.principal_id, self.display_name)


@dataclass
class RateState:
    """Token bucket of a conversation's visitor messages (see `domain.ratelimit`)."""

    tokens: float
    updated_ms: int


@dataclass
class Conversation:
    tenant_id: str
    conversation_id: str
    visitor_id: str
    status: ConversationStatus
    created_at: int
    updated_at: int
    last_seq: int = 0
    last_message_preview: str = ""
    visitor_read_seq: int = 0
    agent_read_seq: int = 0
    assignee_id: str | None = None
    watchers: set[str] = field(default_factory=set)  # the visitor's open connection ids
    rate: RateState | None = None
    ticket_number: int | None = None  # the ticket made from this conversation, if any
    # routing (chalicelib/domain/routing.py)
    group_id: str | None = None
    priority: str = "normal"
    message_type: str | None = None
    queued_at: int | None = None  # set while the conversation waits in the queue
    assigned_at: int | None = None
    last_assignee_id: str | None = None  # who had it before it was resolved or transferred

    @property
    def queued(self) -> bool:
        return self.queued_at is not None

    def readable_by(self, identity: Identity) -> bool:
        """Agents read their tenant's conversations; a visitor reads only their own."""
        if identity.tenant_id != self.tenant_id:
            return False
        return identity.is_agent or identity.role is Role.BOT or identity.principal_id == self.visitor_id


@dataclass(frozen=True)
class Attachment:
    file_id: str
    name: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Message:
    tenant_id: str
    conversation_id: str
    seq: int
    client_msg_id: str
    sender_role: Role
    sender_id: str
    sender_name: str
    text: str
    created_at: int
    internal: bool = False
    attachment: Attachment | None = None

    def visible_to(self, role: Role) -> bool:
        return not self.internal or role is Role.AGENT


@dataclass
class CannedReply:
    tenant_id: str
    reply_id: str
    shortcut: str
    text: str
    updated_at: int = 0


@dataclass
class Group:
    """A skill group (sales, support, technical, ...) agents belong to and rules route to."""

    tenant_id: str
    group_id: str
    name: str
    description: str = ""


@dataclass
class LeftMessage:
    """A message a visitor left while nobody could answer; the ticket system picks it up."""

    tenant_id: str
    message_id: str
    visitor_id: str
    conversation_id: str | None
    name: str | None
    email: str
    text: str
    created_at: int
    reason: str  # no_agent | closed
