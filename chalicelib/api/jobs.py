"""Entry points that are not HTTP or WebSocket: the Step Functions tasks."""
from __future__ import annotations

from typing import Any

from ..bootstrap import services


def sla_check(event: dict[str, Any]) -> dict[str, Any]:
    """The SLA state machine's CheckTicket task (infra/statemachines/sla.asl.json)."""
    return services().tickets.sla_tick(event)  # type: ignore[no-any-return]
