"""Tickets: create (by hand, from a conversation, from a left-behind message), list, edit,
reply, rate, look up — and the SLA timer's task, which escalates one rung per call.

Every ticket write is conditional on the version read (`TicketRepository.save`): two agents
editing at once cannot lose an update; the later one gets `conflict` and re-reads. Writes
the server makes by itself (a reply, an escalation) re-read and retry. After each write that
moved the SLA clock the timer of the old deadline version is stopped and a new one started.
"""
from __future__ import annotations

import copy
import logging
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable

from ..domain import protocol as p
from ..domain.clock import Clock
from ..domain.errors import Conflict, Forbidden, InvalidFrame, RateLimited, Unauthenticated
from ..domain.model import Identity, Role
from ..domain.ports import (
    ConversationRepository,
    Mailer,
    MessageRepository,
    SlaTimer,
    TenantRepository,
    TicketRepository,
    TokenSigner,
    VisitorRepository,
)
from ..domain.sla import DEFAULT_POLICY, BusinessHours, Priority, SlaPolicy, wake_timestamp
from ..domain.tickets import (
    MAX_NOTE_CHARS,
    Requester,
    Ticket,
    SlaAttainment,
    TicketChanges,
    TicketExists,
    TicketNotFound,
    TicketRouting,
    TicketStatus,
    TimelineEvent,
    already_escalating,
    apply_changes,
    escalate,
    escalate_now,
    new_ticket,
    record_agent_reply,
    record_customer_message,
    sla_attainment,
    timer_wake_at,
)
from .notifier import Notifier

log = logging.getLogger("kefu.tickets")

MAX_ATTEMPTS = 8
LOOKUPS_PER_MINUTE = 10  # per client address; the same answer for unknown and wrong
LOOKUPS_PER_TICKET_PER_MINUTE = 20  # per number, against guessing from many addresses
CSAT_TOKEN_TTL = 30 * 24 * 3600
EARLY_WAKE_SLEEP_MS = 2_000  # a Wait may end up to a second early (moto truncates): sleep it off
TRANSCRIPT_MESSAGES = 200
SUPERVISOR_ROLES = ("supervisor", "admin")


def summary(ticket: Ticket, now_ms: int) -> p.TicketSummary:
    sla = ticket.sla(now_ms)
    return p.TicketSummary(
        number=ticket.number, subject=ticket.subject, type=ticket.type, priority=ticket.priority.value,
        status=ticket.status.value, group_id=ticket.group_id, assignee_id=ticket.assignee_id,
        requester_name=ticket.requester.name, requester_email=ticket.requester.email, tags=ticket.tags,
        created_at=ticket.created_at, updated_at=ticket.updated_at, due_at=sla.due_at, due_kind=sla.kind,  # type: ignore[arg-type]
        breached=sla.breached, escalation_step=ticket.escalation_step, version=ticket.version,
    )


@dataclass(frozen=True)
class TicketFilter:
    mine: bool = False
    group_id: str | None = None
    status: TicketStatus | None = None
    priority: Priority | None = None
    sla: str | None = None  # "breached" | "about_to_breach"
    limit: int = 50


OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD)


