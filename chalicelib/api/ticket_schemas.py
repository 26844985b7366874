"""Pydantic models of the tickets REST bodies (merged into `schemas.ENDPOINTS`)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..domain.protocol import TicketSummary
from .schemas import Body

PriorityName = Literal["low", "normal", "high", "urgent"]
StatusName = Literal["new", "open", "pending", "on_hold", "solved", "closed"]
Slug = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")


class TicketListQuery(Body):
    mine: bool = False
    group_id: str | None = Field(default=None, max_length=40)
    status: StatusName | None = None
    priority: PriorityName | None = None
    sla: Literal["breached", "about_to_breach"] | None = None
    limit: int = Field(default=50, ge=1, le=200)


class TicketList(BaseModel):
    tickets: list[TicketSummary]


class TicketIn(Body):
    subject: str = Field(min_length=1, max_length=200)
    type: str = Field(default="general", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    priority: PriorityName = "normal"
    requester_email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    requester_name: str | None = Field(default=None, max_length=100)
    visitor_id: str | None = Field(default=None, max_length=64)
    tags: list[str] = Field(default_factory=list, max_length=20)
    group_id: str | None = Field(default=None, max_length=40)
    assignee_id: str | None = Field(default=None, max_length=64)
    description: str = Field(default="", max_length=10_000)


class ConversationTicketIn(Body):
    subject: str | None = Field(default=None, min_length=1, max_length=200,
                                description="default: the visitor's first message")
    type: str = Field(default="general", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    priority: PriorityName = "normal"


class TicketPatch(Body):
    version: int = Field(ge=1, description="the version you read; a newer one answers 409 conflict")
    status: StatusName | None = None
    priority: PriorityName | None = None
    type: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    group_id: str | None = Field(default=None, max_length=40, description='"" clears it')
    assignee_id: str | None = Field(default=None, max_length=64, description='"" unassigns')
    tags: list[str] | None = Field(default=None, max_length=20)
    subject: str | None = Field(default=None, min_length=1, max_length=200)


class TextIn(Body):
    text: str = Field(min_length=1, max_length=10_000)


class EscalateIn(Body):
    reason: str = Field(default="complaint", min_length=1, max_length=200)


class TimelineEventOut(BaseModel):
    at: int
    kind: str
    actor: str
    data: dict[str, Any] = Field(default_factory=dict)


class Deadlines(BaseModel):
    first_response_due: int | None = None
    next_response_due: int | None = None
    resolution_due: int | None = None
    resolution_left_ms: int | None = None


class TicketDetails(BaseModel):
    ticket: TicketSummary
    source: str
    conversation_id: str | None = None
    requester_visitor_id: str | None = None
    deadlines: Deadlines
    first_response_at: int | None = None
    solved_at: int | None = None
    csat_score: int | None = None
    csat_comment: str | None = None
    sla_version: int
    timeline: list[TimelineEventOut] = Field(default_factory=list)


class TargetIn(Body):
    first_response_ms: int = Field(ge=0)
    next_response_ms: int = Field(ge=0)
    resolution_ms: int = Field(ge=0)
    business_hours: bool = False


class BusinessHoursIn(Body):
    timezone: str = Field(max_length=64, description="IANA time zone, e.g. Asia/Shanghai")
    week: dict[Literal["0", "1", "2", "3", "4", "5", "6"], list[tuple[str, str]]] = Field(
        description='weekday (0 = Monday) → [["09:00", "18:00"], ...]')


class LadderStepIn(Body):
    action: Literal["notify_assignee", "raise_priority", "reassign"]
    after_ms: int = Field(default=0, ge=0)


class SlaPolicyIn(Body):
    targets: dict[PriorityName, TargetIn]
    business_hours: BusinessHoursIn | None = None
    ladder: list[LadderStepIn] = Field(default_factory=list, max_length=10)
    escalation_group: str = Field(default="escalations", max_length=40)


class RoutingRuleIn(Body):
    type: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    group_id: str = Field(min_length=1, max_length=40)


class TicketRoutingIn(Body):
    rules: list[RoutingRuleIn] = Field(default_factory=list, max_length=100)
    default_group: str | None = Field(default=None, max_length=40)


class TicketSettingsOut(BaseModel):
    sla: SlaPolicyIn
    routing: TicketRoutingIn


class LookupIn(Body):
    site_key: str = Field(min_length=8, max_length=64)
    number: int = Field(ge=1, le=9_999_999_999)
    email: str = Field(min_length=3, max_length=254)


class TicketStatusOut(BaseModel):
    number: int
    subject: str
    status: StatusName
    created_at: int
    updated_at: int
    csat_score: int | None = None


class RatingQuery(Body):
    """The mail's link (and the page it opens, whose form sends the comment the same way)."""

    token: str = Field(min_length=10, max_length=4096)
    score: int = Field(ge=1, le=5)
    reopen: bool = False
    comment: str | None = Field(default=None, max_length=2000)


