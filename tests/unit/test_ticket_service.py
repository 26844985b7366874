"""The ticket service on in-memory fakes: creating, editing with optimistic versions,
replies and the timer they arm, mails, CSAT, lookups, and the SLA task's idempotence."""
from __future__ import annotations

import re
import urllib.parse
from typing import Any

import pytest

from chalicelib.domain.errors import Conflict, Forbidden, RateLimited
from chalicelib.domain.model import Identity, Role
from chalicelib.domain.sla import MINUTE_MS, Priority
from chalicelib.domain.tickets import (
    InvalidTransition,
    Requester,
    TicketChanges,
    TicketExists,
    TicketNotFound,
    TicketStatus,
)
from chalicelib.services.tickets import TicketFilter
from tests.fakes import build_services, build_ticket_service

POLICY = {
    "targets": {"normal": {"first_response_ms": 10 * MINUTE_MS, "next_response_ms": 20 * MINUTE_MS,
                           "resolution_ms": 60 * MINUTE_MS},
                "high": {"first_response_ms": 5 * MINUTE_MS, "next_response_ms": 10 * MINUTE_MS,
                         "resolution_ms": 30 * MINUTE_MS}},
    "ladder": [{"action": "notify_assignee", "after_ms": 0}, {"action": "raise_priority", "after_ms": MINUTE_MS},
               {"action": "reassign", "after_ms": MINUTE_MS}],
    "escalation_group": "seniors",
}


@pytest.fixture
def world() -> dict[str, Any]:
    s = build_services()
    service, tickets, timer, mailer = build_ticket_service(s)
    tenant = s.add_tenant()
    ann, ben, boss = s.add_agent(tenant, "Ann"), s.add_agent(tenant, "Ben"), s.add_agent(tenant, "Boss")
    s.agent_repo.items[(tenant.tenant_id, boss.agent_id)].role = "supervisor"
    tickets.put_setting(tenant.tenant_id, "sla", POLICY)
    tickets.put_setting(tenant.tenant_id, "routing", {"rules": [{"type": "logistics", "group_id": "warehouse"}]})
    as_agent = lambda a: Identity(tenant.tenant_id, Role.AGENT, a.agent_id, a.display_name)  # noqa: E731
    return dict(s=s, service=service, tickets=tickets, timer=timer, mailer=mailer, tenant=tenant,
                ann=as_agent(ann), ben=as_agent(ben), boss=as_agent(boss))


def _new(w: dict[str, Any], **kwargs: Any) -> Any:
    args = dict(subject="Where is my parcel?", ticket_type="logistics", priority=Priority.NORMAL,
                requester=Requester(None, "cus@example.com", "Cus"))
    args.update(kwargs)
    return w["service"].create(w["ann"], **args)


def test_create_numbers_routes_and_arms_the_timer(world: dict[str, Any]) -> None:
    w = world
    first, second = _new(w), _new(w, ticket_type="billing")
    assert (first.number, second.number) == (1001, 1002)
    assert (first.group_id, second.group_id) == ("warehouse", None)
    assert w["timer"].running(w["tenant"].tenant_id, 1001) == {1: first.created_at + 10 * MINUTE_MS}
    _, timeline = w["service"].get(w["ann"], 1001)
    assert [e.kind for e in timeline] == ["created"]


def test_visitors_cannot_work_on_tickets(world: dict[str, Any]) -> None:
    visitor = Identity(world["tenant"].tenant_id, Role.VISITOR, "v_1")
    with pytest.raises(Forbidden):
        world["service"].get(visitor, 1001)


def test_a_stale_edit_gets_conflict_and_the_reload_merges(world: dict[str, Any]) -> None:
    w = world
    t = _new(w)
    w["service"].update(w["ann"], t.number, TicketChanges(priority=Priority.HIGH), t.version)
    with pytest.raises(Conflict):  # Ben edited the version he loaded before Ann's change
        w["service"].update(w["ben"], t.number, TicketChanges(tags=["vip"]), t.version)
    fresh, _ = w["service"].get(w["ben"], t.number)
    merged = w["service"].update(w["ben"], t.number, TicketChanges(tags=["vip"]), fresh.version)
    assert (merged.priority, merged.tags) == (Priority.HIGH, ["vip"])


