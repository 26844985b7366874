"""WebSocket entry points: parse the API Gateway event, call one service method."""
from __future__ import annotations

from typing import Any

from ..adapters.observability import logger
from ..bootstrap import services
from ..domain.errors import KefuError


def _prepare(event: Any) -> Any:
    svc = services()
    svc.gateway.configure_from_event(event.domain_name, event.stage)
    context = event.to_dict().get("requestContext", {})
    # Every log line of this invocation carries the connection and route (structured JSON).
    logger().append_keys(connection_id=event.connection_id, route=context.get("routeKey"),
                         request_id=context.get("requestId"))
    return svc


def on_connect(event: Any) -> dict[str, Any]:
    """$connect: the token comes in the query string (browsers cannot set headers on a WebSocket)."""
    svc = _prepare(event)
    params = event.to_dict().get("queryStringParameters") or {}
    try:
        identity = svc.auth.identify(params.get("token"))
        svc.chat.connect(event.connection_id, identity)
    except KefuError as error:
        svc.metrics.count("RefusedConnects")
        return {"statusCode": error.http_status if error.http_status < 500 else 401, "body": error.code}
    finally:
        svc.metrics.flush()
    return {"statusCode": 200}


def on_message(event: Any) -> None:
    svc = _prepare(event)
    try:
        raw = event.to_dict()
        svc.chat.handle_raw(event.connection_id, raw.get("body"), raw.get("requestContext", {}).get("requestTimeEpoch"))
    finally:
        svc.metrics.flush()


def on_disconnect(event: Any) -> None:
    svc = _prepare(event)
    try:
        svc.chat.disconnect(event.connection_id)
    finally:
        svc.metrics.flush()
