"""Routing and dispatch decisions, computed from plain data and a clock.

What is decided here (and unit-tested in milliseconds): the type of a first message, which
routing rule applies to a new conversation (target group and priority), the order of the
queue, which agent gets the next conversation, a visitor's expected wait, and whether the
tenant's business hours are open. Storage and races are the adapters' business: the
choice made here is only a proposal that a conditional transaction accepts or refuses.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Sequence

from .errors import InvalidRule

# ---------------------------------------------------------------- priorities

PRIORITIES = ("urgent", "high", "normal", "low")
_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}
HIGH_PRIORITIES = frozenset({"urgent", "high"})

HEARTBEAT_TIMEOUT_MS = 90_000  # three missed 30 s pings: the agent's workbench is gone
DEFAULT_HANDLE_MS = 4 * 60_000  # expected handling time of one conversation, for wait estimates


def priority_rank(priority: str) -> int:
    """0 for urgent … 3 for low (unknown priorities count as normal)."""
    return _RANK.get(priority, _RANK["normal"])


def raise_priority(current: str, floor: str) -> str:
    """The more urgent of two priorities."""
    return current if priority_rank(current) <= priority_rank(floor) else floor


def queue_key(priority: str, enqueued_at: int, conversation_id: str) -> str:
    """The queue's sort key: priority first, then first come first served.

    Lexical order of the key is the queue order, so one range query returns the queue
    already sorted (`1#0001700000000000#c_...` comes before `2#...`).
    """
    return f"{priority_rank(priority)}#{enqueued_at:016d}#{conversation_id}"


# ---------------------------------------------------------------- classification

MESSAGE_TYPES = ("complaint", "after-sales", "technical", "pre-sales")

# Checked in this order: a complaint about a refund is a complaint first.
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "complaint": (
        "complain", "complaint", "terrible", "awful", "unacceptable", "angry", "worst", "scam",
        "disappointed", "ridiculous", "lawyer", "report you", "rude",
        "投诉", "差评", "太差", "垃圾", "骗子", "气死", "不满", "愤怒", "欺骗", "举报", "态度差",
    ),
    "after-sales": (
        "refund", "return", "exchange", "broken", "damaged", "warranty", "repair", "my order",
        "delivery", "shipping", "shipped", "tracking", "arrived", "cancel my", "replacement", "defective",
        "退款", "退货", "换货", "售后", "维修", "保修", "坏了", "破损", "物流", "快递", "发货", "到货",
        "订单", "取消订单", "补发",
    ),
    "technical": (
        "error", "bug", "crash", "not working", "doesn't work", "does not work", "can't log", "cannot log",
        "login", "password", "install", "setup", "configure", "api", "integration", "timeout", "500",
        "报错", "错误", "故障", "崩溃", "无法登录", "登录不", "密码", "安装", "配置", "接口", "打不开",
        "用不了", "闪退", "bug",
    ),
    "pre-sales": (
        "price", "pricing", "cost", "discount", "coupon", "buy", "purchase", "plan", "quote", "trial",
        "in stock", "available", "how much", "offer", "compare", "demo",
        "价格", "多少钱", "优惠", "折扣", "购买", "买", "报价", "试用", "有货", "库存", "套餐", "活动",
        "便宜", "咨询",
    ),
}
_WORD = re.compile(r"[a-z0-9']+")


def classify_message(text: str) -> str | None:
    """The type of a visitor's first message: pre-sales, after-sales, technical or complaint.

    A keyword classifier in English and Chinese, meant to be replaced by the bot's model:
    each type scores one point per keyword found; the highest score wins, ties go to the
    type listed first in `MESSAGE_TYPES` (complaints before the rest). None when nothing
    matches. English keywords match whole words (or phrases); Chinese ones as substrings,
    since Chinese text has no spaces.
    """
    lowered = text.lower()
    padded = " " + " ".join(_WORD.findall(lowered)) + " "
    best, best_score = None, 0
    for kind in MESSAGE_TYPES:
        score = 0
        for keyword in _KEYWORDS[kind]:
            if keyword.isascii():
                if f" {keyword} " in padded:
                    score += 1
            elif keyword in lowered:
                score += 1
        if score > best_score:
            best, best_score = kind, score
    return best


# ---------------------------------------------------------------- routing rules

FIELDS = ("type", "page_url", "language", "vip_level", "attribute")
OPERATORS = ("equals", "not_equals", "contains", "prefix", "in", "gte", "lte")
_NUMERIC_OPS = {"gte", "lte"}


@dataclass(frozen=True)
class Condition:
    """One test on the conversation's context; a rule applies when all its conditions hold."""

    field: str
    op: str
    value: str | int | tuple[str, ...]
    key: str | None = None  # the attribute's name when field == "attribute"

    def validate(self) -> None:
        if self.field not in FIELDS:
            raise InvalidRule(f"unknown field {self.field!r}", {"fields": list(FIELDS)})
        if self.op not in OPERATORS:
            raise InvalidRule(f"unknown operator {self.op!r}", {"operators": list(OPERATORS)})
        if (self.field == "attribute") != bool(self.key):
            raise InvalidRule("an attribute condition names its key; other fields have none")
        if self.op in _NUMERIC_OPS and not isinstance(self.value, int):
            raise InvalidRule(f"{self.op} compares with a number")
        if self.op == "in" and not isinstance(self.value, tuple):
            raise InvalidRule("in takes a list of values")
        if self.op not in _NUMERIC_OPS | {"in"} and not isinstance(self.value, str):
            raise InvalidRule(f"{self.op} compares with a string")
        if self.field == "type" and self.op in ("equals", "not_equals") and self.value not in MESSAGE_TYPES:
            raise InvalidRule(f"type is one of {', '.join(MESSAGE_TYPES)}")


