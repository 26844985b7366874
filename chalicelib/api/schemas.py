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


class HealthOut(BaseModel):
    ok: bool
    version: str


ENDPOINTS = {
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
}


def _add_ticket_endpoints() -> None:
    from .ticket_schemas import TICKET_ENDPOINTS

    ENDPOINTS.update(TICKET_ENDPOINTS)


_add_ticket_endpoints()
# The knowledge base's and the bot's routes (their models live in kb_schemas.py).
from .kb_schemas import KB_ENDPOINTS  # noqa: E402

ENDPOINTS.update(KB_ENDPOINTS)
