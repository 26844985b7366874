"""Tickets in the domain: status changes, deadlines re-computed by edits, replies, and the
escalation ladder, all with fixed instants."""
from __future__ import annotations

import pytest

from chalicelib.domain.sla import (
    MINUTE_MS,
    EscalationAction,
    EscalationStep,
    Priority,
    SlaPolicy,
    SlaTarget,
)
from chalicelib.domain.tickets import (
    InvalidTicket,
    InvalidTransition,
    Requester,
    RoutingRule,
    TicketChanges,
    TicketRouting,
    TicketStatus,
    apply_changes,
    check_transition,
    escalate,
    escalate_now,
    new_ticket,
    sla_attainment,
    record_agent_reply,
    record_customer_message,
    timer_wake_at,
)

T0 = 1_800_000_000_000
POLICY = SlaPolicy(
    {Priority.NORMAL: SlaTarget(10 * MINUTE_MS, 20 * MINUTE_MS, 60 * MINUTE_MS),
     Priority.HIGH: SlaTarget(5 * MINUTE_MS, 10 * MINUTE_MS, 30 * MINUTE_MS)},
    ladder=(EscalationStep(EscalationAction.NOTIFY_ASSIGNEE, 0),
            EscalationStep(EscalationAction.RAISE_PRIORITY, 2 * MINUTE_MS),
            EscalationStep(EscalationAction.REASSIGN, 3 * MINUTE_MS)),
    escalation_group="seniors",
)
ROUTING = TicketRouting((RoutingRule("logistics", "warehouse"),), default_group="support")


def ticket(**kwargs):  # type: ignore[no-untyped-def]
    args = dict(subject="Parcel late", ticket_type="logistics", priority=Priority.NORMAL,
                requester=Requester("v_1", "ann@example.com", "Ann"))
    args.update(kwargs)
    return new_ticket("t_1", 1042, policy=POLICY, routing=ROUTING, now_ms=T0, **args)


def test_new_ticket_is_routed_by_type_and_its_clock_starts() -> None:
    t = ticket()
    assert (t.status, t.group_id, t.number) == (TicketStatus.NEW, "warehouse", 1042)
    assert t.deadlines.first_response_due == T0 + 10 * MINUTE_MS
    assert t.deadlines.resolution_due == T0 + 60 * MINUTE_MS
    assert ticket(ticket_type="billing").group_id == "support"
    assert timer_wake_at(t, POLICY) == T0 + 10 * MINUTE_MS


def test_bad_fields_are_refused() -> None:
    with pytest.raises(InvalidTicket):
        ticket(subject="  ")
    with pytest.raises(InvalidTicket):
        ticket(ticket_type="Logistics <b>")
    with pytest.raises(InvalidTicket):
        ticket(tags=["ok", "not ok!"])


@pytest.mark.parametrize("current,target,allowed", [
    (TicketStatus.NEW, TicketStatus.OPEN, True),
    (TicketStatus.OPEN, TicketStatus.NEW, False),
    (TicketStatus.SOLVED, TicketStatus.OPEN, True),
    (TicketStatus.SOLVED, TicketStatus.PENDING, False),
    (TicketStatus.CLOSED, TicketStatus.OPEN, False),
    (TicketStatus.PENDING, TicketStatus.SOLVED, True),
])
def test_transitions(current: TicketStatus, target: TicketStatus, allowed: bool) -> None:
    if allowed:
        check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition):
            check_transition(current, target)


def test_priority_change_recomputes_deadlines_and_rearms() -> None:
    t = ticket()
    changed, events = apply_changes(t, TicketChanges(priority=Priority.HIGH), POLICY, "a_1", T0 + MINUTE_MS)
    assert changed.deadlines.first_response_due == T0 + 5 * MINUTE_MS
    assert changed.deadlines.resolution_due == T0 + 30 * MINUTE_MS
    assert changed.sla_version == t.sla_version + 1
    assert [e.kind for e in events] == ["priority"]
    assert t.priority is Priority.NORMAL  # the input is untouched


def test_pending_pauses_and_open_resumes_the_clock() -> None:
    t = ticket()
    pending, _ = apply_changes(t, TicketChanges(status=TicketStatus.PENDING), POLICY, "a_1", T0 + 20 * MINUTE_MS)
    assert pending.deadlines.next() is None and timer_wake_at(pending, POLICY) is None
    assert pending.deadlines.resolution_left_ms == 40 * MINUTE_MS
    reopened, _ = apply_changes(pending, TicketChanges(status=TicketStatus.OPEN), POLICY, "a_1", T0 + 100 * MINUTE_MS)
    assert reopened.deadlines.resolution_due == T0 + 140 * MINUTE_MS
    assert reopened.sla_version == t.sla_version + 2


