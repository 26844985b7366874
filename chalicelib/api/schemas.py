"""Pydantic models of every REST request and response body (the OpenAPI document is
generated from these by `docs/generate_openapi.py`)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..domain.protocol import ConversationSummary, Messages, VisitorProfile


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VisitorSessionIn(Body):
    site_key: str = Field(min_length=8, max_length=64)
    token: str | None = Field(default=None, max_length=2048, description="a token from an earlier visit")


class VisitorSessionOut(BaseModel):
    token: str
    tenant_id: str
    tenant_name: str
    visitor_id: str
    returning: bool
    expires_in: int


class LoginIn(Body):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class AgentOut(BaseModel):
    agent_id: str
    tenant_id: str
    email: str
    display_name: str
    role: str


class LoginOut(BaseModel):
    token: str
    expires_in: int
    agent: AgentOut


class MeOut(BaseModel):
    tenant_id: str
    role: Literal["visitor", "agent"]
    principal_id: str
    display_name: str


class ConversationList(BaseModel):
    conversations: list[ConversationSummary]
    next_cursor: str | None = None


class ConversationListQuery(Body):
    status: Literal["open", "resolved"] = "open"
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)


class HistoryQuery(Body):
    after_seq: int = Field(default=0, ge=0)
    before_seq: int | None = Field(default=None, ge=1, description="page backwards: the messages just before this seq")
    limit: int = Field(default=100, ge=1, le=200)


class AgentMeOut(BaseModel):
    agent_id: str
    tenant_id: str
    email: str
    display_name: str
    role: str
    presence: Literal["online", "away", "offline"]


class CannedReplyIn(Body):
    shortcut: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")
    text: str = Field(min_length=1, max_length=4000)


class CannedReplyOut(BaseModel):
    id: str
    shortcut: str
    text: str


class CannedReplyList(BaseModel):
    canned_replies: list[CannedReplyOut]


class VisitorDetails(VisitorProfile):
    conversations: list[ConversationSummary]


class UploadIn(Body):
    conversation_id: str = Field(max_length=64)
    name: str = Field(min_length=1, max_length=200)
    content_type: str = Field(max_length=100)
    size: int = Field(ge=1)


class PresignedPost(BaseModel):
    url: str
    fields: dict[str, str]


class UploadOut(BaseModel):
    file_id: str
    upload: PresignedPost
    max_bytes: int


# ---------------------------------------------------------------- routing

Id = Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")
PriorityName = Literal["urgent", "high", "normal", "low"]


class GroupIn(Body):
    name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=500)


class GroupOut(BaseModel):
    id: str
    name: str
    description: str


class GroupList(BaseModel):
    groups: list[GroupOut]


class ConditionIn(Body):
    field: Literal["type", "page_url", "language", "vip_level", "attribute"]
    op: Literal["equals", "not_equals", "contains", "prefix", "in", "gte", "lte"]
    value: int | str | list[str] = Field(description="a number for gte/lte, a list for in, else a string")
    key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.\-]{1,64}$",
                            description="the custom attribute's name (field attribute only)")


class RuleIn(Body):
    name: str = Field(min_length=1, max_length=120)
    position: int = Field(default=100, ge=0, le=100_000, description="rules run in ascending position")
    conditions: list[ConditionIn] = Field(default_factory=list, max_length=10,
                                          description="all must hold; none: the rule always applies")
    group_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    priority: PriorityName | None = None
    enabled: bool = True


class RuleOut(RuleIn):
    id: str


class RuleList(BaseModel):
    rules: list[RuleOut]


class AgentRoutingIn(Body):
    groups: list[str] = Field(default_factory=list, max_length=20)
    languages: list[str] = Field(default_factory=list, max_length=10)
    seniority: int = Field(default=0, ge=0, le=10)
    capacity: int = Field(default=3, ge=0, le=50, description="most conversations at once")


class AgentRoutingOut(BaseModel):
    agent_id: str
    display_name: str
    role: str
    groups: list[str]
    languages: list[str]
    seniority: int
    capacity: int
    load: int
    presence: Literal["online", "away", "offline"]
    reachable: bool = Field(description="online, with a live workbench whose heartbeat is fresh")
    live_connections: int
    heartbeat_at: int


class AgentRoutingList(BaseModel):
    agents: list[AgentRoutingOut]


class QueuedConversation(BaseModel):
    position: int
    conversation: ConversationSummary


class QueueOut(BaseModel):
    queue: list[QueuedConversation]


class BusinessHoursIn(Body):
    timezone: str = Field(min_length=1, max_length=64, examples=["Asia/Shanghai"])
    windows: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[tuple[str, str]]] = Field(
        description='per weekday, opening spans like [["09:00", "18:00"]]; a missing day is closed')


class BusinessHoursBody(Body):
    hours: BusinessHoursIn | None = Field(description="null: always open")


class LeftMessageOut(BaseModel):
    id: str
    visitor_id: str
    conversation_id: str | None
    name: str | None
    email: str
    text: str
    created_at: int
    reason: Literal["no_agent", "closed"]


class LeftMessageList(BaseModel):
    left_messages: list[LeftMessageOut]


class HealthOut(BaseModel):
    ok: bool
    version: str


# (method, path) → (request model, response model, summary, who may call it)
Endpoint = tuple["type[BaseModel] | None", "type[BaseModel] | None", str, str]
ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    # (method, path): (request model, response model, summary, auth)
    ("GET", "/v1/health"): (None, HealthOut, "Liveness check", "none"),
    ("POST", "/v1/visitor/sessions"): (VisitorSessionIn, VisitorSessionOut,
                                       "Start or resume a visitor session for a site key", "none"),
    ("POST", "/v1/agent/login"): (LoginIn, LoginOut, "Agent sign-in with email and password", "none"),
    ("GET", "/v1/me"): (None, MeOut, "Who the bearer token belongs to", "visitor or agent"),
    ("GET", "/v1/conversations"): (ConversationListQuery, ConversationList,
                                   "A tenant's conversations by status, most recent first", "agent"),
    ("GET", "/v1/conversations/{conversation_id}"): (None, ConversationSummary,
                                                     "One conversation", "agent or its visitor"),
    ("GET", "/v1/conversations/{conversation_id}/messages"): (
        HistoryQuery, Messages, "Messages after (or just before) a sequence number, oldest first",
        "agent or its visitor"),
    ("GET", "/v1/agents/me"): (None, AgentMeOut, "The signed-in agent, with their last presence", "agent"),
    ("GET", "/v1/canned-replies"): (None, CannedReplyList, "The tenant's canned replies", "agent"),
    ("POST", "/v1/canned-replies"): (CannedReplyIn, CannedReplyOut, "Create a canned reply", "agent"),
    ("PUT", "/v1/canned-replies/{reply_id}"): (CannedReplyIn, CannedReplyOut, "Change a canned reply", "agent"),
    ("DELETE", "/v1/canned-replies/{reply_id}"): (None, None, "Delete a canned reply (204)", "agent"),
    ("GET", "/v1/visitors/{visitor_id}"): (None, VisitorDetails,
                                           "A visitor's profile, page trail and conversations", "agent"),
    ("POST", "/v1/uploads"): (UploadIn, UploadOut,
                              "A presigned POST to upload an attachment straight to storage",
                              "agent or the conversation's visitor"),
    ("GET", "/v1/routing/groups"): (None, GroupList, "The tenant's skill groups", "agent"),
    ("POST", "/v1/routing/groups"): (GroupIn, GroupOut, "Create a skill group", "supervisor"),
    ("PUT", "/v1/routing/groups/{group_id}"): (GroupIn, GroupOut, "Rename or describe a group", "supervisor"),
    ("DELETE", "/v1/routing/groups/{group_id}"): (None, None, "Delete a group no rule routes to (204)",
                                                  "supervisor"),
    ("GET", "/v1/routing/rules"): (None, RuleList, "Routing rules in evaluation order", "agent"),
    ("POST", "/v1/routing/rules"): (RuleIn, RuleOut, "Create a routing rule", "supervisor"),
    ("PUT", "/v1/routing/rules/{rule_id}"): (RuleIn, RuleOut, "Change a routing rule", "supervisor"),
    ("DELETE", "/v1/routing/rules/{rule_id}"): (None, None, "Delete a routing rule (204)", "supervisor"),
    ("GET", "/v1/routing/agents"): (None, AgentRoutingList,
                                    "Every agent's groups, capacity, load, presence and reachability", "agent"),
    ("PUT", "/v1/routing/agents/{agent_id}"): (AgentRoutingIn, AgentRoutingOut,
                                               "Set an agent's groups, languages, seniority and capacity",
                                               "supervisor"),
    ("GET", "/v1/routing/queue"): (None, QueueOut, "Queued conversations in dispatch order", "agent"),
    ("GET", "/v1/routing/hours"): (None, BusinessHoursBody, "The tenant's business hours", "agent"),
    ("PUT", "/v1/routing/hours"): (BusinessHoursBody, BusinessHoursBody, "Set or clear business hours",
                                   "supervisor"),
    ("GET", "/v1/left-messages"): (None, LeftMessageList,
                                   "Messages visitors left while nobody could answer, newest first", "agent"),
}


def _add_ticket_endpoints() -> None:
    from .ticket_schemas import TICKET_ENDPOINTS

    ENDPOINTS.update(TICKET_ENDPOINTS)


_add_ticket_endpoints()
# The knowledge base's and the bot's routes (their models live in kb_schemas.py).
from .kb_schemas import KB_ENDPOINTS  # noqa: E402

ENDPOINTS.update(KB_ENDPOINTS)
