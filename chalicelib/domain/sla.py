"""SLA policies, business hours and the escalation ladder: plain data and pure functions.

Deadlines are computed from an injected "now" (epoch milliseconds), so they are unit-tested
with a fixed clock. Business hours are a weekly calendar in an IANA time zone; the standard
library's `zoneinfo` turns each day's local opening hours into UTC instants, so weekends,
holidays-by-omission and daylight-saving changes are counted correctly.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidFrame

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
MAX_SEARCH_DAYS = 800  # a calendar with no open hour in two years is a configuration error


class Priority(str, Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    def raised(self) -> "Priority":
        """One level up (urgent stays urgent)."""
        order = list(Priority)
        return order[min(order.index(self) + 1, len(order) - 1)]


class InvalidPolicy(InvalidFrame):
    code = "invalid_policy"


def _minutes(text: str) -> int:
    """ "09:30" → 570; "24:00" is the end of the day."""
    try:
        hours, minutes = text.split(":")
        value = int(hours) * 60 + int(minutes)
    except ValueError:
        raise InvalidPolicy(f"{text!r} is not a HH:MM time") from None
    if not 0 <= value <= 24 * 60 or not 0 <= int(minutes) < 60:
        raise InvalidPolicy(f"{text!r} is not a time of day")
    return value


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours per weekday (0 = Monday) as (start, end) "HH:MM" pairs, local to `timezone`.

    A day missing from `week` (or with no intervals) is closed. Intervals of one day must
    not overlap; "24:00" ends a day.
    """

    timezone: str
    week: dict[int, tuple[tuple[str, str], ...]]

    def __post_init__(self) -> None:
        _zone(self.timezone)
        for day, intervals in self.week.items():
            if day not in range(7):
                raise InvalidPolicy(f"weekday {day} is not 0 (Monday) .. 6 (Sunday)")
            previous_end = -1
            for start, end in sorted(intervals, key=lambda i: _minutes(i[0])):
                if _minutes(start) >= _minutes(end) or _minutes(start) < previous_end:
                    raise InvalidPolicy(f"bad opening hours {start}-{end} on weekday {day}")
                previous_end = _minutes(end)
        if not any(self.week.values()):
            raise InvalidPolicy("business hours must open at least once a week")

    @classmethod
    def weekdays(cls, timezone: str, start: str = "09:00", end: str = "18:00") -> "BusinessHours":
        return cls(timezone, {day: ((start, end),) for day in range(5)})

    @classmethod
    def from_day_windows(cls, timezone: str, windows: dict[str, Any]) -> "BusinessHours":
        """From routing's opening hours ({"mon": [["09:00", "18:00"]], ...}), so a tenant keeps
        one calendar for when chat is open and for what its SLA counts."""
        days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        return cls(timezone, {days.index(d): tuple((str(a), str(b)) for a, b in spans)
                              for d, spans in windows.items() if d in days and spans})

    def to_dict(self) -> dict[str, Any]:
        return {"timezone": self.timezone,
                "week": {str(d): [list(i) for i in iv] for d, iv in sorted(self.week.items())}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BusinessHours":
        week = {int(d): tuple((str(s), str(e)) for s, e in iv) for d, iv in dict(data["week"]).items()}
        return cls(str(data["timezone"]), week)

    def open_intervals(self, day: dt.date) -> list[tuple[int, int]]:
        """The day's opening hours as UTC epoch-millisecond intervals, in order."""
        zone = _zone(self.timezone)
        result = []
        for start, end in sorted(self.week.get(day.weekday(), ()), key=lambda i: _minutes(i[0])):
            result.append((_local_ms(day, _minutes(start), zone), _local_ms(day, _minutes(end), zone)))
        return result


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidPolicy(f"unknown time zone {name!r}") from None


def _local_ms(day: dt.date, minute_of_day: int, zone: ZoneInfo) -> int:
    """The UTC instant of a local wall-clock time. A time skipped by a DST change (02:30 on
    a spring-forward day) maps to the instant an hour later, as clocks show it."""
    if minute_of_day == 24 * 60:
        day, minute_of_day = day + dt.timedelta(days=1), 0
    local = dt.datetime.combine(day, dt.time(minute_of_day // 60, minute_of_day % 60), tzinfo=zone)
    return int(local.timestamp() * 1000)


def _day_of(ms: int, zone: ZoneInfo) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, tz=zone).date()


def add_business_time(start_ms: int, duration_ms: int, hours: BusinessHours | None) -> int:
    """The instant `duration_ms` of (business) time after `start_ms`.

    Without business hours this is plain addition. With them, only time inside opening
    hours counts: a deadline of 2 h set on Friday at 17:00 (closing 18:00) falls on Monday
    at 10:00 local time, whatever daylight-saving change happened over the weekend.
    """
    if duration_ms < 0:
        raise ValueError("duration must not be negative")
    if hours is None:
        return start_ms + duration_ms
    zone = _zone(hours.timezone)
    remaining = duration_ms
    day = _day_of(start_ms, zone) - dt.timedelta(days=1)  # an interval may start the day before
    for _ in range(MAX_SEARCH_DAYS):
        for open_ms, close_ms in hours.open_intervals(day):
            begin = max(open_ms, start_ms)
            if begin >= close_ms:
                continue
            if begin + remaining <= close_ms:
                return begin + remaining
            remaining -= close_ms - begin
        day += dt.timedelta(days=1)
    raise InvalidPolicy("business hours never open")


def business_time_between(start_ms: int, end_ms: int, hours: BusinessHours | None) -> int:
    """Milliseconds of (business) time from `start_ms` to `end_ms` (0 if end is not later)."""
    if end_ms <= start_ms:
        return 0
    if hours is None:
        return end_ms - start_ms
    zone = _zone(hours.timezone)
    total = 0
    day = _day_of(start_ms, zone) - dt.timedelta(days=1)
    last = _day_of(end_ms, zone)
    while day <= last:
        for open_ms, close_ms in hours.open_intervals(day):
            total += max(0, min(close_ms, end_ms) - max(open_ms, start_ms))
        day += dt.timedelta(days=1)
    return total


# ------------------------------------------------------------------ policies


@dataclass(frozen=True)
class SlaTarget:
    """Targets of one priority, in milliseconds of (business) time; 0 means no target."""

    first_response_ms: int
    next_response_ms: int
    resolution_ms: int
    business_hours: bool = False  # count only the policy's business hours


class EscalationAction(str, Enum):
    NOTIFY_ASSIGNEE = "notify_assignee"
    RAISE_PRIORITY = "raise_priority"  # and notify the group's supervisors
    REASSIGN = "reassign"  # to the escalation group


@dataclass(frozen=True)
class EscalationStep:
    """One rung of the ladder: what happens, and how long after the previous rung
    (the first rung's delay counts from the breached deadline)."""

    action: EscalationAction
    after_ms: int = 0


DEFAULT_LADDER = (
    EscalationStep(EscalationAction.NOTIFY_ASSIGNEE, 0),
    EscalationStep(EscalationAction.RAISE_PRIORITY, 30 * MINUTE_MS),
    EscalationStep(EscalationAction.REASSIGN, 60 * MINUTE_MS),
)


@dataclass(frozen=True)
class SlaPolicy:
    """A tenant's SLA: targets per priority, optional business hours, the escalation ladder
    and the group breached tickets are finally handed to."""

    targets: dict[Priority, SlaTarget]
    business_hours: BusinessHours | None = None
    ladder: tuple[EscalationStep, ...] = DEFAULT_LADDER
    escalation_group: str = "escalations"

    def target(self, priority: Priority) -> SlaTarget:
        return self.targets.get(priority) or SlaTarget(0, 0, 0)

    def hours_for(self, priority: Priority) -> BusinessHours | None:
        return self.business_hours if self.target(priority).business_hours else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "targets": {p.value: {"first_response_ms": t.first_response_ms, "next_response_ms": t.next_response_ms,
                                  "resolution_ms": t.resolution_ms, "business_hours": t.business_hours}
                        for p, t in self.targets.items()},
            "business_hours": self.business_hours.to_dict() if self.business_hours else None,
            "ladder": [{"action": s.action.value, "after_ms": s.after_ms} for s in self.ladder],
            "escalation_group": self.escalation_group,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SlaPolicy":
        try:
            targets = {Priority(p): SlaTarget(int(t["first_response_ms"]), int(t["next_response_ms"]),
                                              int(t["resolution_ms"]), bool(t.get("business_hours", False)))
                       for p, t in dict(data["targets"]).items()}
            hours = BusinessHours.from_dict(data["business_hours"]) if data.get("business_hours") else None
            ladder = tuple(EscalationStep(EscalationAction(s["action"]), int(s.get("after_ms", 0)))
                           for s in data.get("ladder") or [])
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidPolicy(f"invalid SLA policy: {error}") from None
        if any(t.business_hours for t in targets.values()) and hours is None:
            raise InvalidPolicy("targets count business hours but the policy has none")
        if any(min(t.first_response_ms, t.next_response_ms, t.resolution_ms) < 0 for t in targets.values()):
            raise InvalidPolicy("targets must not be negative")
        return cls(targets, hours, ladder or DEFAULT_LADDER, str(data.get("escalation_group") or "escalations"))


DEFAULT_POLICY = SlaPolicy({
    Priority.URGENT: SlaTarget(15 * MINUTE_MS, 30 * MINUTE_MS, 4 * HOUR_MS),
    Priority.HIGH: SlaTarget(HOUR_MS, 2 * HOUR_MS, 8 * HOUR_MS),
    Priority.NORMAL: SlaTarget(4 * HOUR_MS, 8 * HOUR_MS, 48 * HOUR_MS),
    Priority.LOW: SlaTarget(24 * HOUR_MS, 24 * HOUR_MS, 120 * HOUR_MS),
})


@dataclass
class Deadlines:
    """A ticket's SLA clock: each due instant (None = no target or met) and, while paused,
    how much resolution time was left."""

    first_response_due: int | None = None
    next_response_due: int | None = None
    resolution_due: int | None = None
    resolution_left_ms: int | None = None  # set while the clock is paused (pending / on hold)

    def next(self) -> tuple[str, int] | None:
        """The earliest running deadline as (kind, instant)."""
        running = [(due, kind) for kind, due in (("first_response", self.first_response_due),
                                                  ("next_response", self.next_response_due),
                                                  ("resolution", self.resolution_due)) if due is not None]
        if not running:
            return None
        due, kind = min(running)
        return kind, due


def _due(start_ms: int, target_ms: int, hours: BusinessHours | None) -> int | None:
    return add_business_time(start_ms, target_ms, hours) if target_ms > 0 else None


def start_clock(policy: SlaPolicy, priority: Priority, created_ms: int) -> Deadlines:
    """Deadlines of a new ticket: first response and resolution, counted from creation."""
    target, hours = policy.target(priority), policy.hours_for(priority)
    return Deadlines(first_response_due=_due(created_ms, target.first_response_ms, hours),
                     resolution_due=_due(created_ms, target.resolution_ms, hours))


def reprioritise(policy: SlaPolicy, deadlines: Deadlines, priority: Priority, created_ms: int,
                 awaiting_since_ms: int | None, responded: bool, now_ms: int) -> Deadlines:
    """Deadlines after a priority change: the new priority's targets, counted from when
    each clock started (creation, or the customer's unanswered message)."""
    target, hours = policy.target(priority), policy.hours_for(priority)
    paused = deadlines.resolution_left_ms is not None
    result = Deadlines()
    if not responded:
        result.first_response_due = _due(created_ms, target.first_response_ms, hours)
    elif awaiting_since_ms is not None:
        result.next_response_due = _due(awaiting_since_ms, target.next_response_ms, hours)
    if target.resolution_ms > 0:
        if paused:
            # still paused: no more time left than the new target allows
            result.resolution_left_ms = min(deadlines.resolution_left_ms or 0, target.resolution_ms)
        else:
            result.resolution_due = _due(created_ms, target.resolution_ms, hours)
    if paused:
        result.first_response_due = result.next_response_due = None
    return result


def pause(deadlines: Deadlines, hours: BusinessHours | None, now_ms: int) -> Deadlines:
    """Pending on the customer / on hold: response clocks stop, resolution time left is kept."""
    left = None
    if deadlines.resolution_due is not None:
        left = business_time_between(now_ms, deadlines.resolution_due, hours)
    return Deadlines(resolution_left_ms=left if left is not None else None)


def resume(deadlines: Deadlines, hours: BusinessHours | None, now_ms: int) -> Deadlines:
    """Back to open: the resolution clock runs on with the time that was left."""
    if deadlines.resolution_left_ms is None:
        return Deadlines(deadlines.first_response_due, deadlines.next_response_due, deadlines.resolution_due)
    return Deadlines(resolution_due=add_business_time(now_ms, deadlines.resolution_left_ms, hours))


@dataclass(frozen=True)
class SlaStatus:
    """Where a ticket stands against its next deadline, for lists and filters."""

    kind: str | None
    due_at: int | None
    breached: bool
    about_to_breach: bool

    @classmethod
    def of(cls, deadlines: Deadlines, now_ms: int, warn_ms: int = 30 * MINUTE_MS) -> "SlaStatus":
        nxt = deadlines.next()
        if nxt is None:
            return cls(None, None, False, False)
        kind, due = nxt
        return cls(kind, due, now_ms >= due, now_ms < due <= now_ms + warn_ms)


@dataclass
class LadderPosition:
    """What the timer should do next: apply `step` (1-based) at `at_ms`, or stop (None)."""

    step: int | None
    at_ms: int | None
    actions: list[EscalationAction] = field(default_factory=list)


def ladder_position(policy: SlaPolicy, breached_at_ms: int, steps_done: int) -> LadderPosition:
    """The next rung after `steps_done` rungs of a deadline breached at `breached_at_ms`."""
    if steps_done >= len(policy.ladder):
        return LadderPosition(None, None)
    at = breached_at_ms + sum(s.after_ms for s in policy.ladder[: steps_done + 1])
    return LadderPosition(steps_done + 1, at, [policy.ladder[steps_done].action])


def wake_timestamp(ms: int) -> str:
    """An ISO-8601 UTC timestamp for a Wait state's TimestampPath, rounded up to the second
    (so the wait never ends before the deadline)."""
    seconds = -(-ms // 1000)
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
