"""Entry points that are not HTTP or WebSocket: the Step Functions tasks and the
knowledge base's vectors job."""
from __future__ import annotations

import logging
import time
from typing import Any

from ..bootstrap import services

log = logging.getLogger("kefu.jobs")
# The vectors job stops computing this long before its function's time is up, stores what it
# has and starts itself again for the rest.
VECTORS_RESERVE_MS = 20_000


def sla_check(event: dict[str, Any]) -> dict[str, Any]:
    """The SLA state machine's CheckTicket task (infra/statemachines/sla.asl.json)."""
    return services().tickets.sla_tick(event)  # type: ignore[no-any-return]


def kb_vectors(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The kb_vectors function, started (asynchronously) by an import that ran out of time
    for its articles' vectors: computes and stores them, and invokes itself again while
    some are left."""
    tenant_id = str(event.get("tenant_id") or "")
    if not tenant_id:
        return {"stored": 0, "error": "tenant_id missing"}
    ids = event.get("article_ids")  # the import's own articles; absent: every article lacking them
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        return {"stored": 0, "error": "article_ids must be a list of ids"}
    remaining_ms = context.get_remaining_time_in_millis() if context is not None else 60_000
    deadline = time.monotonic() + max(remaining_ms - VECTORS_RESERVE_MS, 1_000) / 1000
    svc = services()
    stored, left = svc.knowledge.fill_vectors(tenant_id, deadline, ids)
    if left:
        svc.vectors_job.request(tenant_id, left)
    log.info("vectors stored for %s: %d, %d left for the next invocation", tenant_id, stored, len(left))
    return {"stored": stored, "left": len(left)}
