"""Routing decisions from plain data: classifier, rules, queue order, agent choice, waits,
business hours, mentions. No AWS, no fakes needed: the domain is pure."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidRule
from chalicelib.domain.routing import (
    AgentState,
    BusinessHours,
    Condition,
    QueueEntry,
    RoutingContext,
    RoutingRule,
    choose_agent,
    classify_message,
    expected_wait_ms,
    mentioned,
    plan_assignments,
    queue_key,
    queue_order,
    route,
    vip_level,
)

NOW = 1_700_000_000_000


@pytest.mark.parametrize("text,kind", [
    ("How much does the pro plan cost?", "pre-sales"),
    ("Is there a discount if I buy two?", "pre-sales"),
    ("这个多少钱？有优惠吗", "pre-sales"),
    ("I want a refund, the item arrived damaged", "after-sales"),
    ("我要退货，快递把东西弄坏了", "after-sales"),
    ("The app shows an error when I login", "technical"),
    ("无法登录，一直报错", "technical"),
    ("This is unacceptable, I want to complain about your rude staff", "complaint"),
    ("我要投诉，你们的服务太差了", "complaint"),
    ("hello", None),
])
def test_first_message_classifier(text: str, kind: str | None) -> None:
    assert classify_message(text) == kind


def test_complaints_win_over_after_sales_on_a_tie() -> None:
    assert classify_message("terrible, I want a refund") == "complaint"


def test_words_not_substrings_in_english() -> None:
    assert classify_message("the apiary sells honey") is None  # "api" is not a word here


def rule(rule_id: str, position: int, *conditions: Condition, group: str | None = None,
         priority: str | None = None, enabled: bool = True) -> RoutingRule:
    return RoutingRule("t", rule_id, rule_id, position, conditions, group, priority, enabled)


RULES = [
    rule("complaint", 10, Condition("type", "equals", "complaint"), group="support", priority="urgent"),
    rule("vip", 20, Condition("vip_level", "gte", 2), priority="high"),
    rule("checkout", 30, Condition("page_url", "contains", "/checkout"), group="sales"),
    rule("chinese", 40, Condition("language", "prefix", "zh"), group="cn"),
    rule("plan", 50, Condition("attribute", "in", ("gold", "platinum"), key="plan"), group="key-accounts"),
    rule("disabled", 5, group="nowhere", enabled=False),
]


def test_rules_are_evaluated_in_position_order_first_group_wins() -> None:
    context = RoutingContext(message_type="complaint", page_url="https://x/checkout", language="zh-CN")
    decision = route(RULES, context)
    assert (decision.group_id, decision.priority, decision.rule_id) == ("support", "urgent", "complaint")


def test_page_language_and_attribute_rules() -> None:
    assert route(RULES, RoutingContext(page_url="https://shop/checkout/pay")).group_id == "sales"
    assert route(RULES, RoutingContext(language="zh-TW")).group_id == "cn"
    assert route(RULES, RoutingContext(attributes={"plan": "Gold"})).group_id == "key-accounts"
    nothing = route(RULES, RoutingContext(message_type="pre-sales"))
    assert (nothing.group_id, nothing.priority, nothing.rule_id) == (None, "normal", None)


def test_priority_rules_accumulate_until_a_group_rule_applies() -> None:
    decision = route(RULES, RoutingContext(vip_level=3, page_url="/checkout"))
    assert (decision.group_id, decision.priority) == ("sales", "high")


def test_any_vip_is_at_least_high() -> None:
    assert route([], RoutingContext(vip_level=1)).priority == "high"
    assert route(RULES, RoutingContext(vip_level=1, message_type="complaint")).priority == "urgent"


@pytest.mark.parametrize("attributes,level", [
    ({"vip_level": "3"}, 3), ({"vip": "VIP2"}, 2), ({"membership_level": "gold"}, 1), ({"vip": "true"}, 1),
    ({"vip": "no"}, 0), ({}, 0), ({"level": "lv5"}, 5),
])
def test_vip_level_from_identify_attributes(attributes: dict[str, str], level: int) -> None:
    assert vip_level(attributes) == level


@pytest.mark.parametrize("condition,problem", [
    (Condition("colour", "equals", "red"), "unknown field"),
    (Condition("type", "matches", "x"), "unknown operator"),
    (Condition("vip_level", "gte", "2"), "compares with a number"),
    (Condition("attribute", "equals", "x"), "names its key"),
    (Condition("type", "equals", "gossip"), "type is one of"),
    (Condition("language", "in", "en"), "list of values"),
])
def test_invalid_conditions_are_refused(condition: Condition, problem: str) -> None:
    with pytest.raises(InvalidRule, match=problem):
        rule("r", 1, condition, group="g").validate()


def test_a_rule_must_do_something() -> None:
    with pytest.raises(InvalidRule):
        rule("r", 1).validate()
    with pytest.raises(InvalidRule):
        rule("r", 1, group="g", priority="asap").validate()


def test_queue_is_urgent_then_high_then_fifo() -> None:
    entries = [QueueEntry("c1", "normal", NOW), QueueEntry("c2", "high", NOW + 5), QueueEntry("c3", "normal", NOW - 1),
               QueueEntry("c4", "urgent", NOW + 9), QueueEntry("c5", "high", NOW + 1), QueueEntry("c6", "low", NOW - 9)]
    assert [e.conversation_id for e in queue_order(entries)] == ["c4", "c5", "c2", "c3", "c1", "c6"]
    assert queue_key("urgent", NOW, "c") < queue_key("normal", NOW - 10_000, "c")


def agent(agent_id: str, load: int = 0, capacity: int = 3, groups: tuple[str, ...] = (), seniority: int = 0,
          idle_since: int = 0, presence: str = "online", live: int = 1, heartbeat: int = NOW) -> AgentState:
    return AgentState(agent_id, agent_id, frozenset(groups), frozenset(), seniority, capacity, load, presence, live,
                      heartbeat, idle_since)


def test_least_loaded_eligible_agent_ties_idle_longest() -> None:
    agents = [agent("a", load=2), agent("b", load=1, idle_since=NOW - 10), agent("c", load=1, idle_since=NOW - 50)]
    assert choose_agent(agents, QueueEntry("x", "normal", NOW), NOW).agent_id == "c"  # type: ignore[union-attr]


def test_only_reachable_agents_in_the_group_with_room() -> None:
    entry = QueueEntry("x", "normal", NOW, group_id="sales")
    agents = [agent("away", presence="away", groups=("sales",)), agent("gone", live=0, groups=("sales",)),
              agent("stale", heartbeat=NOW - 91_000, groups=("sales",)), agent("full", load=3, groups=("sales",)),
              agent("other", groups=("support",))]
    assert choose_agent(agents, entry, NOW) is None
    agents.append(agent("ok", load=2, groups=("sales",)))
    assert choose_agent(agents, entry, NOW).agent_id == "ok"  # type: ignore[union-attr]


def test_high_priority_prefers_senior_agents() -> None:
    agents = [agent("junior"), agent("senior", load=2, seniority=3)]
    assert choose_agent(agents, QueueEntry("x", "urgent", NOW), NOW).agent_id == "senior"  # type: ignore[union-attr]
    assert choose_agent(agents, QueueEntry("x", "normal", NOW), NOW).agent_id == "junior"  # type: ignore[union-attr]


def test_plan_spreads_the_queue_by_load_and_respects_capacity() -> None:
    agents = [agent("a", capacity=2), agent("b", capacity=1, load=1), agent("c", capacity=2, load=1)]
    entries = [QueueEntry(f"c{i}", "normal", NOW + i) for i in range(5)]
    plan = plan_assignments(entries, agents, NOW)
    assert [(e.conversation_id, a.agent_id) for e, a in plan] == [("c0", "a"), ("c1", "c"), ("c2", "a")]
    assert [a.load for a in agents] == [0, 1, 1]  # the plan works on copies


def test_an_entry_nobody_can_take_does_not_block_others() -> None:
    agents = [agent("a", groups=("support",))]
    entries = [QueueEntry("sales", "urgent", NOW, group_id="sales"), QueueEntry("any", "normal", NOW + 1)]
    assert [e.conversation_id for e, _ in plan_assignments(entries, agents, NOW)] == ["any"]


def test_expected_wait_scales_with_position_and_capacity() -> None:
    agents = [agent("a", capacity=2), agent("b", capacity=2), agent("off", presence="offline")]
    assert expected_wait_ms(1, agents, None, NOW, handle_ms=240_000) == 60_000
    assert expected_wait_ms(8, agents, None, NOW, handle_ms=240_000) == 480_000
    assert expected_wait_ms(1, [], None, NOW) == 0


def test_business_hours_in_the_tenant_time_zone() -> None:
    hours = BusinessHours("Asia/Shanghai", {"mon": (("09:00", "18:00"),), "sat": ()})
    hours.validate()
    monday_10_shanghai = 1_700_445_600_000  # 2023-11-20 02:00 UTC = 10:00 in Shanghai, a Monday
    assert hours.is_open(monday_10_shanghai)
    assert not hours.is_open(monday_10_shanghai + 9 * 3_600_000)  # 19:00
    assert not hours.is_open(monday_10_shanghai + 5 * 86_400_000)  # Saturday
    with pytest.raises(InvalidRule):
        BusinessHours("Mars/Olympus", {}).validate()
    with pytest.raises(InvalidRule):
        BusinessHours("UTC", {"mon": (("18:00", "09:00"),)}).validate()


def test_mentions_match_display_names_and_email_names() -> None:
    agents = [("a1", "Alice", "alice.w@x.com"), ("a2", "Bob Li", "bob@x.com"), ("a3", "Carol", "carol@x.com")]
    assert mentioned("@alice and @BobLi please look", agents) == ["a1", "a2"]
    assert mentioned("ask @alice.w.", agents) == ["a1"]
    assert mentioned("mail carol@x.com", agents) == []


def test_draw_agent_draws_among_those_with_room_by_their_free_places() -> None:
    import random

    from chalicelib.domain.routing import AgentState, QueueEntry, draw_agent

    now = 1_000_000

    def agent(agent_id: str, load: int, presence: str = "online") -> AgentState:
        return AgentState(agent_id, agent_id.upper(), capacity=4, load=load, presence=presence,
                          live_connections=1, heartbeat_at=now)

    agents = [agent("a1", 3), agent("a3", 4), agent("a4", 0, "away"), agent("a5", 1)]
    entry = QueueEntry("c1", "normal", now)
    drawn = [draw_agent(agents, entry, now, random.Random(seed)) for seed in range(400)]
    assert {a.agent_id for a in drawn if a} == {"a1", "a5"}  # full and away never
    assert 0.65 < sum(a.agent_id == "a5" for a in drawn if a) / len(drawn) < 0.85  # 3 places against 1
    assert draw_agent([agent("a3", 4)], entry, now, random.Random(0)) is None
    agents[0].seniority = 2  # urgent and high: the most senior with room, as choose_agent prefers
    urgent = QueueEntry("c2", "urgent", now)
    assert {getattr(draw_agent(agents, urgent, now, random.Random(seed)), "agent_id", None)
            for seed in range(50)} == {"a1"}