class TicketService:
    def __init__(
        self,
        tickets: TicketRepository,
        tenants: TenantRepository,
        conversations: ConversationRepository,
        messages: MessageRepository,
        visitors: VisitorRepository,
        notifier: Notifier,
        timer: SlaTimer,
        mailer: Mailer,
        signer: TokenSigner,
        clock: Clock,
        public_url: str = "",
        sleep: Callable[[float], None] = time.sleep,
        tenant_hours: Callable[[str], BusinessHours | None] | None = None,
    ) -> None:
        self._tickets = tickets
        self._tenants = tenants
        self._conversations = conversations
        self._messages = messages
        self._visitors = visitors
        self._notifier = notifier
        self._timer = timer
        self._mailer = mailer
        self._signer = signer
        self._clock = clock
        self._public_url = public_url.rstrip("/")
        self._sleep = sleep
        # The tenant's opening hours (routing's), used when the SLA policy counts business
        # hours but has no calendar of its own.
        self._tenant_hours = tenant_hours

    def now_ms(self) -> int:
        return self._clock.now_ms()

    # ------------------------------------------------------------ settings

    def use_tenant_hours(self, provider: Callable[[str], BusinessHours | None]) -> None:
        """Count business hours on the tenant's opening hours (routing's) when the SLA policy
        has no calendar of its own: one calendar for chat and for the SLA."""
        self._tenant_hours = provider

    def policy(self, tenant_id: str) -> SlaPolicy:
        data = self._tickets.get_setting(tenant_id, "sla")
        return SlaPolicy.from_dict(self._with_tenant_hours(tenant_id, data)) if data else DEFAULT_POLICY

    def _with_tenant_hours(self, tenant_id: str, data: dict[str, Any]) -> dict[str, Any]:
        counts_hours = any(dict(t).get("business_hours") for t in dict(data.get("targets") or {}).values())
        if data.get("business_hours") or not counts_hours or self._tenant_hours is None:
            return data
        hours = self._tenant_hours(tenant_id)
        return {**data, "business_hours": hours.to_dict() if hours else None}

    def set_policy(self, identity: Identity, data: dict[str, Any]) -> SlaPolicy:
        self._require_supervisor(identity)
        policy = SlaPolicy.from_dict(self._with_tenant_hours(identity.tenant_id, data))  # validates
        self._tickets.put_setting(identity.tenant_id, "sla", data)
        return policy

    def routing(self, tenant_id: str) -> TicketRouting:
        data = self._tickets.get_setting(tenant_id, "routing")
        return TicketRouting.from_dict(data) if data else TicketRouting()

    def set_routing(self, identity: Identity, data: dict[str, Any]) -> TicketRouting:
        self._require_supervisor(identity)
        routing = TicketRouting.from_dict(data)
        self._tickets.put_setting(identity.tenant_id, "routing", routing.to_dict())
        return routing

    def _require_known_agent(self, tenant_id: str, agent_id: str | None) -> None:
        """An assignee must be one of the tenant's agents (a typed name or another tenant's id
        would leave the ticket with nobody). None or "" (unassigned) is always fine."""
        if agent_id and not any(a.agent_id == agent_id for a in self._tickets.agents(tenant_id)):
            raise InvalidFrame(f"assignee_id {agent_id[:70]!r} is not an agent of this workspace",
                               {"field": "assignee_id"})

    def _require_supervisor(self, identity: Identity) -> None:
        agent = next((a for a in self._tickets.agents(identity.tenant_id) if a.agent_id == identity.principal_id),
                     None)
        if not identity.is_agent or agent is None or agent.role not in SUPERVISOR_ROLES:
            raise Forbidden("only supervisors and admins change ticket settings")

    # ------------------------------------------------------------ creating

    def create(self, identity: Identity, subject: str, ticket_type: str, priority: Priority,
               requester: Requester, tags: list[str] | None = None, group_id: str | None = None,
               assignee_id: str | None = None, description: str = "") -> Ticket:
        self._require_agent(identity)
        self._require_known_agent(identity.tenant_id, assignee_id)
        ticket = self._open(identity.tenant_id, subject, ticket_type, priority, requester, identity.principal_id,
                            tags=tags, group_id=group_id, assignee_id=assignee_id, description=description)
        return ticket

    def from_conversation(self, identity: Identity, conversation_id: str, subject: str | None,
                          ticket_type: str, priority: Priority) -> Ticket:
        """One action: the conversation's customer and transcript become a ticket (once per
        conversation; a second call answers `ticket_exists` with the number)."""
        self._require_agent(identity)
        return self._from_conversation(identity.tenant_id, conversation_id, subject, ticket_type, priority,
                                       identity.principal_id, identity.principal_id)

    def complaint(self, tenant_id: str, conversation_id: str, reason: str) -> Ticket:
        """A complaint or an angry message in a conversation (the bot's sentiment check, or an
        agent): its ticket — made now if it has none — becomes urgent and escalates at once."""
        number = self._tickets.by_conversation(tenant_id, conversation_id)
        if number is None:
            try:
                number = self._from_conversation(tenant_id, conversation_id, None, "complaint", Priority.URGENT,
                                                 "system", None).number
            except TicketExists as exists:  # made by someone else meanwhile
                number = int(exists.details["number"])
        return self.escalate_now(tenant_id, number, reason)

    def _from_conversation(self, tenant_id: str, conversation_id: str, subject: str | None, ticket_type: str,
                           priority: Priority, actor: str, assignee_id: str | None) -> Ticket:
        conversation = self._conversations.get(tenant_id, conversation_id)
        if conversation is None:
            raise TicketNotFound("no such conversation")
        visitor = self._visitors.get(tenant_id, conversation.visitor_id)
        messages = self._messages.list_after(tenant_id, conversation_id, 0, TRANSCRIPT_MESSAGES)
        transcript = [{"seq": m.seq, "at": m.created_at, "role": m.sender_role.value, "name": m.sender_name,
                       "text": m.text, "internal": m.internal} for m in messages]
        first_visitor_text = next((m.text for m in messages if m.sender_role is Role.VISITOR and m.text.strip()), "")
        requester = Requester(conversation.visitor_id, visitor.email if visitor else None,
                              visitor.name if visitor else None)
        return self._open(tenant_id, subject or first_visitor_text[:80] or "Conversation", ticket_type,
                          priority, requester, actor, source="conversation", conversation_id=conversation_id,
                          assignee_id=conversation.assignee_id or assignee_id,
                          extra_events=[("transcript", {"conversation_id": conversation_id, "messages": transcript})])

    def from_left_message(self, tenant_id: str, visitor_id: str | None, name: str | None, email: str,
                          text: str, ticket_type: str = "offline_message") -> Ticket:
        """A message left while no agent was online becomes a ticket by itself; the answer
        goes to the email it was left with."""
        text = text.strip()
        if not text or len(text) > MAX_NOTE_CHARS:
            raise InvalidFrame(f"the message must be 1-{MAX_NOTE_CHARS} characters")
        return self._open(tenant_id, text.splitlines()[0][:80], ticket_type, Priority.NORMAL,
                          Requester(visitor_id, email, name), "visitor", source="offline_message",
                          description=text)

    def left_message(self, message: Any) -> Ticket:
        """Routing's hook: a message left while nobody could answer (`message.leave`) becomes a
        ticket, and the visitor gets its number by mail (for the lookup on the site)."""
        ticket = self.from_left_message(message.tenant_id, message.visitor_id, message.name, message.email,
                                        message.text)
        self._mail(ticket, f"[#{ticket.number}] We got your message",
                   f"Thank you for your message. It is request #{ticket.number}; we answer by mail.\n"
                   f"You can look up its status on our site with this number and your email address.")
        return ticket

    def _open(self, tenant_id: str, subject: str, ticket_type: str, priority: Priority, requester: Requester,
              actor: str, source: str = "agent", conversation_id: str | None = None,
              tags: list[str] | None = None, group_id: str | None = None, assignee_id: str | None = None,
              description: str = "", extra_events: list[tuple[str, dict[str, Any]]] | None = None) -> Ticket:
        now = self._clock.now_ms()
        policy = self.policy(tenant_id)
        # Validate before taking a number, so bad input does not burn one.
        new_ticket(tenant_id, 0, subject, ticket_type, priority, requester, policy, TicketRouting(), now, tags=tags)
        number = self._tickets.next_number(tenant_id)
        ticket = new_ticket(tenant_id, number, subject, ticket_type, priority, requester, policy,
                            self.routing(tenant_id), now, source=source, conversation_id=conversation_id,
                            tags=tags, group_id=group_id, assignee_id=assignee_id)
        events = [TimelineEvent(number, now, "created", actor, {
            "source": source, "priority": priority.value, "type": ticket.type, "group": ticket.group_id,
            "assignee": ticket.assignee_id, "description": description[:MAX_NOTE_CHARS] or None})]
        events += [TimelineEvent(number, now, kind, actor, data) for kind, data in extra_events or []]
        self._tickets.add(ticket, events)
        self._arm(ticket, policy)
        self._broadcast(ticket)
        return ticket

    # ------------------------------------------------------------ reading

    def get(self, identity: Identity, number: int) -> tuple[Ticket, list[TimelineEvent]]:
        self._require_agent(identity)
        ticket = self._ticket(identity.tenant_id, number)
        return ticket, self._tickets.timeline(identity.tenant_id, number, 500)

    def search(self, identity: Identity, query: TicketFilter) -> list[Ticket]:
        """The workbench's lists. One Query on an index (assignee, group or status), the other
        filters applied to its page."""
        self._require_agent(identity)
        tenant, limit = identity.tenant_id, max(1, min(query.limit, 200))
        if query.mine:
            found = self._tickets.by_index(tenant, "assignee", identity.principal_id, 200)
        elif query.group_id:
            found = self._tickets.by_index(tenant, "group", query.group_id, 200)
        else:
            statuses = [query.status] if query.status else (
                [TicketStatus.NEW, TicketStatus.OPEN] if query.sla else list(OPEN_STATUSES))
            found = [t for s in statuses for t in self._tickets.by_index(tenant, "status", s.value, 200)]
        now = self._clock.now_ms()
        if query.group_id:  # with `mine`, the assignee index was read: keep that group's
            found = [t for t in found if t.group_id == query.group_id]
        if query.status:
            found = [t for t in found if t.status is query.status]
        if query.priority:
            found = [t for t in found if t.priority is query.priority]
        if query.sla == "breached":
            found = [t for t in found if t.sla(now).breached]
        elif query.sla == "about_to_breach":
            found = [t for t in found if t.sla(now).about_to_breach]
        found.sort(key=lambda t: t.updated_at, reverse=True)
        return found[:limit]

    def sla_report(self, identity: Identity, since_ms: int) -> SlaAttainment:
        """SLA attainment of the tickets created since `since_ms` (the latest 1,000 per status)."""
        self._require_agent(identity)
        found = [t for s in TicketStatus for t in self._tickets.by_index(identity.tenant_id, "status", s.value, 1000)]
        return sla_attainment([t for t in found if t.created_at >= since_ms])

    # ------------------------------------------------------------ changing

    def update(self, identity: Identity, number: int, changes: TicketChanges, expected_version: int) -> Ticket:
        """An agent's edit of the version they saw; `conflict` if someone changed it since."""
        self._require_agent(identity)
        current = self._ticket(identity.tenant_id, number)
        if changes.assignee_id != current.assignee_id:
            self._require_known_agent(identity.tenant_id, changes.assignee_id)
        if current.version != expected_version:
            raise Conflict("the ticket changed since you read it; reload and apply your edit again",
                           {"number": number, "version": current.version})
        policy = self.policy(identity.tenant_id)
        changed, events = apply_changes(current, changes, policy, identity.principal_id, self._clock.now_ms())
        if not events:
            return current
        try:
            self._tickets.save(changed, events)
        except Conflict:  # saved by someone else between our read and our write
            latest = self._ticket(identity.tenant_id, number)
            raise Conflict("the ticket changed since you read it; reload and apply your edit again",
                           {"number": number, "version": latest.version}) from None
        self._after_change(current, changed, policy)
        return changed

    def reply(self, identity: Identity, number: int, text: str) -> Ticket:
        """A public reply to the customer (by email): meets the response target."""
        self._require_agent(identity)
        text = self._text(text)

        def change(t: Ticket, now: int) -> tuple[Ticket, list[TimelineEvent]]:
            return record_agent_reply(t, now, identity.principal_id), [
                TimelineEvent(number, now, "reply", identity.principal_id, {"text": text})]

        before, after = self._retry(identity.tenant_id, number, change)
        if after.requester.email:
            self._mail(after, f"[#{number}] {after.subject}", text)
        return after

    def note(self, identity: Identity, number: int, text: str) -> TimelineEvent:
        self._require_agent(identity)
        self._ticket(identity.tenant_id, number)
        event = TimelineEvent(number, self._clock.now_ms(), "note", identity.principal_id, {"text": self._text(text)})
        self._tickets.add_events(identity.tenant_id, [event])
        return event

    def customer_message(self, tenant_id: str, number: int, text: str) -> Ticket:
        """The customer wrote again: the next-response clock starts (a pending ticket reopens)."""
        text = self._text(text)

        def change(t: Ticket, now: int) -> tuple[Ticket, list[TimelineEvent]]:
            return record_customer_message(t, self.policy(tenant_id), now), [
                TimelineEvent(number, now, "customer_message", "visitor", {"text": text})]

        return self._retry(tenant_id, number, change)[1]

    def after_visitor_message(self, connection: Any, conversation: Any, message: Any) -> None:
        """Chat hook: the customer wrote in a conversation that became a ticket. A ticket
        waiting on them (pending, on hold, solved) opens again and the next-response clock
        starts; a ticket already waiting on us is left alone (no write per message)."""
        if message.internal:
            return
        number = conversation.ticket_number  # no read: the chat has just read the conversation
        if number is None:
            return
        ticket = self._tickets.get(conversation.tenant_id, number)
        if ticket is None or ticket.status is TicketStatus.CLOSED:
            return
        if not (ticket.status.clock_runs and ticket.awaiting_since is not None):
            text = message.text.strip() or (f"[{message.attachment.name}]" if message.attachment else "")
            self.customer_message(conversation.tenant_id, number, text[:MAX_NOTE_CHARS] or "(message)")
        upset = _upset(message.text)
        if upset and not already_escalating(ticket, self._clock.now_ms()):
            self.escalate_now(conversation.tenant_id, number, f"the customer's message: {upset}")

    def after_agent_message(self, connection: Any, conversation: Any, message: Any) -> None:
        """Chat hook: an agent answered in a conversation that became a ticket — that meets the
        ticket's first or next response target, as a reply on the ticket would."""
        if message.internal:
            return
        number = conversation.ticket_number  # no read: the chat has just read the conversation
        if number is None:
            return
        ticket = self._tickets.get(conversation.tenant_id, number)
        if ticket is None or not ticket.status.clock_runs or ticket.awaiting_since is None:
            return  # nobody is waiting for an answer

        def change(t: Ticket, now: int) -> tuple[Ticket, list[TimelineEvent]]:
            return record_agent_reply(t, now, connection.principal_id), [
                TimelineEvent(number, now, "reply", connection.principal_id,
                              {"text": message.text[:MAX_NOTE_CHARS], "channel": "chat"})]

        self._retry(conversation.tenant_id, number, change)

    def escalate_now(self, tenant_id: str, number: int, reason: str) -> Ticket:
        """A complaint or angry message: urgent, and the ladder's first rung at once. A ticket
        already escalating that way is left alone (two complaints, or the bot and the chat
        hook at once, start the ladder once)."""

        def change(t: Ticket, now: int) -> tuple[Ticket, list[TimelineEvent]] | None:
            if already_escalating(t, now):
                return None
            return escalate_now(t, now), [TimelineEvent(number, now, "priority", "system",
                                                        {"from": t.priority.value, "to": "urgent",
                                                         "reason": reason[:200]})]

        return self._retry(tenant_id, number, change)[1]

    def _retry(self, tenant_id: str, number: int,
               change: Callable[[Ticket, int], tuple[Ticket, list[TimelineEvent]] | None]) -> tuple[Ticket, Ticket]:
        """Read, change, write conditionally on the version read; again on a conflict. A change
        that answers None has nothing to do: nothing is written."""
        for _ in range(MAX_ATTEMPTS):
            current = self._ticket(tenant_id, number)
            result = change(current, self._clock.now_ms())
            if result is None:
                return current, current
            changed, events = result
            try:
                self._tickets.save(changed, events)
            except Conflict:
                continue
            self._after_change(current, changed, self.policy(tenant_id))
            return current, changed
        raise Conflict("the ticket is too busy; try again", {"number": number})

    def _after_change(self, before: Ticket, after: Ticket, policy: SlaPolicy) -> None:
        if after.sla_version != before.sla_version:
            try:
                self._timer.disarm(after.tenant_id, after.number, before.sla_version)
            except Exception:  # the old version's check ends by itself: it finds the version moved on
                log.exception("could not stop the SLA timer", extra={"number": after.number})
            self._arm(after, policy)
        if after.status is not before.status and after.requester.email:
            self._status_mail(after)
        if after.status is TicketStatus.SOLVED and before.status is not TicketStatus.SOLVED:
            self._ask_for_rating(after)
        self._broadcast(after)

    def _ask_for_rating(self, ticket: Ticket) -> None:
        """The visitor who opened it, if they are on the site now, is asked in the widget to
        confirm it is solved and rate it (the mail's links do the same for everyone else)."""
        visitor_id = ticket.requester.visitor_id
        if not visitor_id:
            return
        try:
            targets = self._notifier.visitor_connections(ticket.tenant_id, visitor_id)
            if targets:
                self._notifier.fan_out(targets, p.TicketSolved(number=ticket.number, subject=ticket.subject,
                                                               rating_token=self.rating_token(ticket)))
        except Exception:  # the rating request is a courtesy: it must not undo the solve
            log.exception("could not ask the visitor for a rating", extra={"number": ticket.number})

    def _arm(self, ticket: Ticket, policy: SlaPolicy) -> None:
        wake = timer_wake_at(ticket, policy)
        if wake is not None:
            self._timer.arm(ticket.tenant_id, ticket.number, ticket.sla_version, wake)

    # ------------------------------------------------------------ the SLA timer's task

    def sla_tick(self, event: dict[str, Any]) -> dict[str, Any]:
        """One Check of the SLA state machine: escalate one rung if due, then say when to
        look again (`done` ends the execution).

        Idempotent: the execution belongs to one `sla_version`; any change to the ticket's
        clock bumps it, and the escalation is written conditionally on the version read, so
        a timer that fires twice or late escalates at most once, and one whose ticket was
        solved, paused or re-armed ends quietly.
        """
        tenant_id, number, sla_version = str(event["tenant_id"]), int(event["number"]), int(event["sla_version"])
        out = {"tenant_id": tenant_id, "number": number, "sla_version": sla_version}
        for _ in range(MAX_ATTEMPTS):
            ticket = self._tickets.get(tenant_id, number)
            if ticket is None or ticket.sla_version != sla_version:
                return {**out, "done": True}
            policy = self.policy(tenant_id)
            wake = timer_wake_at(ticket, policy)
            if wake is None:
                return {**out, "done": True}
            now = self._clock.now_ms()
            if now < wake:
                if wake - now <= EARLY_WAKE_SLEEP_MS:
                    self._sleep((wake - now) / 1000)
                    continue
                return {**out, "done": False, "wake_at": _timestamp(wake)}
            result = escalate(ticket, policy, now)
            if result is None:
                return {**out, "done": True}
            escalated, escalation = result
            try:
                self._tickets.save(escalated, [escalation.event])
            except Conflict:
                continue  # the ticket changed meanwhile: look again
            log.info("ticket escalated", extra={"tenant_id": tenant_id, "number": number,
                                                "step": escalation.step, "action": escalation.action.value})
            self._tell_escalation(escalated, escalation)
            nxt = timer_wake_at(escalated, policy)
            return {**out, "done": nxt is None, "wake_at": _timestamp(nxt) if nxt is not None else None}
        return {**out, "done": False, "wake_at": _timestamp(self._clock.now_ms() + 1000)}

    def _tell_escalation(self, ticket: Ticket, escalation: Any) -> None:
        notify = []
        if "assignee" in escalation.notify and (ticket.assignee_id or ticket.last_assignee_id):
            notify.append(ticket.assignee_id or ticket.last_assignee_id or "")
        if "supervisors" in escalation.notify:
            # the group the ticket was in when it breached (a reassign has just moved it)
            group = escalation.event.data.get("group", {}).get("from") or ticket.group_id
            notify += self._tickets.supervisors(ticket.tenant_id, group)
        frame = p.TicketEscalated(ticket=summary(ticket, self._clock.now_ms()), step=escalation.step,
                                  escalation=escalation.action.value, deadline=escalation.kind,
                                  notify=list(dict.fromkeys(notify)))
        self._notifier.fan_out(self._notifier.agents(ticket.tenant_id), frame)

    # ------------------------------------------------------------ the customer's side

    def lookup(self, site_key: str, number: int, email: str, client_key: str) -> dict[str, Any]:
        """A visitor asks for a ticket's status by number + the email it was opened with.
        Rate-limited per client and per number; unknown number and wrong email answer alike."""
        tenant = self._tenants.get_by_site_key(site_key)
        if tenant is None:
            raise Unauthenticated("unknown site key")
        now = self._clock.now_ms()
        if (self._tickets.hit(tenant.tenant_id, f"lookup#{client_key}", 60_000, now) > LOOKUPS_PER_MINUTE
                or self._tickets.hit(tenant.tenant_id, f"lookup-n#{number}", 60_000, now)
                > LOOKUPS_PER_TICKET_PER_MINUTE):
            raise RateLimited("too many lookups; wait a minute", {"retry_after_ms": 60_000 - now % 60_000})
        ticket = self._tickets.get(tenant.tenant_id, number) if 0 < number < 10**10 else None
        if ticket is None or (ticket.requester.email or "").lower() != email.strip().lower():
            raise TicketNotFound("no ticket with that number and email")
        return {"number": ticket.number, "subject": ticket.subject, "status": ticket.status.value,
                "created_at": ticket.created_at, "updated_at": ticket.updated_at,
                "csat_score": ticket.csat_score}

    def rating_token(self, ticket: Ticket) -> str:
        return self._signer.issue({"tid": ticket.tenant_id, "role": "ticket", "sub": str(ticket.number)},
                                  CSAT_TOKEN_TTL)

    def rate(self, token: str, score: int, comment: str | None, reopen: bool = False) -> Ticket:
        """CSAT from the mail's link (1-5 and a comment); `reopen` says it is not solved after all."""
        claims = self._signer.verify(token)
        if claims.get("role") != "ticket":
            raise Unauthenticated("not a ticket link")
        tenant_id, number = str(claims["tid"]), int(claims["sub"])
        if not 1 <= score <= 5:
            raise InvalidFrame("score must be 1 to 5")
        comment = (comment or "").strip()[:2000] or None

        def change(t: Ticket, now: int) -> tuple[Ticket, list[TimelineEvent]]:
            if t.status is not TicketStatus.SOLVED and not (t.status is TicketStatus.CLOSED and not reopen):
                raise Conflict("only a solved ticket is rated", {"status": t.status.value})
            changed = t
            events = [TimelineEvent(number, now, "csat", "visitor", {"score": score, "comment": comment})]
            if reopen:
                changed, more = apply_changes(t, TicketChanges(status=TicketStatus.OPEN), self.policy(tenant_id),
                                              "visitor", now)
                events += more
            else:
                changed = copy.deepcopy(t)
            changed.csat_score, changed.csat_comment, changed.updated_at = score, comment, now
            return changed, events

        return self._retry(tenant_id, number, change)[1]

    # ------------------------------------------------------------ helpers

    def _status_mail(self, ticket: Ticket) -> None:
        lines = [f"Your request #{ticket.number} \"{ticket.subject}\" is now {ticket.status.value.replace('_', ' ')}."]
        if ticket.status is TicketStatus.SOLVED and self._public_url:
            token = urllib.parse.quote(self.rating_token(ticket), safe="")
            lines += ["", "How did we do? Rate us from 1 (poor) to 5 (great):"]
            lines += [f"  {n}: {self._public_url}/v1/public/tickets/rating?score={n}&token={token}" for n in range(5, 0, -1)]
            lines += ["", f"Not solved? {self._public_url}/v1/public/tickets/rating?score=1&reopen=true&token={token}"]
        self._mail(ticket, f"[#{ticket.number}] {ticket.subject} — {ticket.status.value.replace('_', ' ')}",
                   "\n".join(lines))

    def _mail(self, ticket: Ticket, subject: str, text: str) -> None:
        to = ticket.requester.email or ""
        try:
            self._mailer.send(to, subject, text)
        except Exception:  # a mail that cannot go out must not undo the change
            log.exception("mail to the requester failed", extra={"number": ticket.number})
            return
        self._tickets.add_events(ticket.tenant_id, [TimelineEvent(ticket.number, self._clock.now_ms(), "mail",
                                                                  "system", {"to": to, "subject": subject})])

    def _broadcast(self, ticket: Ticket) -> None:
        self._notifier.fan_out(self._notifier.agents(ticket.tenant_id),
                               p.TicketUpdated(ticket=summary(ticket, self._clock.now_ms())))

    def _ticket(self, tenant_id: str, number: int) -> Ticket:
        ticket = self._tickets.get(tenant_id, number)
        if ticket is None:
            raise TicketNotFound(f"no ticket #{number}")
        return ticket

    @staticmethod
    def _text(text: str) -> str:
        text = (text or "").strip()
        if not text or len(text) > MAX_NOTE_CHARS:
            raise InvalidFrame(f"the text must be 1-{MAX_NOTE_CHARS} characters")
        return text

    @staticmethod
    def _require_agent(identity: Identity) -> None:
        if not identity.is_agent:
            raise Forbidden("only agents work on tickets")


def _upset(text: str) -> str | None:
    """"a complaint" or "anger" when the customer's message reads so (the bot's bilingual
    rules, kb/intent.py), else None."""
    if not text.strip():
        return None
    from ..kb.intent import signals

    found = signals(text[:MAX_NOTE_CHARS])
    return "a complaint" if found.complaint else "anger" if found.angry else None


def _timestamp(ms: int) -> str:
    return wake_timestamp(ms)