def test_priority_change_rearms_with_the_new_deadline(world: dict[str, Any]) -> None:
    w = world
    t = _new(w)
    changed = w["service"].update(w["ann"], t.number, TicketChanges(priority=Priority.HIGH), t.version)
    assert (w["tenant"].tenant_id, t.number, 1) in w["timer"].disarmed
    assert w["timer"].running(w["tenant"].tenant_id, t.number) == {2: t.created_at + 5 * MINUTE_MS}
    assert changed.sla_version == 2


def test_pending_pauses_the_timer(world: dict[str, Any]) -> None:
    w = world
    t = _new(w)
    w["service"].update(w["ann"], t.number, TicketChanges(status=TicketStatus.PENDING), t.version)
    assert w["timer"].running(w["tenant"].tenant_id, t.number) == {}


def test_reply_meets_the_first_response_and_mails_the_customer(world: dict[str, Any]) -> None:
    w = world
    t = _new(w)
    w["s"].clock.advance(MINUTE_MS)
    replied = w["service"].reply(w["ben"], t.number, "It ships tomorrow.")
    assert (replied.status, replied.assignee_id, replied.first_response_at) == (
        TicketStatus.OPEN, w["ben"].principal_id, t.created_at + MINUTE_MS)
    assert w["timer"].running(w["tenant"].tenant_id, t.number) == {replied.sla_version: t.created_at + 60 * MINUTE_MS}
    assert w["mailer"].sent[-1][0] == "cus@example.com" and "ships tomorrow" in w["mailer"].sent[-1][2]


def test_solve_stops_the_timer_mails_a_rating_link_and_the_rating_lands(world: dict[str, Any]) -> None:
    w = world
    t = _new(w, assignee_id=w["ann"].principal_id)
    solved = w["service"].update(w["ann"], t.number, TicketChanges(status=TicketStatus.SOLVED), t.version)
    assert w["timer"].running(w["tenant"].tenant_id, t.number) == {}
    to, subject, text = w["mailer"].sent[-1]
    assert to == "cus@example.com" and "solved" in subject
    token = urllib.parse.unquote(re.search(r"score=5&token=(\S+)", text).group(1))  # type: ignore[union-attr]
    rated = w["service"].rate(token, 5, "Quick, thanks")
    assert (rated.csat_score, rated.csat_comment, rated.status) == (5, "Quick, thanks", TicketStatus.SOLVED)
    # the customer says it is not solved after all: back to Ann
    reopened = w["service"].rate(token, 2, "Still missing", reopen=True)
    assert (reopened.status, reopened.assignee_id) == (TicketStatus.OPEN, w["ann"].principal_id)
    assert solved.solved_at is not None
    _, timeline = w["service"].get(w["ann"], t.number)
    assert [e.kind for e in timeline].count("csat") == 2


def test_solving_asks_the_requester_on_the_site_to_rate_it_in_the_widget(world: dict[str, Any]) -> None:
    w, s = world, world["s"]
    visitor = s.add_visitor(w["tenant"])
    tab, other = s.connect_visitor(visitor), s.connect_visitor(s.add_visitor(w["tenant"]))
    t = _new(w, requester=Requester(visitor.visitor_id, "cus@example.com", "Cus"))
    s.gateway.clear()
    w["service"].update(w["ann"], t.number, TicketChanges(status=TicketStatus.SOLVED), t.version)
    [asked] = s.gateway.frames(tab.connection_id, "ticket.solved")
    assert (asked["number"], asked["subject"]) == (t.number, "Where is my parcel?")
    assert s.gateway.frames(other.connection_id) == []  # nobody else's widget hears of it
    rated = w["service"].rate(asked["rating_token"], 4, "Fine")
    assert (rated.csat_score, rated.status) == (4, TicketStatus.SOLVED)
    # a ticket without a visitor (opened by hand for an email) asks nobody on the site
    plain = _new(w)
    s.gateway.clear()
    w["service"].update(w["ann"], plain.number, TicketChanges(status=TicketStatus.SOLVED), plain.version)
    assert s.gateway.frames(tab.connection_id, "ticket.solved") == []


