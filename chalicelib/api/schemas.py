"""Pydantic models of every REST request and response body (the OpenAPI document is
generated from these by `docs/generate_openapi.py`)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..domain.protocol import ConversationSummary, Messages


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
    limit: int = Field(default=100, ge=1, le=200)


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
        HistoryQuery, Messages, "Messages after a sequence number, oldest first", "agent or its visitor"),
}
