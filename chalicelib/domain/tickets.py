"""Tickets: the model, allowed status changes, routing rules as data, and how replies,
edits and escalations move a ticket's SLA clock. Pure: no AWS, time is passed in.

Every change that moves the SLA clock bumps `sla_version`; the Step Functions timer carries
the version it was started for, so a timer that fires for an older version ends quietly.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .errors import Conflict, InvalidFrame, NotFound
from .sla import (
    Deadlines,
    EscalationAction,
    Priority,
    SlaPolicy,
    SlaStatus,
    add_business_time,
    ladder_position,
    pause,
    reprioritise,
    resume,
    start_clock,
)

MAX_SUBJECT_CHARS = 200
MAX_TAGS = 20
MAX_TAG_CHARS = 40
MAX_NOTE_CHARS = 10_000
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class TicketNotFound(NotFound):
    code = "ticket_not_found"


class TicketExists(Conflict):
    """The conversation already has a ticket (details: its number)."""

    code = "ticket_exists"


class InvalidTransition(Conflict):
    """The ticket's status cannot change that way (e.g. closed → open)."""

    code = "invalid_transition"


class InvalidTicket(InvalidFrame):
    code = "invalid_ticket"


class TicketStatus(str, Enum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer: the SLA clock is paused
    ON_HOLD = "on_hold"  # waiting on a third party: paused too
    SOLVED = "solved"
    CLOSED = "closed"

    @property
    def clock_runs(self) -> bool:
        return self in (TicketStatus.NEW, TicketStatus.OPEN)

    @property
    def paused(self) -> bool:
        return self in (TicketStatus.PENDING, TicketStatus.ON_HOLD)


S = TicketStatus
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    S.NEW: frozenset({S.OPEN, S.PENDING, S.ON_HOLD, S.SOLVED}),
    S.OPEN: frozenset({S.PENDING, S.ON_HOLD, S.SOLVED}),
    S.PENDING: frozenset({S.OPEN, S.ON_HOLD, S.SOLVED}),
    S.ON_HOLD: frozenset({S.OPEN, S.PENDING, S.SOLVED}),
    S.SOLVED: frozenset({S.OPEN, S.CLOSED}),  # reopen, or close for good
    S.CLOSED: frozenset(),
}


def check_transition(current: TicketStatus, target: TicketStatus) -> None:
    if target is not current and target not in TRANSITIONS[current]:
        raise InvalidTransition(f"a {current.value} ticket cannot become {target.value}",
                                {"from": current.value, "to": target.value,
                                 "allowed": sorted(s.value for s in TRANSITIONS[current])})


@dataclass
class Requester:
    """The customer: their visitor profile (if any) and the email replies go to."""

    visitor_id: str | None = None
    email: str | None = None
    name: str | None = None


@dataclass
class Ticket:
    tenant_id: str
    number: int
    subject: str
    type: str
    priority: Priority
    status: TicketStatus
    created_at: int
    updated_at: int
    requester: Requester = field(default_factory=Requester)
    group_id: str | None = None
    assignee_id: str | None = None
    tags: list[str] = field(default_factory=list)
    conversation_id: str | None = None
    source: str = "agent"  # agent | conversation | offline_message
    deadlines: Deadlines = field(default_factory=Deadlines)
    first_response_at: int | None = None
    awaiting_since: int | None = None  # the customer's oldest unanswered message
    escalation_step: int = 0  # ladder rungs applied for the current deadline
    breached_at: int | None = None  # the deadline being escalated
    breaches: list[str] = field(default_factory=list)  # deadline kinds missed at least once (SLA attainment)
    sla_version: int = 1
    last_assignee_id: str | None = None  # who a reopened ticket goes back to
    solved_at: int | None = None
    csat_score: int | None = None
    csat_comment: str | None = None
    version: int = 0  # optimistic lock: every write requires the version it read

    def sla(self, now_ms: int) -> SlaStatus:
        return SlaStatus.of(self.deadlines, now_ms)


