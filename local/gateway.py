"""The local gateway: API Gateway (REST + WebSocket + @connections) in one ASGI app.

It calls the very handlers `chalice package` deploys, with events shaped like API
Gateway's, on a thread pool standing in for parallel Lambda invocations. Handlers post
to clients through boto3's `apigatewaymanagementapi` client pointed at `/_aws/ws`, which
this app serves.
"""
from __future__ import annotations

import asyncio
import base64
import importlib
import json
import os
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from .demo_integrations import order_status

ROOT = Path(__file__).resolve().parent.parent
STAGE = "local"
API_ID = "kefulocal"
MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's WebSocket message limit
HANDLER_THREADS = int(os.environ.get("KEFU_LOCAL_LAMBDA_CONCURRENCY", "32"))
FUNCTION_THREADS = 32  # concurrency of the functions invoked through the Lambda Invoke API


@dataclass
class _Client:
    websocket: WebSocket
    connected_at: int
    source_ip: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_active: float = field(default_factory=time.time)
    accepted: bool = False  # until $connect has returned 200, @connections answers Gone
    last_stamp: int = 0  # requestTimeEpoch of this connection's last frame


def _connection_id() -> str:
    # API Gateway's ids are 12 random bytes, base64 encoded (e.g. "L0SM9cOFvHcCIhw=").
    return base64.b64encode(secrets.token_bytes(10)).decode()


def _resolve(handler_string: str) -> Callable[..., Any]:
    module_name, _, attribute = handler_string.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)  # type: ignore[no-any-return]