@dataclass(frozen=True)
class RoutingRule:
    tenant_id: str
    rule_id: str
    name: str
    position: int  # rules are evaluated in ascending position
    conditions: tuple[Condition, ...]
    group_id: str | None = None  # None: any agent
    priority: str | None = None  # None: leave the priority as it is
    enabled: bool = True

    def validate(self) -> None:
        if self.priority is not None and self.priority not in PRIORITIES:
            raise InvalidRule(f"priority is one of {', '.join(PRIORITIES)}")
        if self.group_id is None and self.priority is None:
            raise InvalidRule("a rule sets a target group, a priority, or both")
        for condition in self.conditions:
            condition.validate()


@dataclass(frozen=True)
class RoutingContext:
    """What a rule can look at when a conversation starts."""

    message_type: str | None = None
    page_url: str | None = None
    language: str | None = None
    vip_level: int = 0
    attributes: dict[str, str] = field(default_factory=dict)

    def value(self, condition: Condition) -> str | int | None:
        if condition.field == "type":
            return self.message_type
        if condition.field == "page_url":
            return self.page_url
        if condition.field == "language":
            return (self.language or "").lower() or None
        if condition.field == "vip_level":
            return self.vip_level
        return self.attributes.get(condition.key or "")


VIP_ATTRIBUTES = ("vip_level", "vip", "membership_level", "level")


def vip_level(attributes: dict[str, str]) -> int:
    """The visitor's VIP / membership level from `identify`'s custom attributes (0: none)."""
    for name in VIP_ATTRIBUTES:
        raw = (attributes.get(name) or "").strip().lower()
        if not raw:
            continue
        digits = re.sub(r"^(vip|v|level|lv)\s*", "", raw)
        if digits.isdigit():
            return min(int(digits), 99)
        if raw in ("true", "yes", "gold", "platinum", "vip"):
            return 1
    return 0


def _matches(condition: Condition, actual: str | int | None) -> bool:
    op, expected = condition.op, condition.value
    if op in _NUMERIC_OPS:
        if actual is None:
            return False
        try:
            number = int(actual)
        except (TypeError, ValueError):
            return False
        return number >= int(expected) if op == "gte" else number <= int(expected)  # type: ignore[arg-type]
    text = "" if actual is None else str(actual).lower()
    if op == "in":
        return text in {str(v).lower() for v in expected}  # type: ignore[union-attr]
    wanted = str(expected).lower()
    if op == "equals":
        return actual is not None and text == wanted
    if op == "not_equals":
        return text != wanted
    if op == "contains":
        return actual is not None and wanted in text
    return actual is not None and text.startswith(wanted)  # prefix