@dataclass(frozen=True)
class TimelineEvent:
    """One line of a ticket's history: a change, note, reply, hand-off or escalation."""

    number: int
    at: int
    kind: str  # created | status | priority | type | group | assignee | tags | subject | note | reply |
    #            customer_message | escalated | csat | mail
    actor: str  # agent id, "visitor", or "system"
    data: dict[str, Any] = field(default_factory=dict)
    event_key: str = ""  # unique within the ticket; escalations use a deterministic key (idempotent)


@dataclass(frozen=True)
class RoutingRule:
    type: str
    group_id: str


@dataclass(frozen=True)
class TicketRouting:
    """Ticket types → groups (e.g. logistics → warehouse), checked in order."""

    rules: tuple[RoutingRule, ...] = ()
    default_group: str | None = None

    def group_for(self, ticket_type: str) -> str | None:
        for rule in self.rules:
            if rule.type == ticket_type:
                return rule.group_id
        return self.default_group

    def to_dict(self) -> dict[str, Any]:
        return {"rules": [{"type": r.type, "group_id": r.group_id} for r in self.rules],
                "default_group": self.default_group}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TicketRouting":
        rules = tuple(RoutingRule(slug(str(r["type"]), "type"), str(r["group_id"])) for r in data.get("rules") or [])
        return cls(rules, data.get("default_group") or None)


def slug(value: str, what: str) -> str:
    if not _SLUG.match(value):
        raise InvalidTicket(f"{what} must be 1-40 lower-case letters, digits, '-' or '_'")
    return value


def clean_tags(tags: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(slug(t.strip().lower(), "a tag") for t in tags))
    if len(cleaned) > MAX_TAGS:
        raise InvalidTicket(f"at most {MAX_TAGS} tags")
    return cleaned


def new_ticket(tenant_id: str, number: int, subject: str, ticket_type: str, priority: Priority,
               requester: Requester, policy: SlaPolicy, routing: TicketRouting, now_ms: int,
               source: str = "agent", conversation_id: str | None = None, tags: list[str] | None = None,
               group_id: str | None = None, assignee_id: str | None = None) -> Ticket:
    subject = subject.strip()
    if not subject or len(subject) > MAX_SUBJECT_CHARS:
        raise InvalidTicket(f"the subject must be 1-{MAX_SUBJECT_CHARS} characters")
    ticket_type = slug(ticket_type, "type")
    return Ticket(
        tenant_id=tenant_id, number=number, subject=subject, type=ticket_type, priority=priority,
        status=TicketStatus.OPEN if assignee_id else TicketStatus.NEW, created_at=now_ms, updated_at=now_ms,
        requester=requester, group_id=group_id or routing.group_for(ticket_type), assignee_id=assignee_id,
        tags=clean_tags(tags or []), conversation_id=conversation_id, source=source,
        deadlines=start_clock(policy, priority, now_ms), awaiting_since=now_ms, last_assignee_id=assignee_id,
    )


@dataclass
class TicketChanges:
    """What an agent edits; None leaves a field alone. `assignee_id=""` unassigns."""

    status: TicketStatus | None = None
    priority: Priority | None = None
    type: str | None = None
    group_id: str | None = None
    assignee_id: str | None = None
    tags: list[str] | None = None
    subject: str | None = None


def _rearm(ticket: Ticket) -> None:
    """The deadlines changed: a new timer version, and the ladder starts over."""
    ticket.sla_version += 1
    ticket.escalation_step = 0
    ticket.breached_at = None


