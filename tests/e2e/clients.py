"""Real clients for the end-to-end tests: a WebSocket client that keeps every frame it
receives and lets a test wait for one, and a small REST client. No fakes: both talk to
the local gateway over sockets, exactly as the widget and the console do."""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any, Callable

import httpx
from websockets.asyncio.client import ClientConnection, connect

Frame = dict[str, Any]
Predicate = Callable[[Frame], bool]
DEFAULT_TIMEOUT = 10.0
_ids = itertools.count(1)


def new_client_msg_id(prefix: str = "m") -> str:
    return f"{prefix}-{time.monotonic_ns()}-{next(_ids)}"


def action_is(action: str, **fields: Any) -> Predicate:
    """A predicate: frames with this action whose top-level fields equal `fields`."""
    return lambda f: f.get("action") == action and all(f.get(k) == v for k, v in fields.items())


def conversation_updates(frame: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversation summaries a frame updates: one for `conversation.updated`, each of a
    dispatch round's `conversations.updated`, none for other frames (news of a conversation,
    `conversation(s).new`, may be older than an update: protocol.md)."""
    if frame.get("action") == "conversation.updated":
        return [frame["conversation"]]
    if frame.get("action") == "conversations.updated":
        return list(frame["conversations"])
    return []


def new_conversations(frame: dict[str, Any]) -> list[dict[str, Any]]:
    """The items of `conversation.new` (one) or `conversations.new` (several): each a dict
    with `conversation` and, usually, `message`."""
    if frame.get("action") == "conversation.new":
        return [{"conversation": frame["conversation"], "message": frame.get("message")}]
    if frame.get("action") == "conversations.new":
        return list(frame["conversations"])
    return []


def reply_to(ref: str) -> Predicate:
    """The ack or error frame that answers the frame whose client_msg_id (or action) is `ref`."""
    return lambda f: (f.get("action") == "message.ack" and f.get("client_msg_id") == ref) or (
        f.get("action") == "error" and f.get("ref") == ref)


def message_new(conversation_id: str | None = None, client_msg_id: str | None = None) -> Predicate:
    """A message delivered live: `message.new`, or for agents the first message of a
    conversation, which rides in its `conversation.new` (or an item of `conversations.new`)."""
    def fits(message: dict[str, Any] | None) -> bool:
        return bool(message) and (conversation_id is None or message["conversation_id"] == conversation_id) and (
            client_msg_id is None or message["client_msg_id"] == client_msg_id)

    def matches(f: Frame) -> bool:
        if f.get("action") == "conversations.new":
            return any(fits(item.get("message")) for item in f["conversations"])
        return f.get("action") in ("message.new", "conversation.new") and fits(f.get("message"))
    return matches


def delivered_message(frame: Frame, conversation_id: str) -> dict[str, Any]:
    """The message of `conversation_id` in a frame `message_new` matched."""
    if frame.get("action") == "conversations.new":
        return next(i["message"] for i in frame["conversations"]
                    if i.get("message") and i["message"]["conversation_id"] == conversation_id)
    return frame["message"]  # type: ignore[no-any-return]


class WsClient:
    """One WebSocket connection. A reader task stores every frame in `frames` (in arrival
    order, also the raw text in `raw`) and wakes the waiters whose predicate it matches."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.frames: list[Frame] = []
        self.raw: list[str] = []
        self._waiters: list[tuple[Predicate, asyncio.Future[Frame]]] = []
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, ws_url: str, token: str | None) -> "WsClient":
        url = ws_url if token is None else f"{ws_url}?token={token}"
        return cls(await connect(url, max_size=None, open_timeout=DEFAULT_TIMEOUT))

    async def _read(self) -> None:
        async for raw in self.socket:
            text = raw if isinstance(raw, str) else raw.decode()
            frame = json.loads(text)
            self.raw.append(text)
            self.frames.append(frame)
            for predicate, future in self._waiters:
                if not future.done() and predicate(frame):
                    future.set_result(frame)

    async def send(self, frame: Frame | str) -> None:
        await self.socket.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def wait_for(self, predicate: Predicate, timeout: float = DEFAULT_TIMEOUT, since: int = 0) -> Frame:
        """The first frame (at index `since` or later) matching `predicate`, waiting for it if need be."""
        for frame in self.frames[since:]:
            if predicate(frame):
                return frame
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no matching frame within {timeout}s; last frames: {self.frames[-5:]}") from None
        finally:
            self._waiters.remove(waiter)

    async def request(self, frame: Frame | str, predicate: Predicate, timeout: float = DEFAULT_TIMEOUT) -> Frame:
        """Send a frame and wait for the first frame after it that matches `predicate`."""
        mark = len(self.frames)
        await self.send(frame)
        return await self.wait_for(predicate, timeout, since=mark)

    async def send_message(self, text: str, conversation_id: str | None = None,
                           client_msg_id: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Frame:
        """Send one message.send and return its reply (the ack or an error frame)."""
        cmid = client_msg_id or new_client_msg_id()
        frame: Frame = {"action": "message.send", "client_msg_id": cmid, "text": text}
        if conversation_id is not None:
            frame["conversation_id"] = conversation_id
        return await self.request(frame, reply_to(cmid), timeout)

    async def deliver(self, text: str, conversation_id: str | None = None,
                      client_msg_id: str | None = None, timeout: float = 30.0) -> Frame:
        """Send a message as a well-behaved client does: on `rate_limited` wait the
        `retry_after_ms` it names and resend the same client_msg_id, until acked."""
        cmid = client_msg_id or new_client_msg_id()
        deadline = time.monotonic() + timeout
        while True:
            reply = await self.send_message(text, conversation_id, cmid, max(0.1, deadline - time.monotonic()))
            if reply["action"] == "message.ack":
                return reply
            assert reply["code"] in ("rate_limited", "sequence_conflict"), reply
            assert time.monotonic() < deadline, f"not accepted within {timeout}s: {reply}"
            await asyncio.sleep(reply.get("retry_after_ms", 50) / 1000)

    async def sync(self, conversation_id: str, after_seq: int = 0) -> Frame:
        return await self.request({"action": "sync", "conversation_id": conversation_id, "after_seq": after_seq},
                                  lambda f: f.get("action") in ("messages", "error"))

    def received(self, predicate: Predicate) -> list[Frame]:
        return [f for f in self.frames if predicate(f)]

    async def settle(self, seconds: float = 0.3) -> None:
        """Give frames that should NOT arrive a chance to arrive before asserting on absence."""
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        await self.socket.close()
        await asyncio.gather(self._reader, return_exceptions=True)


@dataclass
class Tenant:
    """A tenant made by `local.seed.seed_tenant`, with its agents' emails and password."""

    tenant_id: str
    site_key: str
    agent_emails: list[str]
    password: str


def make_supervisor(tenant: Tenant, index: int = 0) -> str:
    """Give the tenant's agent `index` the supervisor role (in the table, as an admin would);
    returns the agent's id."""
    from chalicelib.adapters.repositories import DynamoAgents
    from chalicelib.adapters.tables import AgentItem

    agent = DynamoAgents().get_by_email(tenant.agent_emails[index])
    assert agent is not None
    AgentItem(agent.tenant_id, agent.agent_id).update(actions=[AgentItem.role.set("supervisor")])
    return agent.agent_id


class Api:
    """The REST API and WebSocket endpoint of one local stack."""

    def __init__(self, base_url: str, ws_url: str) -> None:
        self.base_url = base_url
        self.ws_url = ws_url
        self.http = httpx.AsyncClient(base_url=base_url, timeout=DEFAULT_TIMEOUT)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def visitor_token(self, tenant: Tenant) -> str:
        response = await self.http.post("/v1/visitor/sessions", json={"site_key": tenant.site_key})
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    async def agent_token(self, tenant: Tenant, index: int = 0) -> str:
        response = await self.login(tenant.agent_emails[index], tenant.password)
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    async def login(self, email: str, password: str) -> httpx.Response:
        return await self.http.post("/v1/agent/login", json={"email": email, "password": password})

    async def get(self, path: str, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.get(path, headers=headers)

    async def messages(self, conversation_id: str, token: str) -> list[Frame]:
        """Every stored message of a conversation, through REST, oldest first."""
        response = await self.get(f"/v1/conversations/{conversation_id}/messages?limit=200", token)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert not body["has_more"]
        return list(body["messages"])

    async def last_seq(self, conversation_id: str, token: str) -> int:
        response = await self.get(f"/v1/conversations/{conversation_id}", token)
        assert response.status_code == 200, response.text
        return int(response.json()["last_seq"])

    async def visitor(self, tenant: Tenant) -> tuple[str, WsClient]:
        token = await self.visitor_token(tenant)
        return token, await WsClient.connect(self.ws_url, token)

    async def agent(self, tenant: Tenant, index: int = 0) -> tuple[str, WsClient]:
        token = await self.agent_token(tenant, index)
        return token, await WsClient.connect(self.ws_url, token)


@dataclass
class Chat:
    """A visitor and an agent connected to one conversation the visitor has started."""

    tenant: Tenant
    visitor_token: str
    visitor: WsClient
    agent_token: str
    agent: WsClient
    conversation_id: str
    first_ack: Frame

    async def close(self) -> None:
        await asyncio.gather(self.visitor.close(), self.agent.close())


async def start_chat(api: Api, tenant: Tenant, first_text: str = "hello") -> Chat:
    """Connect an agent, then a visitor whose first message opens a conversation."""
    agent_token, agent = await api.agent(tenant)
    visitor_token, visitor = await api.visitor(tenant)
    ack = await visitor.send_message(first_text)
    assert ack["action"] == "message.ack" and ack["seq"] == 1, ack
    await agent.wait_for(message_new(ack["conversation_id"], ack["client_msg_id"]))
    return Chat(tenant, visitor_token, visitor, agent_token, agent, ack["conversation_id"], ack)