def test_solve_stops_the_clock_and_reopen_goes_back_to_the_assignee() -> None:
    t, _ = apply_changes(ticket(), TicketChanges(assignee_id="a_1"), POLICY, "a_1", T0)
    assert t.status is TicketStatus.OPEN  # assigning opens a new ticket
    solved, _ = apply_changes(t, TicketChanges(status=TicketStatus.SOLVED), POLICY, "a_1", T0 + MINUTE_MS)
    assert timer_wake_at(solved, POLICY) is None and solved.solved_at == T0 + MINUTE_MS
    solved.assignee_id = None  # e.g. the agent left the group meanwhile
    again = record_customer_message(solved, POLICY, T0 + 5 * MINUTE_MS)
    assert (again.status, again.assignee_id) == (TicketStatus.OPEN, "a_1")
    assert again.deadlines.next_response_due == T0 + 25 * MINUTE_MS


def test_closed_is_final() -> None:
    t, _ = apply_changes(ticket(), TicketChanges(status=TicketStatus.SOLVED), POLICY, "a_1", T0)
    closed, _ = apply_changes(t, TicketChanges(status=TicketStatus.CLOSED), POLICY, "a_1", T0)
    with pytest.raises(InvalidTransition):
        apply_changes(closed, TicketChanges(status=TicketStatus.OPEN), POLICY, "a_1", T0)
    with pytest.raises(InvalidTransition):
        record_customer_message(closed, POLICY, T0)


def test_agent_reply_meets_the_first_response_then_customer_starts_next_response() -> None:
    t = record_agent_reply(ticket(), T0 + MINUTE_MS, "a_2")
    assert (t.first_response_at, t.assignee_id, t.status) == (T0 + MINUTE_MS, "a_2", TicketStatus.OPEN)
    assert t.deadlines.next() == ("resolution", T0 + 60 * MINUTE_MS)
    t = record_customer_message(t, POLICY, T0 + 2 * MINUTE_MS)
    assert t.deadlines.next() == ("next_response", T0 + 22 * MINUTE_MS)


def test_the_ladder_climbs_once_per_rung() -> None:
    t = ticket(assignee_id="a_1")
    due = T0 + 10 * MINUTE_MS
    assert escalate(t, POLICY, due - 1) is None  # not yet
    t, first = escalate(t, POLICY, due + 500)  # type: ignore[misc]
    assert (first.step, first.action, first.kind) == (1, EscalationAction.NOTIFY_ASSIGNEE, "first_response")
    assert first.event.event_key == f"esc#{t.sla_version:06d}#01"
    assert escalate(t, POLICY, due + 1_000) is None  # the timer fired twice: nothing more
    assert timer_wake_at(t, POLICY) == due + 2 * MINUTE_MS
    t, second = escalate(t, POLICY, due + 2 * MINUTE_MS)  # type: ignore[misc]
    assert second.action is EscalationAction.RAISE_PRIORITY and t.priority is Priority.HIGH
    assert second.notify == ["assignee", "supervisors"]
    t, third = escalate(t, POLICY, due + 9 * MINUTE_MS)  # late: still just one rung
    assert third.action is EscalationAction.REASSIGN
    assert (t.group_id, t.assignee_id, t.last_assignee_id) == ("seniors", None, "a_1")
    assert timer_wake_at(t, POLICY) is None and escalate(t, POLICY, due + 60 * MINUTE_MS) is None


def test_a_reply_resets_the_ladder() -> None:
    t, _ = escalate(ticket(), POLICY, T0 + 10 * MINUTE_MS)  # type: ignore[misc]
    replied = record_agent_reply(t, T0 + 11 * MINUTE_MS, "a_1")
    assert replied.escalation_step == 0 and replied.sla_version == t.sla_version + 1
    assert timer_wake_at(replied, POLICY) == T0 + 60 * MINUTE_MS


def test_escalate_now_makes_it_urgent_and_due() -> None:
    t = escalate_now(ticket(), T0 + MINUTE_MS)
    assert t.priority is Priority.URGENT and timer_wake_at(t, POLICY) == T0 + MINUTE_MS


def test_breaches_are_remembered_for_sla_attainment() -> None:
    late, _ = escalate(ticket(), POLICY, T0 + 10 * MINUTE_MS)  # type: ignore[misc]
    late, _ = escalate(late, POLICY, T0 + 12 * MINUTE_MS)  # type: ignore[misc]
    on_time = record_agent_reply(ticket(), T0 + MINUTE_MS, "a_1")
    assert late.breaches == ["first_response"] and on_time.breaches == []
    report = sla_attainment([late, on_time, ticket(priority=Priority.HIGH)])
    assert (report.tickets, report.met, report.rate) == (3, 2, 2 / 3)
    assert report.breaches_by_kind == {"first_response": 1}
    assert report.by_priority == {"high": (2, 1), "normal": (1, 1)}  # the second rung raised `late` to high
    assert sla_attainment([]).rate is None
