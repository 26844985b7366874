"""The WebSocket protocol, version 1: every frame in and out is one of these models.

Frames are JSON objects with an `action` field (the discriminator) and a protocol version
`v`. `docs/protocol.md` shows an example of each; `tests/unit/test_docs.py` checks
that those examples parse.
"""
from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    field_validator,
    ValidationInfo,
)

from .errors import FrameTooLarge, InvalidFrame, MalformedJson, UnknownAction

PROTOCOL_VERSION: Literal[1] = 1
MAX_FRAME_BYTES = 32 * 1024  # API Gateway's WebSocket frame size
MAX_TEXT_CHARS = 4000
MAX_DRAFT_CHARS = 1000
CLIENT_MSG_ID = r"^[A-Za-z0-9_.:\-]{1,64}$"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    v: Literal[1] = PROTOCOL_VERSION
    _received_ms: int = PrivateAttr(default=0)

    @property
    def received_ms(self) -> int:
        """When the gateway received this frame (from the event, never from the client); 0 if unknown.

        Frames of one socket run as separate invocations that may overlap, so a state the
        latest frame should win (presence) is written in this order, not in the order the
        invocations happen to finish."""
        return self._received_ms

    def received_at(self, ms: int | None) -> None:
        self._received_ms = int(ms or 0)


# ---------------------------------------------------------------- client → server


class Hello(Frame):
    """Sent once after the socket opens; answered by `welcome`."""

    action: Literal["hello"]


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    file_id: str = Field(pattern=r"^f_[a-z0-9]{26}$")
    name: str = Field(min_length=1, max_length=200)
    content_type: str = Field(max_length=100)
    size: int = Field(ge=1)


class SendMessage(Frame):
    action: Literal["message.send"]
    client_msg_id: str = Field(pattern=CLIENT_MSG_ID)
    conversation_id: str | None = Field(default=None, max_length=64)
    internal: bool = False  # an agent's note: never sent to or synced by the visitor
    attachment: AttachmentIn | None = None
    # After `attachment`, so that its validator can see whether there is one.
    text: str = Field(default="", max_length=MAX_TEXT_CHARS, validate_default=True)

    @field_validator("text")
    @classmethod
    def _plain_text(cls, value: str, info: ValidationInfo) -> str:
        if _CONTROL.search(value):
            raise ValueError("text must not contain control characters")
        # (an attachment that failed validation is missing from info.data: one problem is enough)
        if not value.strip() and "attachment" in info.data and info.data["attachment"] is None:
            raise ValueError("a message needs text or an attachment")
        return value


class Typing(Frame):
    action: Literal["typing"]
    conversation_id: str | None = Field(default=None, max_length=64)
    state: Literal["start", "stop"]
    draft: str | None = Field(default=None, max_length=MAX_DRAFT_CHARS)


class MarkRead(Frame):
    action: Literal["read"]
    conversation_id: str = Field(max_length=64)
    seq: int = Field(ge=0)


class Sync(Frame):
    """Ask for the messages after `after_seq` (the last one the client saw)."""

    action: Literal["sync"]
    conversation_id: str = Field(max_length=64)
    after_seq: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=200)


class Ping(Frame):
    action: Literal["ping"]