def apply_changes(ticket: Ticket, changes: TicketChanges, policy: SlaPolicy, actor: str,
                  now_ms: int) -> tuple[Ticket, list[TimelineEvent]]:
    """The ticket after an agent's edit, and one timeline event per changed field.

    Priority and status changes re-compute the deadlines (pending and on hold pause the
    clock, reopening restarts it) and re-arm the timer. The input is not modified.
    """
    t = copy.deepcopy(ticket)
    events: list[TimelineEvent] = []
    hours_before = policy.hours_for(t.priority)

    def event(kind: str, old: Any, new: Any) -> None:
        events.append(TimelineEvent(t.number, now_ms, kind, actor, {"from": old, "to": new}))

    if changes.subject is not None and changes.subject.strip() != t.subject:
        subject = changes.subject.strip()
        if not subject or len(subject) > MAX_SUBJECT_CHARS:
            raise InvalidTicket(f"the subject must be 1-{MAX_SUBJECT_CHARS} characters")
        event("subject", t.subject, subject)
        t.subject = subject
    if changes.type is not None and changes.type != t.type:
        event("type", t.type, slug(changes.type, "type"))
        t.type = changes.type
    if changes.tags is not None:
        tags = clean_tags(changes.tags)
        if tags != t.tags:
            event("tags", t.tags, tags)
            t.tags = tags
    if changes.group_id is not None and (changes.group_id or None) != t.group_id:
        event("group", t.group_id, changes.group_id or None)
        t.group_id = changes.group_id or None
    if changes.assignee_id is not None and (changes.assignee_id or None) != t.assignee_id:
        event("assignee", t.assignee_id, changes.assignee_id or None)
        t.assignee_id = changes.assignee_id or None
        if t.assignee_id:
            t.last_assignee_id = t.assignee_id
            if t.status is TicketStatus.NEW and changes.status is None:
                changes = copy.copy(changes)
                changes.status = TicketStatus.OPEN
    if changes.priority is not None and changes.priority is not t.priority:
        event("priority", t.priority.value, changes.priority.value)
        t.priority = changes.priority
        if t.status.clock_runs or t.status.paused:
            t.deadlines = reprioritise(policy, t.deadlines, t.priority, t.created_at, t.awaiting_since,
                                       t.first_response_at is not None, now_ms)
            _rearm(t)
    if changes.status is not None and changes.status is not t.status:
        check_transition(t.status, changes.status)
        event("status", t.status.value, changes.status.value)
        _move(t, changes.status, policy, hours_before, now_ms)
    if events:
        t.updated_at = now_ms
    return t, events


def _move(t: Ticket, target: TicketStatus, policy: SlaPolicy, hours_before: Any, now_ms: int) -> None:
    hours = policy.hours_for(t.priority)
    before = t.status
    if target.paused and before.clock_runs:
        t.deadlines = pause(t.deadlines, hours, now_ms)
    elif target.clock_runs and before.paused:
        t.deadlines = resume(t.deadlines, hours, now_ms)
    elif target in (TicketStatus.SOLVED, TicketStatus.CLOSED):
        t.deadlines = Deadlines()
        if target is TicketStatus.SOLVED:
            t.solved_at = now_ms
    elif target is TicketStatus.OPEN and before is TicketStatus.SOLVED:
        # Reopened: back to its assignee, and the customer is waiting again.
        target_ms = policy.target(t.priority)
        t.assignee_id = t.assignee_id or t.last_assignee_id
        t.awaiting_since = now_ms
        t.solved_at = None
        t.deadlines = Deadlines(
            next_response_due=add_business_time(now_ms, target_ms.next_response_ms, hours)
            if target_ms.next_response_ms else None,
            resolution_due=add_business_time(now_ms, target_ms.resolution_ms, hours)
            if target_ms.resolution_ms else None,
        )
    t.status = target
    _rearm(t)


def record_agent_reply(ticket: Ticket, now_ms: int, agent_id: str) -> Ticket:
    """A public reply meets the first (or next) response target."""
    t = copy.deepcopy(ticket)
    if t.first_response_at is None:
        t.first_response_at = now_ms
    t.awaiting_since = None
    t.deadlines.first_response_due = None
    t.deadlines.next_response_due = None
    if t.status is TicketStatus.NEW:
        t.status = TicketStatus.OPEN
    if not t.assignee_id:
        t.assignee_id = t.last_assignee_id = agent_id
    t.updated_at = now_ms
    _rearm(t)
    return t