class LocalGateway:
    def __init__(self, app_module: str = "app") -> None:
        from chalice.config import Config
        from chalice.local import LocalGateway as ChaliceRestGateway

        module = importlib.import_module(app_module)
        self.chalice_app = module.app
        self._rest = ChaliceRestGateway(
            self.chalice_app, Config.create(chalice_stage="local", app_name="kefu", lambda_timeout=30)
        )
        handlers = self.chalice_app.websocket_handlers
        self._ws_handlers = {
            route: _resolve(handlers[route].handler_string) for route in ("$connect", "$default", "$disconnect")
        }
        self._pool = ThreadPoolExecutor(max_workers=HANDLER_THREADS, thread_name_prefix="lambda")
        # Functions invoked by name (app.lambda_function), e.g. "dispatch", as kefu-<name>.
        self._functions = {f"kefu-{f.name}": _resolve(f.handler_string)
                           for f in self.chalice_app.pure_lambda_functions}
        self._function_pool = ThreadPoolExecutor(max_workers=FUNCTION_THREADS, thread_name_prefix="dispatch")
        self._clients: dict[str, _Client] = {}
        self.invocations: dict[str, int] = {"rest": 0, "$connect": 0, "$default": 0, "$disconnect": 0}
        self.host = "127.0.0.1:8000"

    # ------------------------------------------------------------------ Lambda invocation

    def _context(self, name: str) -> Any:
        from chalice.local import LambdaContext

        return LambdaContext(function_name=f"kefu-{name}", memory_size=512, max_runtime_ms=30_000)

    async def _invoke(self, route: str, event: dict[str, Any]) -> Any:
        self.invocations[route] = self.invocations.get(route, 0) + 1
        handler = self._ws_handlers[route]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, handler, event, self._context(route))

    def _ws_event(self, event_type: str, route: str, connection_id: str, client: _Client | None,
                  extra: dict[str, Any] | None = None, request_time_ms: int | None = None) -> dict[str, Any]:
        now = request_time_ms or int(time.time() * 1000)
        event: dict[str, Any] = {
            "requestContext": {
                "routeKey": route,
                "eventType": event_type,
                "extendedRequestId": uuid.uuid4().hex,
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
                "messageDirection": "IN",
                "stage": STAGE,
                "connectedAt": client.connected_at if client else now,
                "requestTimeEpoch": now,
                "identity": {"sourceIp": client.source_ip if client else "127.0.0.1"},
                "requestId": uuid.uuid4().hex,
                "domainName": self.host,
                "connectionId": connection_id,
                "apiId": API_ID,
            },
            "isBase64Encoded": False,
        }
        if extra:
            event.update(extra)
        return event

    # ------------------------------------------------------------------ WebSocket API

    async def websocket(self, websocket: WebSocket) -> None:
        connection_id = _connection_id()
        source_ip = websocket.client.host if websocket.client else "127.0.0.1"
        client = _Client(websocket, int(time.time() * 1000), source_ip)
        query = dict(websocket.query_params)
        headers = dict(websocket.headers)
        connect_event = self._ws_event("CONNECT", "$connect", connection_id, client, {
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
        })
        # Register before $connect runs: API Gateway accepts posts once the handler returns 200.
        self._clients[connection_id] = client
        try:
            result = await self._invoke("$connect", connect_event)
        except Exception:  # a crashing $connect handler is a refused connection, as on AWS
            result = {"statusCode": 500}
        status = int((result or {}).get("statusCode", 200))
        if status != 200:
            self._clients.pop(connection_id, None)
            await websocket.close(code=1008)  # before accept(): the handshake is refused (HTTP 403)
            return
        await websocket.accept()
        client.accepted = True
        close_code, reason = 1000, "Client closed"
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    close_code = int(message.get("code", 1000))
                    break
                body = message.get("text")
                if body is None and message.get("bytes") is not None:
                    body = message["bytes"].decode("utf-8", "replace")
                client.last_active = time.time()
                if body is not None and len(body.encode()) > MAX_MESSAGE_BYTES:
                    close_code, reason = 1009, "Message too big"
                    await websocket.close(code=1009, reason="Message too big")
                    break
                # API Gateway stamps a frame as it arrives; this loop may read frames sent
                # milliseconds apart in one turn, so their stamps keep the arrival order.
                client.last_stamp = max(int(time.time() * 1000), client.last_stamp + 1)
                event = self._ws_event("MESSAGE", "$default", connection_id, client, {"body": body},
                                       request_time_ms=client.last_stamp)
                # Each frame is its own invocation and they may overlap, as on AWS.
                asyncio.ensure_future(self._invoke_message(event))
        except WebSocketDisconnect as disconnect:
            close_code = disconnect.code
        finally:
            if self._clients.pop(connection_id, None) is not None:
                event = self._ws_event("DISCONNECT", "$disconnect", connection_id, client, {
                    "headers": headers,
                })
                event["requestContext"]["disconnectStatusCode"] = close_code
                event["requestContext"]["disconnectReason"] = reason
                asyncio.ensure_future(self._invoke_quietly("$disconnect", event))

    async def _invoke_message(self, event: dict[str, Any]) -> None:
        await self._invoke_quietly("$default", event)

    async def _invoke_quietly(self, route: str, event: dict[str, Any]) -> None:
        try:
            await self._invoke(route, event)
        except Exception as error:  # the Lambda failed; API Gateway just logs it
            print(f"[gateway] {route} handler failed: {error!r}")

    # ------------------------------------------------------------------ @connections API

    async def connections_api(self, request: Request) -> Response:
        connection_id = request.path_params["connection_id"]
        client = self._clients.get(connection_id)
        if client is None or not client.accepted:
            # As on AWS, a connection whose $connect has not returned yet is Gone too (and
            # stays open: a post in that window must not cost the client its connection).
            return JSONResponse({"message": None}, status_code=410,
                                headers={"x-amzn-ErrorType": "GoneException"})
        if request.method == "POST":
            data = await request.body()
            if len(data) > MAX_MESSAGE_BYTES:
                return JSONResponse({"message": "Message too long"}, status_code=413,
                                    headers={"x-amzn-ErrorType": "PayloadTooLargeException"})
            try:
                async with client.lock:
                    await client.websocket.send_text(data.decode("utf-8"))
            except Exception:
                self._clients.pop(connection_id, None)
                return JSONResponse({"message": None}, status_code=410,
                                    headers={"x-amzn-ErrorType": "GoneException"})
            return Response(status_code=200)
        if request.method == "DELETE":
            self._clients.pop(connection_id, None)
            await client.websocket.close(code=1000)
            event = self._ws_event("DISCONNECT", "$disconnect", connection_id, client)
            asyncio.ensure_future(self._invoke_quietly("$disconnect", event))
            return Response(status_code=204)
        return JSONResponse({
            "ConnectedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(client.connected_at / 1000)),
            "Identity": {"SourceIp": client.source_ip, "UserAgent": ""},
            "LastActiveAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(client.last_active)),
        })

    async def drop_all(self) -> int:
        """Close every client socket abruptly (tests of reconnects)."""
        clients = list(self._clients.values())
        for client in clients:
            try:
                await client.websocket.close(code=1012)
            except Exception:
                pass
        return len(clients)

    # ------------------------------------------------------------------ Lambda Invoke API

    async def invoke_api(self, request: Request) -> Response:
        """POST /2015-03-31/functions/{name}/invocations, as boto3's lambda client sends it.
        `Event` invocations are queued and answered 202 at once, like Lambda's async invoke;
        `RequestResponse` waits and returns the handler's JSON result."""
        name = request.path_params["name"].rsplit(":", 1)[-1]
        handler = self._functions.get(name)
        if handler is None:
            return JSONResponse({"Type": "User", "Message": f"Function not found: {name}"}, status_code=404,
                                headers={"x-amzn-ErrorType": "ResourceNotFoundException"})
        try:
            event = json.loads(await request.body() or b"{}")
        except ValueError:
            return JSONResponse({"Type": "User", "Message": "Could not parse request body into json"},
                                status_code=400, headers={"x-amzn-ErrorType": "InvalidRequestContentException"})
        short = name.removeprefix("kefu-")
        self.invocations[short] = self.invocations.get(short, 0) + 1
        loop = asyncio.get_running_loop()
        call = lambda: handler(event, self._context(short))  # noqa: E731
        if request.headers.get("x-amz-invocation-type", "RequestResponse") == "Event":
            future = loop.run_in_executor(self._function_pool, call)
            future.add_done_callback(_log_failure(short))
            return Response(status_code=202)
        result = await loop.run_in_executor(self._function_pool, call)
        return JSONResponse(result, headers={"x-amz-executed-version": "$LATEST"})

    # ------------------------------------------------------------------ REST API

    async def rest(self, request: Request) -> Response:
        from chalice.local import LocalGatewayException

        self.invocations["rest"] += 1
        body = await request.body()
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        headers = {k: v for k, v in request.headers.items()}
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                self._pool, self._rest.handle_request, request.method, path, headers, body or None
            )
        except LocalGatewayException as error:
            return Response(content=error.body or b"", status_code=error.CODE,
                            headers=dict(error.headers or {}))
        raw = result.get("body") or b""
        if isinstance(raw, str):
            raw = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
        out_headers = dict(result.get("headers") or {})
        for name, values in (result.get("multiValueHeaders") or {}).items():
            out_headers[name] = ", ".join(values)
        out_headers.pop("Content-Length", None)
        return Response(content=raw, status_code=int(result["statusCode"]), headers=out_headers)


