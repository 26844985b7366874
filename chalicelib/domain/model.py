"""Plain data the domain works on. No AWS here: adapters translate to and from storage."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Role(str, Enum):
    VISITOR = "visitor"
    AGENT = "agent"


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


@dataclass
class Agent:
    tenant_id: str
    agent_id: str
    email: str
    display_name: str
    password_hash: str
    role: str = "agent"  # agent | supervisor | admin
    created_at: int = 0


@dataclass
class Visitor:
    tenant_id: str
    visitor_id: str
    created_at: int
    last_seen_at: int
    open_conversation_id: str | None = None
    visits: int = 1


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

    def readable_by(self, identity: Identity) -> bool:
        """Agents read their tenant's conversations; a visitor reads only their own."""
        if identity.tenant_id != self.tenant_id:
            return False
        return identity.is_agent or identity.principal_id == self.visitor_id


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
