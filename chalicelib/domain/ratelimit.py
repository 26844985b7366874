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