def test_closed_cannot_reopen(world: dict[str, Any]) -> None:
    w = world
    t = _new(w)
    t = w["service"].update(w["ann"], t.number, TicketChanges(status=TicketStatus.SOLVED), t.version)
    t = w["service"].update(w["ann"], t.number, TicketChanges(status=TicketStatus.CLOSED), t.version)
    with pytest.raises(InvalidTransition):
        w["service"].update(w["ann"], t.number, TicketChanges(status=TicketStatus.OPEN), t.version)


def test_conversation_becomes_a_ticket_once_with_customer_and_transcript(world: dict[str, Any]) -> None:
    w, s = world, world["s"]
    visitor = s.add_visitor(w["tenant"])
    visitor_conn = s.connect_visitor(visitor)
    s.send(visitor_conn, {"action": "identify", "name": "Vera", "email": "vera@example.com"})
    s.send(visitor_conn, {"action": "message.send", "client_msg_id": "m1", "text": "My order 77 never came"})
    conversation_id = s.visitor_repo.get(w["tenant"].tenant_id, visitor.visitor_id).open_conversation_id
    ticket = w["service"].from_conversation(w["ann"], conversation_id, None, "logistics", Priority.HIGH)
    assert (ticket.requester.email, ticket.requester.name, ticket.subject) == (
        "vera@example.com", "Vera", "My order 77 never came")
    _, timeline = w["service"].get(w["ann"], ticket.number)
    transcript = next(e for e in timeline if e.kind == "transcript")
    assert transcript.data["messages"][0]["text"] == "My order 77 never came"
    with pytest.raises(TicketExists) as again:
        w["service"].from_conversation(w["ben"], conversation_id, None, "logistics", Priority.HIGH)
    assert again.value.details["number"] == ticket.number


def test_a_left_message_becomes_a_ticket(world: dict[str, Any]) -> None:
    w = world
    t = w["service"].from_left_message(w["tenant"].tenant_id, None, "Lia", "lia@example.com",
                                       "Do you ship to Macau?\nThanks")
    assert (t.source, t.subject, t.requester.email, t.status) == (
        "offline_message", "Do you ship to Macau?", "lia@example.com", TicketStatus.NEW)


def test_lookup_needs_the_right_email_and_is_rate_limited(world: dict[str, Any]) -> None:
    w = world
    t = _new(w)
    site = w["tenant"].site_key
    assert w["service"].lookup(site, t.number, "CUS@example.com ", "1.2.3.4")["status"] == "new"
    for wrong in [(t.number, "other@example.com"), (999_999, "cus@example.com")]:
        with pytest.raises(TicketNotFound) as error:
            w["service"].lookup(site, wrong[0], wrong[1], "1.2.3.4")
        assert error.value.message == "no ticket with that number and email"
    for _ in range(7):
        with pytest.raises(TicketNotFound):
            w["service"].lookup(site, 5, "x@example.com", "1.2.3.4")
    with pytest.raises(RateLimited):
        w["service"].lookup(site, t.number, "cus@example.com", "1.2.3.4")
    assert w["service"].lookup(site, t.number, "cus@example.com", "5.6.7.8")["number"] == t.number


def _tick(w: dict[str, Any], number: int, version: int) -> dict[str, Any]:
    return w["service"].sla_tick({"tenant_id": w["tenant"].tenant_id, "number": number, "sla_version": version})


def test_sla_task_escalates_one_rung_per_call_and_is_idempotent(world: dict[str, Any]) -> None:
    w, clock = world, world["s"].clock
    agent_conn = w["s"].connect_agent(w["s"].agent_repo.get(w["tenant"].tenant_id, w["ann"].principal_id))
    t = _new(w, assignee_id=w["ann"].principal_id)
    out = _tick(w, t.number, 1)
    assert out["done"] is False and out["wake_at"]  # not due yet: wait on
    clock.advance(10 * MINUTE_MS + 200)  # late by 200 ms
    assert _tick(w, t.number, 1)["done"] is False
    assert _tick(w, t.number, 1)["done"] is False  # fired twice: still one rung
    ticket, timeline = w["service"].get(w["ann"], t.number)
    assert (ticket.escalation_step, [e.kind for e in timeline].count("escalated")) == (1, 1)
    clock.advance(MINUTE_MS)
    _tick(w, t.number, 1)
    clock.advance(MINUTE_MS)
    assert _tick(w, t.number, 1)["done"] is True
    ticket, timeline = w["service"].get(w["ann"], t.number)
    steps = [e.data["action"] for e in timeline if e.kind == "escalated"]
    assert steps == ["notify_assignee", "raise_priority", "reassign"]
    assert (ticket.priority, ticket.group_id, ticket.assignee_id) == (Priority.HIGH, "seniors", None)
    frames = [f for f in w["s"].gateway.posted[agent_conn.connection_id] if f["action"] == "ticket.escalated"]
    assert [f["step"] for f in frames] == [1, 2, 3]
    assert w["boss"].principal_id in frames[1]["notify"] and frames[0]["notify"] == [w["ann"].principal_id]


