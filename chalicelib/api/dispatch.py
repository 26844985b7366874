"""The dispatch function's entry point: an asynchronous invoke carrying a tenant id."""
from __future__ import annotations

from typing import Any

from ..bootstrap import services


def on_invoke(event: dict[str, Any]) -> dict[str, Any]:
    """Serve the tenant's queue. `conversation_ids` are conversations just queued (read
    directly, in case the queue index lags), just created if `new` is true (the dispatcher
    tells the agents about them), created assigned with nobody waiting if `born_assigned`
    is true (telling is all there is to do); `callback_url` is the @connections endpoint of the
    WebSocket API whose handler asked (dispatch posts queue positions and assignments)."""
    svc = services()
    tenant_id = str(event.get("tenant_id") or "")
    if not tenant_id:
        return {"assigned": 0, "error": "tenant_id missing"}
    callback = event.get("callback_url")
    if isinstance(callback, str) and callback.startswith(("https://", "http://")):
        svc.gateway.configure_endpoint(callback)
    hints = [str(c) for c in (event.get("conversation_ids") or [])][:50]
    try:
        new = event.get("new") is True
        result = svc.routing.dispatch(tenant_id, hints, news=hints if new else None,
                                      only_news=new and event.get("born_assigned") is True)
    finally:
        svc.metrics.flush()
    return {"assigned": result.assigned, "rounds": result.rounds, "leased": result.leased}