def record_customer_message(ticket: Ticket, policy: SlaPolicy, now_ms: int) -> Ticket:
    """The customer wrote: the next-response clock starts; a pending ticket is open again."""
    t = copy.deepcopy(ticket)
    if t.status in (TicketStatus.CLOSED,):
        raise InvalidTransition("this ticket is closed; open a new one")
    if t.status in (TicketStatus.SOLVED, TicketStatus.PENDING, TicketStatus.ON_HOLD):
        t, _ = apply_changes(t, TicketChanges(status=TicketStatus.OPEN), policy, "visitor", now_ms)
    hours = policy.hours_for(t.priority)
    target = policy.target(t.priority)
    if t.awaiting_since is None:
        t.awaiting_since = now_ms
        if t.first_response_at is not None and target.next_response_ms:
            t.deadlines.next_response_due = add_business_time(now_ms, target.next_response_ms, hours)
    t.updated_at = now_ms
    _rearm(t)
    return t


# ------------------------------------------------------------------ the timer's decisions


def timer_wake_at(ticket: Ticket, policy: SlaPolicy) -> int | None:
    """When the SLA timer must next look at the ticket, or None when it has nothing to do
    (clock paused or stopped, or every rung of the ladder applied)."""
    if not ticket.status.clock_runs:
        return None
    if ticket.escalation_step == 0:
        nxt = ticket.deadlines.next()
        return nxt[1] if nxt else None
    position = ladder_position(policy, ticket.breached_at or 0, ticket.escalation_step)
    return position.at_ms


@dataclass
class Escalation:
    step: int
    action: EscalationAction
    kind: str  # the deadline that was missed
    event: TimelineEvent
    notify: list[str]  # "assignee", "supervisors"


def escalate(ticket: Ticket, policy: SlaPolicy, now_ms: int) -> tuple[Ticket, Escalation] | None:
    """Apply the next rung of the ladder if it is due; None if nothing is due yet.

    The event key is derived from (sla_version, step), so writing it with an
    "item must not exist" condition makes a repeated or late timer escalate once.
    """
    wake = timer_wake_at(ticket, policy)
    if wake is None or now_ms < wake:
        return None
    t = copy.deepcopy(ticket)
    nxt = t.deadlines.next()
    kind = nxt[0] if nxt else "resolution"
    if t.escalation_step == 0:
        t.breached_at = wake
        if kind not in t.breaches:
            t.breaches.append(kind)
    step = t.escalation_step + 1
    action = policy.ladder[step - 1].action
    data: dict[str, Any] = {"step": step, "action": action.value, "deadline": kind, "due_at": t.breached_at}
    notify = ["assignee"]
    if action is EscalationAction.RAISE_PRIORITY:
        raised = t.priority.raised()
        data["priority"] = {"from": t.priority.value, "to": raised.value}
        t.priority = raised
        notify = ["assignee", "supervisors"]
    elif action is EscalationAction.REASSIGN:
        data["group"] = {"from": t.group_id, "to": policy.escalation_group}
        data["assignee"] = {"from": t.assignee_id, "to": None}
        t.group_id = policy.escalation_group
        t.assignee_id = None
        notify = ["supervisors"]
    t.escalation_step = step
    t.updated_at = now_ms
    event = TimelineEvent(t.number, now_ms, "escalated", "system", data,
                          event_key=f"esc#{t.sla_version:06d}#{step:02d}")
    return t, Escalation(step, action, kind, event, notify)


def already_escalating(ticket: Ticket, now_ms: int) -> bool:
    """Urgent and its ladder started (or due to start now): a second complaint changes nothing."""
    if ticket.priority is not Priority.URGENT or not ticket.status.clock_runs:
        return False
    nxt = ticket.deadlines.next()
    return ticket.escalation_step > 0 or (nxt is not None and nxt[1] <= now_ms)