def test_escalations_reach_the_group_supervisors(world: dict[str, Any]) -> None:
    w, s = world, world["s"]
    other = s.add_agent(w["tenant"], "Zed")
    s.agent_repo.items[(w["tenant"].tenant_id, other.agent_id)].role = "supervisor"
    w["tickets"].groups[other.agent_id] = {"warehouse"}
    agent_conn = s.connect_agent(s.agent_repo.get(w["tenant"].tenant_id, w["ann"].principal_id))
    t = _new(w, assignee_id=w["ann"].principal_id)  # logistics → warehouse
    for advance in (10 * MINUTE_MS, MINUTE_MS, MINUTE_MS):
        s.clock.advance(advance)
        _tick(w, t.number, 1)
    frames = [f for f in s.gateway.posted[agent_conn.connection_id] if f["action"] == "ticket.escalated"]
    assert frames[1]["notify"] == [w["ann"].principal_id, other.agent_id]  # not Boss: not in warehouse
    assert frames[2]["notify"] == [other.agent_id]  # the group it was taken from


def test_sla_task_ends_quietly_for_solved_or_rearmed_tickets(world: dict[str, Any]) -> None:
    w = world
    t = _new(w)
    w["service"].reply(w["ann"], t.number, "On it")  # version 2 now
    world["s"].clock.advance(11 * MINUTE_MS)
    assert _tick(w, t.number, 1) == {"tenant_id": w["tenant"].tenant_id, "number": t.number, "sla_version": 1,
                                     "done": True}
    fresh, _ = w["service"].get(w["ann"], t.number)
    w["service"].update(w["ann"], t.number, TicketChanges(status=TicketStatus.SOLVED), fresh.version)
    assert _tick(w, t.number, fresh.sla_version + 1)["done"] is True
    assert w["service"].get(w["ann"], t.number)[0].escalation_step == 0


def test_early_wake_sleeps_off_the_last_second(world: dict[str, Any]) -> None:
    w = world
    t = _new(w)
    w["s"].clock.advance(10 * MINUTE_MS - 900)  # the Wait ended 0.9 s early
    assert _tick(w, t.number, 1)["done"] is False
    assert w["service"].get(w["ann"], t.number)[0].escalation_step == 1


def test_escalate_now(world: dict[str, Any]) -> None:
    w = world
    t = _new(w)
    urgent = w["service"].escalate_now(w["tenant"].tenant_id, t.number, "angry customer")
    assert urgent.priority is Priority.URGENT
    _tick(w, t.number, urgent.sla_version)
    assert w["service"].get(w["ann"], t.number)[0].escalation_step == 1


def test_search_filters(world: dict[str, Any]) -> None:
    w, clock = world, world["s"].clock
    mine = _new(w, assignee_id=w["ann"].principal_id)
    other = _new(w, ticket_type="billing", priority=Priority.HIGH)
    clock.advance(6 * MINUTE_MS)
    search = w["service"].search
    assert [t.number for t in search(w["ann"], TicketFilter(mine=True))] == [mine.number]
    assert [t.number for t in search(w["ann"], TicketFilter(group_id="warehouse"))] == [mine.number]
    assert [t.number for t in search(w["ann"], TicketFilter(priority=Priority.HIGH))] == [other.number]
    assert [t.number for t in search(w["ann"], TicketFilter(sla="breached"))] == [other.number]
    assert [t.number for t in search(w["ann"], TicketFilter(sla="about_to_breach"))] == [mine.number]
    assert [t.number for t in search(w["ann"], TicketFilter(status=TicketStatus.OPEN))] == [mine.number]
    # filters combine: mine in another group is nothing; mine in my group, of my priority, is mine
    assert search(w["ann"], TicketFilter(mine=True, group_id="billing")) == []
    assert [t.number for t in search(w["ann"], TicketFilter(mine=True, group_id="warehouse",
                                                            priority=Priority.NORMAL))] == [mine.number]
    assert search(w["ann"], TicketFilter(group_id="warehouse", status=TicketStatus.NEW)) == []