def rule_applies(rule: RoutingRule, context: RoutingContext) -> bool:
    return rule.enabled and all(_matches(c, context.value(c)) for c in rule.conditions)


@dataclass(frozen=True)
class RoutingDecision:
    group_id: str | None
    priority: str
    rule_id: str | None = None
    message_type: str | None = None


def route(rules: Iterable[RoutingRule], context: RoutingContext) -> RoutingDecision:
    """Evaluate the rules in position order: the first rule that applies and names a group
    decides the group; priorities are taken from every applying rule up to and including
    that one (the most urgent wins). A VIP visitor is at least `high`."""
    group_id, priority, rule_id = None, None, None
    for rule in sorted(rules, key=lambda r: (r.position, r.rule_id)):
        if not rule_applies(rule, context):
            continue
        if rule.priority:
            priority = rule.priority if priority is None else raise_priority(priority, rule.priority)
        rule_id = rule_id or rule.rule_id
        if rule.group_id:
            group_id, rule_id = rule.group_id, rule.rule_id
            break
    priority = priority or "normal"
    if context.vip_level > 0:
        priority = raise_priority(priority, "high")
    return RoutingDecision(group_id, priority, rule_id, context.message_type)


# ---------------------------------------------------------------- agents and the queue


@dataclass
class AgentState:
    """What dispatch knows about one agent (the agent item's routing attributes)."""

    agent_id: str
    display_name: str = ""
    groups: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    seniority: int = 0
    capacity: int = 3
    load: int = 0
    presence: str = "offline"
    live_connections: int = 0
    heartbeat_at: int = 0
    last_assigned_at: int = 0  # when the agent last got a conversation (idle since)
    role: str = "agent"

    def reachable(self, now_ms: int) -> bool:
        """Online, with a workbench open that has pinged recently."""
        return (self.presence == "online" and self.live_connections > 0
                and now_ms - self.heartbeat_at <= HEARTBEAT_TIMEOUT_MS)

    def serves(self, group_id: str | None) -> bool:
        return group_id is None or group_id in self.groups

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.load)


@dataclass(frozen=True)
class QueueEntry:
    conversation_id: str
    priority: str
    enqueued_at: int
    group_id: str | None = None
    language: str | None = None

    @property
    def sort_key(self) -> str:
        return queue_key(self.priority, self.enqueued_at, self.conversation_id)


def queue_order(entries: Iterable[QueueEntry]) -> list[QueueEntry]:
    """Urgent and VIP (high) first, then first come first served."""
    return sorted(entries, key=lambda e: e.sort_key)


def choose_agent(agents: Iterable[AgentState], entry: QueueEntry, now_ms: int) -> AgentState | None:
    """The agent who should get `entry`, or None if nobody eligible has room.

    Eligible: reachable (online, connected, heartbeat fresh), in the entry's group, below
    capacity. Among them the least loaded; ties go to the one idle longest. For urgent and
    high priority the most senior eligible agent is preferred first.
    """
    eligible = [a for a in agents if a.reachable(now_ms) and a.serves(entry.group_id) and a.free > 0]
    if not eligible:
        return None

    def normal(a: AgentState) -> tuple[int, int, str]:
        return (a.load, a.last_assigned_at, a.agent_id)

    if entry.priority in HIGH_PRIORITIES:
        return min(eligible, key=lambda a: (-a.seniority, *normal(a)))
    return min(eligible, key=normal)