class RatingIn(RatingQuery):
    """The widget's rating form."""


class RatingOut(BaseModel):
    number: int
    status: StatusName
    csat_score: int
    message: str


class LeftMessageIn(Body):
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = Field(default=None, max_length=100)
    text: str = Field(min_length=1, max_length=10_000)


class SlaReportQuery(Body):
    since: int = Field(default=0, ge=0, description="tickets created at or after this time (epoch ms)")


class PriorityAttainment(BaseModel):
    tickets: int
    met: int


class SlaReport(BaseModel):
    tickets: int
    met: int = Field(description="tickets that never missed a deadline")
    attainment: float | None = Field(description="met / tickets; null without tickets")
    breaches_by_kind: dict[str, int]
    by_priority: dict[str, PriorityAttainment]


TICKET_ENDPOINTS: dict[tuple[str, str], tuple[Any, Any, str, str]] = {
    ("GET", "/v1/tickets"): (TicketListQuery, TicketList,
                             "Tickets: mine, by group, status, priority, breached or about to breach", "agent"),
    ("POST", "/v1/tickets"): (TicketIn, TicketDetails, "Open a ticket (routed by type, SLA timer armed)", "agent"),
    ("GET", "/v1/tickets/{number}"): (None, TicketDetails, "A ticket with its timeline", "agent"),
    ("PATCH", "/v1/tickets/{number}"): (TicketPatch, TicketDetails,
                                        "Edit a ticket (status, priority, type, group, assignee, tags, subject) "
                                        "at the version read", "agent"),
    ("POST", "/v1/tickets/{number}/replies"): (TextIn, TicketDetails,
                                               "Reply to the customer by mail; meets the response target", "agent"),
    ("POST", "/v1/tickets/{number}/notes"): (TextIn, TimelineEventOut, "Add an internal note", "agent"),
    ("POST", "/v1/tickets/{number}/escalate"): (EscalateIn, TicketDetails,
                                                "A complaint: urgent, and the ladder starts at once", "agent"),
    ("POST", "/v1/conversations/{conversation_id}/ticket"): (
        ConversationTicketIn, TicketDetails,
        "Turn a conversation into a ticket with its customer and transcript (once)", "agent"),
    ("GET", "/v1/ticket-reports/sla"): (SlaReportQuery, SlaReport,
                                        "SLA attainment: tickets that met every deadline, by priority and kind",
                                        "agent"),
    ("GET", "/v1/ticket-settings"): (None, TicketSettingsOut, "The SLA policy and ticket routing rules", "agent"),
    ("PUT", "/v1/ticket-settings/sla"): (SlaPolicyIn, SlaPolicyIn,
                                         "Set the SLA policy (supervisors and admins)", "agent"),
    ("PUT", "/v1/ticket-settings/routing"): (TicketRoutingIn, TicketRoutingIn,
                                             "Set the ticket routing rules (supervisors and admins)", "agent"),
    ("POST", "/v1/visitor/left-messages"): (LeftMessageIn, TicketStatusOut,
                                            "Leave a message while no agent is online: it becomes a ticket",
                                            "visitor"),
    ("POST", "/v1/public/tickets/lookup"): (LookupIn, TicketStatusOut,
                                            "A ticket's status by number and the email it was opened with "
                                            "(rate-limited)", "none"),
    ("GET", "/v1/public/tickets/rating"): (RatingQuery, RatingOut, "Rate a solved ticket from the mail's link",
                                           "none"),
    ("POST", "/v1/public/tickets/rating"): (RatingIn, RatingOut, "Rate a solved ticket, with a comment", "none"),
}