def test_only_supervisors_change_settings(world: dict[str, Any]) -> None:
    with pytest.raises(Forbidden):
        world["service"].set_routing(world["ann"], {"rules": []})
    routing = world["service"].set_routing(world["boss"], {"rules": [{"type": "refund", "group_id": "billing"}]})
    assert routing.group_for("refund") == "billing"


def test_a_complaint_in_a_conversation_opens_an_urgent_ticket_that_escalates_at_once(world: dict[str, Any]) -> None:
    w, s = world, world["s"]
    visitor_conn = s.connect_visitor(s.add_visitor(w["tenant"]))
    s.send(visitor_conn, {"action": "message.send", "client_msg_id": "m1", "text": "This is a scam, I want my money"})
    conversation_id = next(iter(s.conversation_repo.items.values())).conversation_id
    ticket = w["service"].complaint(w["tenant"].tenant_id, conversation_id, "angry")
    assert (ticket.priority, ticket.type, ticket.source) == (Priority.URGENT, "complaint", "conversation")
    _tick(w, ticket.number, ticket.sla_version)
    assert w["service"].get(w["ann"], ticket.number)[0].escalation_step == 1
    again = w["service"].complaint(w["tenant"].tenant_id, conversation_id, "still angry")
    assert again.number == ticket.number


def _chat_ticket(w: dict[str, Any], first_text: str) -> tuple[Any, str, Any]:
    """A visitor's chat (the ticket hook wired as bootstrap wires it) made a ticket:
    (the visitor's connection, the conversation id, the ticket)."""
    s = w["s"]
    s.chat.after_visitor_message.append(w["service"].after_visitor_message)
    visitor = s.add_visitor(w["tenant"])
    conn = s.connect_visitor(visitor)
    s.send(conn, {"action": "message.send", "client_msg_id": "m1", "text": first_text})
    conversation_id = s.visitor_repo.get(w["tenant"].tenant_id, visitor.visitor_id).open_conversation_id
    t = w["service"].from_conversation(w["ann"], conversation_id, None, "logistics", Priority.NORMAL)
    return conn, conversation_id, t


def test_the_customer_writing_in_the_chat_reopens_a_pending_ticket(world: dict[str, Any]) -> None:
    w, s = world, world["s"]
    conn, _, t = _chat_ticket(w, "Parcel 9 is lost")
    t = w["service"].reply(w["ann"], t.number, "Which address?")
    t = w["service"].update(w["ann"], t.number, TicketChanges(status=TicketStatus.PENDING), t.version)
    s.clock.advance(MINUTE_MS)
    s.send(conn, {"action": "message.send", "client_msg_id": "m2", "text": "12 Long Road"})
    after, timeline = w["service"].get(w["ann"], t.number)
    assert after.status is TicketStatus.OPEN
    assert after.deadlines.next_response_due == s.clock.now_ms() + 20 * MINUTE_MS
    assert timeline[-1].kind == "customer_message" and timeline[-1].data["text"] == "12 Long Road"
    s.send(conn, {"action": "message.send", "client_msg_id": "m3", "text": "Thanks"})
    assert w["service"].get(w["ann"], t.number)[0].version == after.version  # already waiting: no write


