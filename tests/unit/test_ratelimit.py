"""The visitor's token bucket: burst, refill, retry hints, and the long-run bound."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.model import RateState
from chalicelib.domain.ratelimit import RateLimit

T0 = 1_700_000_000_000


def test_a_fresh_bucket_allows_exactly_the_burst_at_once() -> None:
    limit = RateLimit(burst=3, per_second=1.0)
    state = None
    results = []
    for _ in range(4):
        allowed, new_state, _ = limit.take(state, T0)
        results.append(allowed)
        if allowed:
            state = new_state
    assert results == [True, True, True, False]


def test_refill_gives_back_tokens_at_the_steady_rate_but_never_beyond_burst() -> None:
    limit = RateLimit(burst=2, per_second=0.5)  # one token every 2 s
    empty = RateState(tokens=0.0, updated_ms=T0)
    assert limit.take(empty, T0 + 1_999)[0] is False
    allowed, state, _ = limit.take(empty, T0 + 2_000)
    assert allowed and state.tokens == 0.0
    # A long pause refills to the burst, not past it.
    allowed, state, _ = limit.take(empty, T0 + 3_600_000)
    assert allowed and state.tokens == 1.0


def test_retry_after_is_when_one_token_is_back() -> None:
    limit = RateLimit(burst=5, per_second=2.0)  # a token every 500 ms
    allowed, state, retry = limit.take(RateState(tokens=0.25, updated_ms=T0), T0)
    assert not allowed
    assert 375 <= retry <= 377  # (1 - 0.25) / 2 s, rounded up
    assert limit.take(state, T0 + retry)[0] is True
    assert limit.take(state, T0 + retry - 5)[0] is False


def test_a_refused_take_spends_nothing_and_keeps_the_state_storable() -> None:
    limit = RateLimit(burst=1, per_second=1.0)
    allowed, state, retry = limit.take(RateState(tokens=0.4, updated_ms=T0), T0 + 100)
    assert not allowed and retry > 0
    assert abs(state.tokens - 0.5) < 1e-9 and state.updated_ms == T0 + 100


def test_a_clock_going_backwards_does_not_mint_or_burn_tokens() -> None:
    limit = RateLimit(burst=4, per_second=1.0)
    allowed, state, _ = limit.take(RateState(tokens=1.5, updated_ms=T0), T0 - 10_000)
    assert allowed and state.tokens == 0.5


@settings(max_examples=100, deadline=None)
@given(
    burst=st.integers(min_value=1, max_value=20),
    per_second=st.floats(min_value=0.05, max_value=20.0),
    gaps=st.lists(st.integers(min_value=0, max_value=3_000), min_size=1, max_size=80),
    window_ms=st.integers(min_value=1, max_value=60_000),
    store_refusals=st.booleans(),
)
def test_in_any_window_at_most_burst_plus_rate_times_window_pass(
    burst: int, per_second: float, gaps: list[int], window_ms: int, store_refusals: bool
) -> None:
    limit = RateLimit(burst=burst, per_second=per_second)
    state, now, passed = None, T0, []
    for gap in gaps:
        now += gap
        allowed, new_state, retry = limit.take(state, now)
        assert new_state.tokens >= 0.0
        assert new_state.tokens <= burst
        assert retry >= 0 and (retry > 0) == (not allowed)
        if allowed:
            passed.append(now)
        if allowed or store_refusals:  # the service stores only with a message; either must hold
            state = new_state
    for i, start in enumerate(passed):
        in_window = sum(1 for t in passed[i:] if t - start <= window_ms)
        assert in_window <= burst + per_second * window_ms / 1000.0 + 1e-9
