"""Token-bucket rate limiting computed from plain data, stored by the caller.

The bucket's state lives on the conversation item and is written in the same conditional
transaction as the message, so parallel Lambdas cannot both spend the last token.
"""
from __future__ import annotations

from dataclasses import dataclass

from .model import RateState


@dataclass(frozen=True)
class RateLimit:
    burst: int  # messages that may be sent at once
    per_second: float  # steady refill rate

    def take(self, state: RateState | None, now_ms: int) -> tuple[bool, RateState, int]:
        """Try to spend one token.

        Returns
        -------
        (allowed, new_state, retry_after_ms)
            `new_state` is what to store when allowed; `retry_after_ms` is when one token
            will be available again if not.
        """
        if state is None:
            tokens = float(self.burst)
        else:
            elapsed = max(0, now_ms - state.updated_ms) / 1000.0
            tokens = min(float(self.burst), state.tokens + elapsed * self.per_second)
        if tokens >= 1.0:
            return True, RateState(tokens=tokens - 1.0, updated_ms=now_ms), 0
        wait_ms = int((1.0 - tokens) / self.per_second * 1000) + 1
        return False, RateState(tokens=tokens, updated_ms=now_ms), wait_ms


# Frames other than message.send that a visitor may send, by cost: "chatter" touches no
# table or only reads; "profile" writes the visitor's profile.
FRAME_CLASSES = {
    "typing": "chatter", "read": "chatter", "ping": "chatter", "sync": "chatter", "hello": "chatter",
    "page.view": "profile", "identify": "profile",
}
DEFAULT_FRAME_LIMITS = {"chatter": RateLimit(burst=40, per_second=5.0), "profile": RateLimit(burst=15, per_second=0.5)}


class FrameLimiter:
    """Token buckets per visitor connection for the frames that are not messages.

    Kept in the container's memory (an LRU of connections), not in DynamoDB: these frames
    are frequent and cheap, and a write per typing indicator would cost more than what it
    protects. A connection whose frames spread over several containers gets each
    container's allowance, so the bound is per container; messages, which are stored, have
    the shared bucket on the conversation item.
    """

    def __init__(self, limits: dict[str, RateLimit] | None = None, max_connections: int = 10_000) -> None:
        import threading
        from collections import OrderedDict

        self._limits = limits or DEFAULT_FRAME_LIMITS
        self._states: OrderedDict[tuple[str, str], RateState] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_connections

    def take(self, connection_id: str, action: str, now_ms: int) -> int:
        """0 when the frame may go ahead, else the milliseconds until it may."""
        kind = FRAME_CLASSES.get(action)
        if kind is None:
            return 0
        key = (connection_id, kind)
        with self._lock:
            allowed, state, wait_ms = self._limits[kind].take(self._states.get(key), now_ms)
            self._states[key] = state
            self._states.move_to_end(key)
            while len(self._states) > self._max:
                self._states.popitem(last=False)
        return 0 if allowed else wait_ms

    def forget(self, connection_id: str) -> None:
        with self._lock:
            for kind in self._limits:
                self._states.pop((connection_id, kind), None)