def escalate_now(ticket: Ticket, now_ms: int) -> Ticket:
    """A complaint or an angry message: urgent, and the ladder starts at once."""
    t = copy.deepcopy(ticket)
    t.priority = Priority.URGENT
    t.sla_version += 1
    t.escalation_step = 0
    t.breached_at = None
    nxt = t.deadlines.next()
    if t.status.clock_runs:
        # the running deadline is considered missed now
        if nxt is None or nxt[1] > now_ms:
            t.deadlines.first_response_due = now_ms if t.first_response_at is None else None
            if t.first_response_at is not None:
                t.deadlines.next_response_due = now_ms
    t.updated_at = now_ms
    return t


# ------------------------------------------------------------------ storage form


def ticket_to_dict(ticket: Ticket) -> dict[str, Any]:
    """The ticket as JSON-ready data (what the repository stores in one attribute)."""
    t = ticket
    return {
        "tenant_id": t.tenant_id, "number": t.number, "subject": t.subject, "type": t.type,
        "priority": t.priority.value, "status": t.status.value, "created_at": t.created_at,
        "updated_at": t.updated_at,
        "requester": {"visitor_id": t.requester.visitor_id, "email": t.requester.email, "name": t.requester.name},
        "group_id": t.group_id, "assignee_id": t.assignee_id, "tags": list(t.tags),
        "conversation_id": t.conversation_id, "source": t.source,
        "deadlines": {"first_response_due": t.deadlines.first_response_due,
                      "next_response_due": t.deadlines.next_response_due,
                      "resolution_due": t.deadlines.resolution_due,
                      "resolution_left_ms": t.deadlines.resolution_left_ms},
        "first_response_at": t.first_response_at, "awaiting_since": t.awaiting_since,
        "escalation_step": t.escalation_step, "breached_at": t.breached_at, "breaches": list(t.breaches), "sla_version": t.sla_version,
        "last_assignee_id": t.last_assignee_id, "solved_at": t.solved_at, "csat_score": t.csat_score,
        "csat_comment": t.csat_comment, "version": t.version,
    }


def ticket_from_dict(data: dict[str, Any]) -> Ticket:
    d = dict(data)
    return Ticket(
        tenant_id=d["tenant_id"], number=int(d["number"]), subject=d["subject"], type=d["type"],
        priority=Priority(d["priority"]), status=TicketStatus(d["status"]), created_at=int(d["created_at"]),
        updated_at=int(d["updated_at"]), requester=Requester(**d.get("requester") or {}),
        group_id=d.get("group_id"), assignee_id=d.get("assignee_id"), tags=list(d.get("tags") or []),
        conversation_id=d.get("conversation_id"), source=d.get("source") or "agent",
        deadlines=Deadlines(**d.get("deadlines") or {}), first_response_at=d.get("first_response_at"),
        awaiting_since=d.get("awaiting_since"), escalation_step=int(d.get("escalation_step") or 0),
        breached_at=d.get("breached_at"), breaches=list(d.get("breaches") or []),
        sla_version=int(d.get("sla_version") or 1),
        last_assignee_id=d.get("last_assignee_id"), solved_at=d.get("solved_at"),
        csat_score=d.get("csat_score"), csat_comment=d.get("csat_comment"), version=int(d.get("version") or 0),
    )


@dataclass(frozen=True)
class SlaAttainment:
    """F1's SLA attainment: of the tickets considered, how many never missed a deadline."""

    tickets: int
    met: int
    breaches_by_kind: dict[str, int]
    by_priority: dict[str, tuple[int, int]]  # priority → (tickets, met)

    @property
    def rate(self) -> float | None:
        return self.met / self.tickets if self.tickets else None


def sla_attainment(tickets: list[Ticket]) -> SlaAttainment:
    by_kind: dict[str, int] = {}
    by_priority: dict[str, tuple[int, int]] = {}
    met = 0
    for t in tickets:
        ok = not t.breaches
        met += ok
        for kind in t.breaches:
            by_kind[kind] = by_kind.get(kind, 0) + 1
        total, good = by_priority.get(t.priority.value, (0, 0))
        by_priority[t.priority.value] = (total + 1, good + ok)
    return SlaAttainment(len(tickets), met, by_kind, by_priority)