class Utm(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str | None = Field(default=None, max_length=200)
    medium: str | None = Field(default=None, max_length=200)
    campaign: str | None = Field(default=None, max_length=200)
    term: str | None = Field(default=None, max_length=200)
    content: str | None = Field(default=None, max_length=200)


class PageView(Frame):
    """The visitor opened a page of the site (sent by the widget on load and SPA navigation)."""

    action: Literal["page.view"]
    url: str = Field(min_length=1, max_length=2048)
    title: str = Field(default="", max_length=300)
    referrer: str | None = Field(default=None, max_length=2048)
    language: str | None = Field(default=None, max_length=35)
    screen: str | None = Field(default=None, max_length=20)
    utm: Utm | None = None


class Identify(Frame):
    """The host page tells who the visitor is (`Kefu.identify`)."""

    action: Literal["identify"]
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    attributes: dict[str, str] | None = None
    user_hash: str | None = Field(default=None, max_length=128)

    @field_validator("attributes")
    @classmethod
    def _small_attributes(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        if len(value) > 50:
            raise ValueError("at most 50 attributes")
        for key, item in value.items():
            if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", key) or len(item) > 500:
                raise ValueError("attribute keys are 1-64 of [A-Za-z0-9_.-]; values at most 500 chars")
        return value


class ResolveConversation(Frame):
    action: Literal["conversation.resolve"]
    conversation_id: str = Field(max_length=64)


class ReopenConversation(Frame):
    action: Literal["conversation.reopen"]
    conversation_id: str = Field(max_length=64)


class SetPresence(Frame):
    action: Literal["presence.set"]
    state: Literal["online", "away", "offline"]


class BotHandoff(Frame):
    """The visitor pressed "talk to a person": the bot hands the conversation over."""

    action: Literal["bot.handoff"]
    conversation_id: str | None = Field(default=None, max_length=64)


class BotFeedback(Frame):
    """The visitor's answer to "did this help?" about the bot's message `seq`."""

    action: Literal["bot.feedback"]
    conversation_id: str = Field(max_length=64)
    seq: int = Field(ge=1)
    helpful: bool


class BotChoose(Frame):
    """The visitor picked one of the articles a clarifying question offered (`article_id`),
    or none of them (null)."""

    action: Literal["bot.choose"]
    conversation_id: str = Field(max_length=64)
    article_id: str | None = Field(default=None, max_length=64)


class BotSolved(Frame):
    """After a hand-off, the visitor says an article the bot offered to read while waiting
    (`bot.prompt` `read`) answered their question."""

    action: Literal["bot.solved"]
    conversation_id: str = Field(max_length=64)
    article_id: str = Field(min_length=1, max_length=64)


ID = r"^[A-Za-z0-9_\-]{1,64}$"


class PickUp(Frame):
    """An agent takes an unassigned conversation from the queue (first one wins)."""

    action: Literal["conversation.pickup"]
    conversation_id: str = Field(max_length=64)


class Transfer(Frame):
    """Hand a conversation to another agent or back to a group's queue, with a note."""

    action: Literal["conversation.transfer"]
    conversation_id: str = Field(max_length=64)
    to_agent_id: str | None = Field(default=None, pattern=ID)
    to_group_id: str | None = Field(default=None, pattern=ID, validate_default=True)
    note: str = Field(default="", max_length=MAX_DRAFT_CHARS)

    @field_validator("to_group_id")
    @classmethod
    def _one_target(cls, value: str | None, info: ValidationInfo) -> str | None:
        if (value is None) == (info.data.get("to_agent_id") is None):
            raise ValueError("name exactly one of to_agent_id and to_group_id")
        return value

    @field_validator("note")
    @classmethod
    def _plain_note(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("note must not contain control characters")
        return value


class LeaveMessage(Frame):
    """The visitor leaves a message (and an email for the answer) when nobody can chat."""

    action: Literal["message.leave"]
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    name: str | None = Field(default=None, max_length=200)
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)

    @field_validator("text", "name")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        return value


ClientFrame = Annotated[
    Union[Hello, SendMessage, Typing, MarkRead, Sync, Ping, PageView, Identify, ResolveConversation,
          ReopenConversation, SetPresence, BotHandoff, BotFeedback, BotChoose, BotSolved, PickUp, Transfer,
          LeaveMessage],
    Field(discriminator="action"),
]
CLIENT_ACTIONS = ("hello", "message.send", "typing", "read", "sync", "ping", "page.view", "identify",
                  "conversation.resolve", "conversation.reopen", "presence.set", "bot.handoff", "bot.feedback",
                  "bot.choose", "bot.solved", "conversation.pickup", "conversation.transfer", "message.leave")

# ---------------------------------------------------------------- server → client


class AttachmentOut(BaseModel):
    model_config = ConfigDict(frozen=True)
    file_id: str
    name: str
    content_type: str
    size: int
    url: str  # time-limited download link


class MessageOut(BaseModel):
    model_config = ConfigDict(frozen=True)
    conversation_id: str
    seq: int
    client_msg_id: str
    sender_role: Literal["visitor", "agent", "bot"]
    sender_id: str
    sender_name: str
    text: str
    created_at: int
    internal: bool = False
    attachment: AttachmentOut | None = None


class Welcome(Frame):
    action: Literal["welcome"] = "welcome"
    connection_id: str
    role: Literal["visitor", "agent"]
    tenant_id: str
    principal_id: str
    conversation_id: str | None = None
    last_seq: int = 0
    server_time: int


class MessageAck(Frame):
    action: Literal["message.ack"] = "message.ack"
    client_msg_id: str
    conversation_id: str
    seq: int
    created_at: int
    duplicate: bool = False


class MessageNew(Frame):
    action: Literal["message.new"] = "message.new"
    conversation_id: str
    message: MessageOut


class Messages(Frame):
    """The answer to `sync`: messages after `after_seq`, in order."""

    action: Literal["messages"] = "messages"
    conversation_id: str
    after_seq: int
    messages: list[MessageOut]
    has_more: bool
    last_seq: int


class TypingOut(Frame):
    action: Literal["typing"] = "typing"
    conversation_id: str
    role: Literal["visitor", "agent"]
    sender_id: str
    state: Literal["start", "stop"]
    draft: str | None = None


class ReadOut(Frame):
    action: Literal["read"] = "read"
    conversation_id: str
    role: Literal["visitor", "agent"]
    seq: int


class ConversationSummary(BaseModel):
    model_config = ConfigDict(frozen=True)
    conversation_id: str
    visitor_id: str
    status: Literal["open", "resolved"]
    created_at: int
    updated_at: int
    last_seq: int
    last_message_preview: str
    visitor_read_seq: int
    agent_read_seq: int
    assignee_id: str | None = None
    group_id: str | None = None
    priority: Literal["urgent", "high", "normal", "low"] | None = None
    message_type: str | None = None  # the first message's class (pre-sales, after-sales, ...)
    queued_at: int | None = None  # present while the conversation waits in the queue
    last_assignee_id: str | None = None


class ConversationNew(Frame):
    """Tells agents a visitor has started a conversation, with the message that started it
    (agents get no separate `message.new` for that message). The dispatcher's round sends
    it (`conversations.new` when the round saw several), or the handler that created the
    conversation if the dispatcher could not be asked."""

    action: Literal["conversation.new"] = "conversation.new"
    conversation: ConversationSummary
    message: MessageOut | None = None


class NewConversation(BaseModel):
    """One item of `conversations.new`: the conversation and the message that started it."""

    conversation: ConversationSummary
    message: MessageOut | None = None


class ConversationsNew(Frame):
    """Several conversations started since the dispatcher's last round, in one frame: to
    agents, the same as one `conversation.new` per item."""

    action: Literal["conversations.new"] = "conversations.new"
    conversations: list[NewConversation] = Field(min_length=2)


class ConversationUpdated(Frame):
    """Status or assignee changed (agents and the visitor's tabs)."""

    action: Literal["conversation.updated"] = "conversation.updated"
    conversation: ConversationSummary


class ConversationsUpdated(Frame):
    """Several conversations changed at once (a dispatch round that assigned more than one):
    to agents, the same as one `conversation.updated` per item, in one frame."""

    action: Literal["conversations.updated"] = "conversations.updated"
    conversations: list[ConversationSummary] = Field(min_length=2)


class PageOut(BaseModel):
    url: str
    title: str = ""
    at: int = 0


class VisitorProfile(BaseModel):
    visitor_id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    verified: bool = False  # identify() carried a valid user_hash
    attributes: dict[str, str] = Field(default_factory=dict)
    current_page: PageOut | None = None
    trail: list[PageOut] = Field(default_factory=list)
    referrer: str | None = None
    source: str | None = None  # search / social / campaign / referral / direct
    utm: Utm | None = None
    device: str | None = None
    language: str | None = None
    screen: str | None = None
    visits: int = 1
    returning: bool = False
    first_seen_at: int = 0
    last_seen_at: int = 0


class VisitorUpdated(Frame):
    action: Literal["visitor.updated"] = "visitor.updated"
    visitor: VisitorProfile


class AgentPresence(Frame):
    action: Literal["agent.presence"] = "agent.presence"
    agent_id: str
    state: Literal["online", "away", "offline"]


class QueueStatus(Frame):
    """To the visitor: where their conversation stands in the queue (sent when it changes)."""

    action: Literal["queue.status"] = "queue.status"
    conversation_id: str
    state: Literal["queued", "assigned", "offline"]
    position: int | None = None  # 1 = next
    expected_wait_ms: int | None = None
    agent_name: str | None = None  # who took it (state assigned)
    leave_message: bool = False  # nobody can answer now: offer `message.leave`


class MessageLeft(Frame):
    """The answer to `message.leave`: the message is kept for the ticket system."""

    action: Literal["message.left"] = "message.left"
    message_id: str


class Notification(Frame):
    """To one agent: a conversation was handed to them, or a colleague @mentioned them."""

    action: Literal["notification"] = "notification"
    kind: Literal["transfer", "mention"]
    conversation_id: str
    from_agent_id: str
    from_name: str
    text: str  # the transfer note, or the note that mentions them


class Pong(Frame):
    action: Literal["pong"] = "pong"
    server_time: int


class TicketSummary(BaseModel):
    """A ticket as agents' lists show it (chalicelib.services.tickets)."""

    number: int
    subject: str
    type: str
    priority: Literal["low", "normal", "high", "urgent"]
    status: Literal["new", "open", "pending", "on_hold", "solved", "closed"]
    group_id: str | None = None
    assignee_id: str | None = None
    requester_name: str | None = None
    requester_email: str | None = None
    tags: list[str] = Field(default_factory=list)
    created_at: int
    updated_at: int
    due_at: int | None = None  # the next running deadline
    due_kind: Literal["first_response", "next_response", "resolution"] | None = None
    breached: bool = False
    escalation_step: int = 0
    version: int


class TicketUpdated(Frame):
    """A ticket was created or changed (agents)."""

    action: Literal["ticket.updated"] = "ticket.updated"
    ticket: TicketSummary


class TicketEscalated(Frame):
    """The SLA timer escalated a ticket one rung (agents; `notify` names who must act)."""

    action: Literal["ticket.escalated"] = "ticket.escalated"
    ticket: TicketSummary
    step: int
    escalation: Literal["notify_assignee", "raise_priority", "reassign"]
    deadline: Literal["first_response", "next_response", "resolution"]
    notify: list[str]  # agent ids: the assignee, then the group's supervisors


class TicketSolved(Frame):
    """The visitor's request was solved (the requester's own connections): the widget asks
    them to confirm and rate it with `rating_token` (POST /v1/public/tickets/rating)."""

    action: Literal["ticket.solved"] = "ticket.solved"
    number: int
    subject: str
    rating_token: str


class BotArticle(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    title: str


class BotPrompt(Frame):
    """Buttons for the bot's message `seq` (to the visitor's tabs): "did this help?" after an
    answer, the candidate articles of a clarifying question, "talk to a person", or
    articles to read while waiting for a person after a hand-off (`read`: they open the
    article, whose "this answered my question" sends `bot.solved`)."""

    action: Literal["bot.prompt"] = "bot.prompt"
    conversation_id: str
    seq: int
    kind: Literal["feedback", "choose", "handoff", "read"]
    # The language of the bot's message: its buttons are labelled in it, whatever the page's.
    locale: Literal["en", "zh"] | None = None
    article: BotArticle | None = None
    candidates: list[BotArticle] = Field(default_factory=list)


class ErrorOut(Frame):
    action: Literal["error"] = "error"
    code: str
    message: str
    ref: str | None = None  # the client_msg_id or action the error answers
    retry_after_ms: int | None = None
    details: dict[str, Any] | None = None


ServerFrame = Annotated[
    Union[
        Welcome, MessageAck, MessageNew, Messages, TypingOut, ReadOut, ConversationNew, ConversationsNew,
        ConversationUpdated, ConversationsUpdated, VisitorUpdated, AgentPresence, Pong, ErrorOut, TicketUpdated, TicketEscalated, TicketSolved,
        BotPrompt, QueueStatus, MessageLeft, Notification,
    ],
    Field(discriminator="action"),
]

_client_adapter: TypeAdapter[Any] = TypeAdapter(ClientFrame)


def parse_client_frame(raw: str | bytes | None) -> Frame:
    """Parse and validate one client frame, raising a domain error with a stable code."""
    if raw is None:
        raise MalformedJson("empty frame")
    try:
        size = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
    except UnicodeEncodeError:  # a lone surrogate: no JSON text can carry it
        raise MalformedJson("frame is not valid UTF-8 text") from None
    if size > MAX_FRAME_BYTES:
        raise FrameTooLarge(
            f"frame is {size} bytes; the limit is {MAX_FRAME_BYTES}",
            {"limit_bytes": MAX_FRAME_BYTES, "size_bytes": size},
        )
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedJson(f"frame is not valid JSON: {exc}") from None
    except RecursionError:  # nesting deeper than the parser follows
        raise MalformedJson("frame is nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidFrame("a frame must be a JSON object")
    action = data.get("action")
    if action not in CLIENT_ACTIONS:
        raise UnknownAction(
            f"unknown action {action!r}", {"known_actions": list(CLIENT_ACTIONS)}
        )
    try:
        return _client_adapter.validate_python(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"][1:]) or "frame", "problem": err["msg"]}
            for err in exc.errors()
        ]
        raise InvalidFrame(f"invalid {action} frame", {"problems": problems}) from None


def client_ref(raw: str | None) -> str | None:
    """Best-effort reference (client_msg_id or action) of a frame that failed, for the error frame."""
    if not raw or len(raw) > MAX_FRAME_BYTES:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    ref = data.get("client_msg_id") or data.get("action")
    return ref if isinstance(ref, str) and len(ref) <= 64 else None