def _log_failure(name: str) -> Callable[[Any], None]:
    def check(future: Any) -> None:
        error = future.exception()
        if error is not None:  # an async invoke's failure is only logged, as on AWS
            print(f"[gateway] {name} function failed: {error!r}")
    return check


def s3_proxy(moto_url: str) -> Callable[[Request], Any]:
    """Forward /_aws/s3/* to moto's S3, so presigned URLs are same-origin for the browser."""
    import httpx

    client = httpx.AsyncClient(base_url=moto_url, timeout=30)

    async def proxy(request: Request) -> Response:
        path = request.url.path[len("/_aws/s3"):] or "/"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        upstream = await client.request(request.method, path, params=request.url.query or None,
                                        headers=headers, content=await request.body())
        dropped = ("transfer-encoding", "connection", "content-encoding")
        if request.method != "HEAD":  # a HEAD's Content-Length is the object's size: keep it
            dropped += ("content-length",)
        keep = {k: v for k, v in upstream.headers.items() if k.lower() not in dropped}
        return Response(content=upstream.content, status_code=upstream.status_code, headers=keep)

    return proxy


def build_asgi(gateway: LocalGateway, stats: Callable[[], dict[str, Any]],
               reset_stats: Callable[[], None], demo: dict[str, Any], moto_url: str) -> Starlette:
    async def index(request: Request) -> Response:
        return HTMLResponse(_index_html(request, demo))

    async def local_stats(request: Request) -> Response:
        if request.method == "POST":
            reset_stats()
            for key in gateway.invocations:
                gateway.invocations[key] = 0
            return JSONResponse({"reset": True})
        return JSONResponse({"aws": stats(), "invocations": dict(gateway.invocations),
                             "open_connections": len(gateway._clients)})

    async def local_demo(request: Request) -> Response:
        return JSONResponse(demo)

    async def local_mails(request: Request) -> Response:
        from .aws import sent_mails

        mails = sent_mails()
        if request.query_params.get("format") == "json":
            return JSONResponse({"mails": mails})
        return HTMLResponse(_mails_html(mails))

    async def drop(request: Request) -> Response:
        return JSONResponse({"dropped": await gateway.drop_all()})

    routes = [
        Route("/", index),
        Route("/_local/stats", local_stats, methods=["GET", "POST"]),
        Route("/_local/demo", local_demo),
        Route("/_local/drop-connections", drop, methods=["POST"]),
        Route("/_local/mails", local_mails),
        Route("/_local/order-status", order_status, methods=["POST"]),  # the demo bot's webhook
        Route("/_aws/ws/@connections/{connection_id:path}", gateway.connections_api,
              methods=["GET", "POST", "DELETE"]),
        Route("/_aws/lambda/2015-03-31/functions/{name}/invocations", gateway.invoke_api, methods=["POST"]),
        WebSocketRoute("/ws", gateway.websocket),
        Route("/_aws/s3/{key:path}", s3_proxy(moto_url), methods=["GET", "HEAD", "POST", "PUT"]),
        Route("/v1/{rest:path}", gateway.rest, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    ]
    for prefix, folder in (("/widget", ROOT / "widget"), ("/console", ROOT / "console"),
                           ("/demo", ROOT / "local" / "demo")):
        if folder.is_dir():
            routes.append(Route(prefix, lambda r, p=prefix: RedirectResponse(p + "/")))
            routes.append(Mount(prefix, app=StaticFiles(directory=folder, html=True)))
    return Starlette(routes=routes)


def _mails_html(mails: list[dict[str, Any]]) -> str:
    """The mails SES would have sent (moto's), newest first. Everything is escaped: subjects
    and bodies carry what visitors and agents typed."""
    from html import escape

    items = "".join(
        f"<article><h2>{escape(m['subject'])}</h2><p>From <code>{escape(m['from'])}</code> to "
        f"<code>{escape(', '.join(m['to']))}</code></p><pre>{escape(m['body'])}</pre></article>"
        for m in mails) or "<p>No mail sent yet.</p>"
    return f"""<!doctype html><meta charset="utf-8"><title>Kefu local mails</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}}
article{{border-bottom:1px solid #ddd;padding:.5rem 0}}pre{{white-space:pre-wrap;background:#f6f6f6;padding:.5rem}}</style>
<h1>Mails sent through SES (moto)</h1><p><a href="?format=json">as JSON</a></p>{items}"""


def _index_html(request: Request, demo: dict[str, Any]) -> str:
    base = str(request.base_url).rstrip("/")
    return f"""<!doctype html><meta charset="utf-8"><title>Kefu local</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}
code{{background:#f3f3f3;padding:.1em .3em;border-radius:3px}}</style>
<h1>Kefu — local</h1>
<ul>
<li><a href="/demo/">Demo site</a> (a visitor's view)</li>
<li><a href="/console/">Agent console</a></li>
<li><a href="/console/supervisor.html">Supervisor view</a> (agents' load, the queue, groups and routing rules)</li>
<li>WebSocket API: <code>{base.replace('http', 'ws', 1)}/ws</code></li>
<li>REST API: <code>{base}/v1/</code> — <a href="/v1/health">health</a></li>
<li><a href="/console/tickets.html">Tickets workbench</a> (sign in at the console first)</li>
<li><a href="/_local/mails">Mails</a> that SES would have sent (ticket updates, ratings)</li>
</ul>
<p>Demo site key: <code>{demo.get('site_key', '')}</code></p>
<p>Demo agents: {', '.join(f"<code>{a['email']}</code>" for a in demo.get('agents', []))}
(password <code>{demo.get('password', '')}</code>)</p>"""