def draw_agent(agents: Iterable[AgentState], entry: QueueEntry, now_ms: int, rng: random.Random) -> AgentState | None:
    """An agent who could take `entry`, drawn at random weighted by free places (None if
    nobody eligible has room). For a new conversation whose first choice (`choose_agent`)
    refused it because it had filled up since it was read: in a burst many handlers read
    the same agents at once and would all choose the same next one; drawn, they spread.
    Urgent and high priority draw among the most senior of them, as `choose_agent` prefers."""
    eligible = [a for a in agents if a.reachable(now_ms) and a.serves(entry.group_id) and a.free > 0]
    if eligible and entry.priority in HIGH_PRIORITIES:
        senior = max(a.seniority for a in eligible)
        eligible = [a for a in eligible if a.seniority == senior]
    return rng.choices(eligible, weights=[a.free for a in eligible])[0] if eligible else None


def plan_assignments(entries: Sequence[QueueEntry], agents: Sequence[AgentState],
                     now_ms: int) -> list[tuple[QueueEntry, AgentState]]:
    """Walk the queue in order and give each entry an agent while anyone has room.

    Loads are counted up as the plan grows (on copies), so one round spreads the queue
    over the agents exactly as one-at-a-time dispatch would. An entry nobody can take
    does not block entries behind it for other groups.
    """
    planned: list[tuple[QueueEntry, AgentState]] = []
    working = {a.agent_id: AgentState(**vars(a)) for a in agents}
    for entry in queue_order(entries):
        agent = choose_agent(working.values(), entry, now_ms)
        if agent is None:
            continue
        planned.append((entry, agents_by_id(agents)[agent.agent_id]))
        agent.load += 1
        agent.last_assigned_at = now_ms
    return planned


def agents_by_id(agents: Iterable[AgentState]) -> dict[str, AgentState]:
    return {a.agent_id: a for a in agents}


def anyone_reachable(agents: Iterable[AgentState], group_id: str | None, now_ms: int) -> bool:
    """Is there any agent who could take this conversation eventually (capacity aside)?"""
    return any(a.reachable(now_ms) and a.serves(group_id) for a in agents)


def expected_wait_ms(position: int, agents: Iterable[AgentState], group_id: str | None, now_ms: int,
                     handle_ms: int = DEFAULT_HANDLE_MS) -> int:
    """A rough expected wait for the conversation at `position` (1 = next).

    Each of the group's reachable agents frees a slot about every `handle_ms / capacity`
    (their conversations end at staggered times), so the queue moves at the sum of their
    capacities per `handle_ms`.
    """
    slots = sum(a.capacity for a in agents if a.reachable(now_ms) and a.serves(group_id))
    if slots <= 0:
        return 0
    return int(position * handle_ms / slots)


# ---------------------------------------------------------------- business hours

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


@dataclass(frozen=True)
class BusinessHours:
    """Opening windows per weekday in the tenant's time zone; an empty day is closed."""

    timezone: str
    windows: dict[str, tuple[tuple[str, str], ...]]

    def validate(self) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidRule(f"unknown time zone {self.timezone!r}") from None
        for day, spans in self.windows.items():
            if day not in DAYS:
                raise InvalidRule(f"days are {', '.join(DAYS)}")
            for start, end in spans:
                if not (_HHMM.match(start) and _HHMM.match(end)) or start >= end:
                    raise InvalidRule("windows are [\"HH:MM\", \"HH:MM\"] with start before end")

    def is_open(self, now_ms: int) -> bool:
        from zoneinfo import ZoneInfo

        local = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).astimezone(ZoneInfo(self.timezone))
        day = DAYS[local.weekday()]
        hhmm = local.strftime("%H:%M")
        return any(start <= hhmm < end for start, end in self.windows.get(day, ()))


# ---------------------------------------------------------------- mentions

_MENTION = re.compile(r"(?<![\w@])@([\w.\-]{1,64})", re.UNICODE)


def mentioned(text: str, agents: Iterable[tuple[str, str, str]]) -> list[str]:
    """Agent ids @mentioned in an internal note. `agents` are (agent_id, display name,
    email); `@Alice` or `@alice` (display name without spaces) or `@alice.smith`
    (the email's local part) both match."""
    handles = {h.lower().rstrip(".") for h in _MENTION.findall(text)}
    if not handles:
        return []
    found = []
    for agent_id, name, email in agents:
        names = {name.lower().replace(" ", ""), email.split("@", 1)[0].lower()}
        if handles & names:
            found.append(agent_id)
    return found
