"""A pretend shop backend for `make run`: the order-status webhook the demo tenant's bot
calls (`POST /_local/order-status`). Orders ending in 0 are unknown (HTTP 404), which
shows the bot handing the conversation to a person when an integration fails."""
from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


async def order_status(request: Request) -> Response:
    try:
        payload = json.loads(await request.body())
        number = str(payload["value"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "bad request"}, status_code=400)
    if not number.isdigit() or number.endswith("0"):
        return JSONResponse({"error": "unknown order"}, status_code=404)
    day = int(number[-2:]) % 28 + 1
    tracking = f"KF{number}CN"
    if payload.get("locale") == "zh":
        reply = f"订单 {number} 已于 11 月 {day} 日发货，物流单号 {tracking}，预计 3–5 个工作日送达。"
    else:
        reply = f"Order {number} shipped on 2026-11-{day:02d} with tracking number {tracking}; " \
                "it should arrive within 3–5 working days."
    return JSONResponse({"reply": reply})
