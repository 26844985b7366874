"""H6: a visitor's frames other than messages are rate limited per connection."""
from __future__ import annotations

from chalicelib.domain.ratelimit import FrameLimiter, RateLimit


def test_a_burst_of_typing_frames_is_cut_and_refills() -> None:
    limiter = FrameLimiter({"chatter": RateLimit(burst=3, per_second=1.0), "profile": RateLimit(1, 1.0)})
    assert [limiter.take("c1", "typing", 0) for _ in range(4)] == [0, 0, 0, 1001]
    assert limiter.take("c1", "typing", 1_100) == 0  # one token back after a second


def test_connections_and_frame_kinds_have_their_own_buckets() -> None:
    limiter = FrameLimiter({"chatter": RateLimit(burst=1, per_second=1.0), "profile": RateLimit(1, 1.0)})
    assert limiter.take("c1", "typing", 0) == 0
    assert limiter.take("c1", "read", 0) > 0  # typing and read share the chatter bucket
    assert limiter.take("c1", "page.view", 0) == 0
    assert limiter.take("c2", "typing", 0) == 0
    assert limiter.take("c1", "message.send", 0) == 0  # messages have their own, stored bucket


def test_forgetting_a_connection_and_the_lru_bound() -> None:
    limiter = FrameLimiter({"chatter": RateLimit(burst=1, per_second=0.001), "profile": RateLimit(1, 1.0)},
                           max_connections=2)
    limiter.take("c1", "typing", 0)
    limiter.forget("c1")
    assert limiter.take("c1", "typing", 0) == 0
    limiter.take("c2", "typing", 0)
    limiter.take("c3", "typing", 0)  # pushes c1 out of the LRU: it starts full again
    assert limiter.take("c1", "typing", 0) == 0