def test_a_complaint_or_anger_in_the_ticket_s_chat_escalates_at_once_and_once(world: dict[str, Any]) -> None:
    w, s = world, world["s"]
    conn, conversation_id, t = _chat_ticket(w, "Parcel 9 is lost")
    t = w["service"].reply(w["ann"], t.number, "We are looking")
    s.clock.advance(MINUTE_MS)
    s.send(conn, {"action": "message.send", "client_msg_id": "m2", "text": "Where is it now?"})
    assert w["service"].get(w["ann"], t.number)[0].priority is Priority.NORMAL  # a calm question
    s.clock.advance(MINUTE_MS)
    s.send(conn, {"action": "message.send", "client_msg_id": "m3", "text": "Worst shop EVER, this is RIDICULOUS!!"})
    angry, timeline = w["service"].get(w["ann"], t.number)
    now = s.clock.now_ms()
    assert angry.priority is Priority.URGENT and angry.deadlines.next() == ("next_response", now)
    assert w["timer"].running(w["tenant"].tenant_id, t.number) == {angry.sla_version: now}  # the ladder starts now
    assert timeline[-1].kind == "priority" and "anger" in timeline[-1].data["reason"]
    # more of the same, or the bot's complaint hook meanwhile: the ladder is not restarted
    s.send(conn, {"action": "message.send", "client_msg_id": "m4", "text": "I will complain about you!!"})
    w["service"].complaint(w["tenant"].tenant_id, conversation_id, "bot: complaint")
    assert w["service"].get(w["ann"], t.number)[0].version == angry.version


def test_an_agent_answering_in_the_chat_meets_the_ticket_response_target(world: dict[str, Any]) -> None:
    w, s = world, world["s"]
    s.chat.after_agent_message.append(w["service"].after_agent_message)  # as bootstrap wires it
    visitor = s.add_visitor(w["tenant"])
    s.send(s.connect_visitor(visitor), {"action": "message.send", "client_msg_id": "m1", "text": "Broken lid"})
    conversation_id = s.visitor_repo.get(w["tenant"].tenant_id, visitor.visitor_id).open_conversation_id
    t = w["service"].from_conversation(w["ann"], conversation_id, None, "general", Priority.NORMAL)
    agent = s.connect_agent(s.agent_repo.get(w["tenant"].tenant_id, w["ann"].principal_id))
    s.send(agent, {"action": "message.send", "client_msg_id": "n1", "conversation_id": conversation_id,
                   "text": "internal", "internal": True})
    assert w["service"].get(w["ann"], t.number)[0].first_response_at is None  # a note is no answer
    s.clock.advance(MINUTE_MS)
    s.send(agent, {"action": "message.send", "client_msg_id": "a1", "conversation_id": conversation_id,
                   "text": "A new lid ships today"})
    after, timeline = w["service"].get(w["ann"], t.number)
    assert after.first_response_at == s.clock.now_ms() and after.deadlines.first_response_due is None
    assert timeline[-1].data == {"text": "A new lid ships today", "channel": "chat"}
    assert w["timer"].running(w["tenant"].tenant_id, t.number) == {after.sla_version: after.deadlines.resolution_due}


def test_routing_s_left_message_becomes_a_ticket_with_a_confirmation_mail(world: dict[str, Any]) -> None:
    from chalicelib.domain.model import LeftMessage

    w = world
    left = LeftMessage(w["tenant"].tenant_id, "lm_1", "v_1", None, "Sam", "sam@example.com", "Call me", 0, "no_agent")
    ticket = w["service"].left_message(left)
    assert (ticket.source, ticket.requester.visitor_id, ticket.subject) == ("offline_message", "v_1", "Call me")
    to, subject, _ = w["mailer"].sent[-1]
    assert (to, subject) == ("sam@example.com", f"[#{ticket.number}] We got your message")


def test_business_hours_default_to_the_tenant_s_opening_hours(world: dict[str, Any]) -> None:
    from chalicelib.domain.sla import BusinessHours

    w = world
    policy = {"targets": {"normal": {"first_response_ms": 60 * MINUTE_MS, "next_response_ms": 0,
                                     "resolution_ms": 0, "business_hours": True}}}
    w["service"].use_tenant_hours(lambda tenant_id: BusinessHours.from_day_windows("UTC", {"mon": [["09:00", "10:00"]]}))
    w["service"].set_policy(w["boss"], policy)
    monday_5am = 1_795_410_000_000  # 2026-11-23 05:00 UTC
    w["s"].clock.current = monday_5am
    t = _new(w)
    assert t.deadlines.first_response_due == monday_5am + 5 * 3_600_000  # opens 09:00, 1 h later: 10:00
