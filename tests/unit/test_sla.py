"""The deadline calculator: business hours across weekends, nights and daylight-saving
changes, with fixed instants (no clock involved)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.sla import (
    HOUR_MS,
    MINUTE_MS,
    BusinessHours,
    Deadlines,
    InvalidPolicy,
    Priority,
    SlaPolicy,
    SlaStatus,
    SlaTarget,
    add_business_time,
    business_time_between,
    pause,
    resume,
    start_clock,
)

NY = "America/New_York"
BERLIN = "Europe/Berlin"


def at(zone: str, *parts: int) -> int:
    return int(dt.datetime(*parts, tzinfo=ZoneInfo(zone)).timestamp() * 1000)  # type: ignore[misc]


def utc(*parts: int) -> int:
    return int(dt.datetime(*parts, tzinfo=dt.timezone.utc).timestamp() * 1000)  # type: ignore[misc]


OFFICE = BusinessHours.weekdays(NY, "09:00", "17:00")


def test_without_business_hours_it_is_plain_addition() -> None:
    assert add_business_time(1_000, 5 * HOUR_MS, None) == 1_000 + 5 * HOUR_MS
    assert business_time_between(1_000, 500, None) == 0


def test_inside_one_day() -> None:
    # Tuesday 2026-11-24 10:00 + 3 h = 13:00 the same day
    assert add_business_time(at(NY, 2026, 11, 24, 10), 3 * HOUR_MS, OFFICE) == at(NY, 2026, 11, 24, 13)


def test_spills_over_the_night() -> None:
    # Tuesday 16:00 + 2 h: one hour today, one from Wednesday 09:00
    assert add_business_time(at(NY, 2026, 11, 24, 16), 2 * HOUR_MS, OFFICE) == at(NY, 2026, 11, 25, 10)


def test_before_opening_starts_at_opening() -> None:
    assert add_business_time(at(NY, 2026, 11, 24, 6), 30 * MINUTE_MS, OFFICE) == at(NY, 2026, 11, 24, 9, 30)


def test_skips_the_weekend() -> None:
    # Friday 2026-11-27 16:30 + 1 h → Monday 09:30
    assert add_business_time(at(NY, 2026, 11, 27, 16, 30), HOUR_MS, OFFICE) == at(NY, 2026, 11, 30, 9, 30)
    # Saturday counts nothing
    assert add_business_time(at(NY, 2026, 11, 28, 12), HOUR_MS, OFFICE) == at(NY, 2026, 11, 30, 10)


def test_weekend_spanning_spring_forward() -> None:
    """US clocks go forward on Sunday 2026-03-08: Monday 10:00 is 14:00 UTC, not 15:00."""
    due = add_business_time(at(NY, 2026, 3, 6, 16), 2 * HOUR_MS, OFFICE)
    assert due == utc(2026, 3, 9, 14)
    assert due == at(NY, 2026, 3, 9, 10)


def test_weekend_spanning_fall_back() -> None:
    """US clocks go back on Sunday 2026-11-01: Monday 10:00 EST is 15:00 UTC."""
    due = add_business_time(at(NY, 2026, 10, 30, 16), 2 * HOUR_MS, OFFICE)
    assert due == utc(2026, 11, 2, 15)


def test_a_round_the_clock_calendar_counts_real_hours_across_dst() -> None:
    always = BusinessHours(NY, {d: (("00:00", "24:00"),) for d in range(7)})
    start = at(NY, 2026, 3, 7, 12)
    assert add_business_time(start, 24 * HOUR_MS, always) == start + 24 * HOUR_MS
    # The spring-forward day has 23 hours, the fall-back day 25.
    assert business_time_between(at(NY, 2026, 3, 8), at(NY, 2026, 3, 9), always) == 23 * HOUR_MS
    assert business_time_between(at(NY, 2026, 11, 1), at(NY, 2026, 11, 2), always) == 25 * HOUR_MS


def test_night_shift_through_the_repeated_hour() -> None:
    """EU clocks go back at 03:00 on 2026-10-25: 00:00-04:00 local that night is 5 real hours."""
    nights = BusinessHours(BERLIN, {6: (("00:00", "04:00"),)})
    assert business_time_between(utc(2026, 10, 24), utc(2026, 10, 26), nights) == 5 * HOUR_MS
    # The deadline 4.5 h into that shift lands on the next Sunday night.
    due = add_business_time(at(BERLIN, 2026, 10, 25, 0), 5 * HOUR_MS + 30 * MINUTE_MS, nights)
    assert due == at(BERLIN, 2026, 11, 1, 0, 30)


def test_split_days_and_lunch_break() -> None:
    lunch = BusinessHours("Asia/Shanghai", {d: (("09:00", "12:00"), ("13:00", "18:00")) for d in range(5)})
    # Monday 2026-11-23 11:30 + 1 h → 13:30 (the lunch hour does not count)
    assert add_business_time(at("Asia/Shanghai", 2026, 11, 23, 11, 30), HOUR_MS, lunch) == \
        at("Asia/Shanghai", 2026, 11, 23, 13, 30)


@pytest.mark.parametrize("start_hour", [0, 8, 9, 12, 16, 17, 23])
@pytest.mark.parametrize("day", [2, 6, 7, 8, 9])  # Mon 2 .. Mon 9 March 2026, DST on the 8th
@pytest.mark.parametrize("hours", [0, 1, 7, 8, 9, 30])
def test_between_is_the_inverse_of_add(day: int, start_hour: int, hours: int) -> None:
    start = at(NY, 2026, 3, day, start_hour)
    due = add_business_time(start, hours * HOUR_MS, OFFICE)
    assert business_time_between(start, due, OFFICE) == hours * HOUR_MS
    assert due >= start


def test_bad_calendars_are_refused() -> None:
    with pytest.raises(InvalidPolicy):
        BusinessHours("Mars/Olympus", {0: (("09:00", "17:00"),)})
    with pytest.raises(InvalidPolicy):
        BusinessHours(NY, {0: (("17:00", "09:00"),)})
    with pytest.raises(InvalidPolicy):
        BusinessHours(NY, {0: (("09:00", "12:00"), ("11:00", "13:00"))})
    with pytest.raises(InvalidPolicy):
        BusinessHours(NY, {})
    with pytest.raises(InvalidPolicy):
        BusinessHours(NY, {7: (("09:00", "17:00"),)})


POLICY = SlaPolicy({
    Priority.NORMAL: SlaTarget(4 * HOUR_MS, 8 * HOUR_MS, 16 * HOUR_MS, business_hours=True),
    Priority.URGENT: SlaTarget(15 * MINUTE_MS, 30 * MINUTE_MS, 2 * HOUR_MS),
}, business_hours=OFFICE)


def test_policy_round_trips_through_its_dict() -> None:
    assert SlaPolicy.from_dict(POLICY.to_dict()) == POLICY


def test_a_policy_counting_business_hours_needs_a_calendar() -> None:
    data = POLICY.to_dict()
    data["business_hours"] = None
    with pytest.raises(InvalidPolicy):
        SlaPolicy.from_dict(data)


def test_clock_of_a_new_ticket_counts_business_hours_per_priority() -> None:
    friday_4pm = at(NY, 2026, 3, 6, 16)
    normal = start_clock(POLICY, Priority.NORMAL, friday_4pm)
    assert normal.first_response_due == at(NY, 2026, 3, 9, 12)
    assert normal.resolution_due == at(NY, 2026, 3, 10, 16)  # 1 h Fri, 8 h Mon, 7 h Tue
    urgent = start_clock(POLICY, Priority.URGENT, friday_4pm)  # round the clock
    assert urgent.first_response_due == friday_4pm + 15 * MINUTE_MS
    assert start_clock(POLICY, Priority.LOW, friday_4pm) == Deadlines()  # no target


def test_pause_keeps_the_resolution_time_left_and_resume_continues_it() -> None:
    start = at(NY, 2026, 11, 24, 9)
    deadlines = Deadlines(first_response_due=start + HOUR_MS, resolution_due=at(NY, 2026, 11, 25, 13))
    paused = pause(deadlines, OFFICE, at(NY, 2026, 11, 24, 15))
    assert paused == Deadlines(resolution_left_ms=6 * HOUR_MS)  # 2 h today, 4 h tomorrow
    assert paused.next() is None
    resumed = resume(paused, OFFICE, at(NY, 2026, 11, 27, 16))  # Friday 16:00
    assert resumed.resolution_due == at(NY, 2026, 11, 30, 14)  # 1 h Friday, 5 h Monday


def test_sla_status_flags() -> None:
    deadlines = Deadlines(first_response_due=10 * MINUTE_MS, resolution_due=HOUR_MS)
    assert SlaStatus.of(deadlines, 0) == SlaStatus("first_response", 10 * MINUTE_MS, False, True)
    assert SlaStatus.of(deadlines, 10 * MINUTE_MS).breached
    assert not SlaStatus.of(deadlines, 0, warn_ms=MINUTE_MS).about_to_breach


def test_priority_raises_one_level() -> None:
    assert [p.raised() for p in Priority] == [Priority.NORMAL, Priority.HIGH, Priority.URGENT, Priority.URGENT]


def test_routing_s_opening_hours_convert_to_a_calendar() -> None:
    hours = BusinessHours.from_day_windows(NY, {"mon": [["09:00", "17:00"]], "sat": [], "xyz": [["1", "2"]]})
    assert hours == BusinessHours(NY, {0: (("09:00", "17:00"),)})
