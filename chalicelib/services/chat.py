"""Real-time chat: connect, send, typing, read receipts, catch-up, resolve and fan-out.

Every reply reaches the client through the `Notifier` (API Gateway's @connections API),
because a WebSocket route's Lambda return value is not sent back to the client.
"""
from __future__ import annotations

import logging
import random
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Callable, Literal

from ..domain import protocol as p
from ..domain.clock import Clock
from ..domain.errors import (
    AgentUnavailable,
    ConversationClosed,
    ConversationNotFound,
    DuplicateMessage,
    Forbidden,
    InvalidFrame,
    KefuError,
    RateLimited,
    SequenceConflict,
    Unauthenticated,
)
from ..domain.ids import new_id
from ..domain.model import (
    Attachment,
    Connection,
    Conversation,
    ConversationStatus,
    Identity,
    Message,
    Role,
)
from ..domain.ports import (
    ConnectionRepository,
    ConversationRepository,
    MessageRepository,
    Metrics,
    VisitorRepository,
)
from ..domain.ratelimit import FrameLimiter, RateLimit
from .notifier import Notifier

if TYPE_CHECKING:
    from ..domain.routing import AgentState
    from .routing import RoutingService

log = logging.getLogger("kefu.chat")

CONNECTION_TTL_MS = 2 * 60 * 60 * 1000 + 10 * 60 * 1000  # API Gateway's 2 h limit, plus slack
# Writers racing on one conversation item retry with full-jitter backoff (capped at
# BACKOFF_CAP_S): 30 attempts outlast a burst of a few dozen parallel messages on a slow
# machine (about 5 s at worst) while staying far inside the Lambda timeout.
MAX_APPEND_ATTEMPTS = 30
BACKOFF_CAP_S = 0.4
PREVIEW_CHARS = 140


def _backoff(attempt: int) -> None:
    """Full-jitter exponential backoff: parallel writers spread out instead of colliding again."""
    time.sleep(random.uniform(0, min(BACKOFF_CAP_S, 0.005 * 2 ** attempt)))


AttachmentResolver = Callable[[Identity, Conversation, p.AttachmentIn], Attachment]
AttachmentUrl = Callable[[Message], str]
FrameHandler = Callable[[Connection, p.Frame], None]
# Run after a visitor's message is stored and delivered (the bot answers from here).
MessageHook = Callable[[Connection, Conversation, Message], None]


def conversation_summary(conversation: Conversation) -> p.ConversationSummary:
    return p.ConversationSummary(
        conversation_id=conversation.conversation_id,
        visitor_id=conversation.visitor_id,
        status=conversation.status.value,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        last_seq=conversation.last_seq,
        last_message_preview=conversation.last_message_preview,
        visitor_read_seq=conversation.visitor_read_seq,
        agent_read_seq=conversation.agent_read_seq,
        assignee_id=conversation.assignee_id,
        group_id=conversation.group_id,
        priority=conversation.priority,  # type: ignore[arg-type]
        message_type=conversation.message_type,
        queued_at=conversation.queued_at,
        last_assignee_id=conversation.last_assignee_id,
    )


def _side(role: Role) -> Literal["visitor", "agent"]:
    """The side of the conversation a role speaks for (the bot answers on the agents' side)."""
    return "visitor" if role is Role.VISITOR else "agent"


def preview(message: Message) -> str:
    if message.text.strip():
        return message.text[:PREVIEW_CHARS]
    return f"[{message.attachment.name}]" if message.attachment else ""


class ChatService:
    def __init__(
        self,
        connections: ConnectionRepository,
        conversations: ConversationRepository,
        messages: MessageRepository,
        visitors: VisitorRepository,
        notifier: Notifier,
        clock: Clock,
        visitor_rate: RateLimit,
        metrics: Metrics,
        frame_limiter: FrameLimiter | None = None,
    ) -> None:
        self._connections = connections
        self._conversations = conversations
        self._messages = messages
        self._visitors = visitors
        self._notifier = notifier
        self._clock = clock
        self._visitor_rate = visitor_rate
        self._metrics = metrics
        # Visitors' other frames (typing, page.view, ...): see FrameLimiter.
        self._frame_limiter = frame_limiter or FrameLimiter()
        self.routing: RoutingService | None = None  # bootstrap attaches routing and dispatch
        self._resolve_attachment: AttachmentResolver | None = None
        self._attachment_url: AttachmentUrl | None = None
        # Frames other services answer (page.view, identify, presence.set): action → handler.
        self.frame_handlers: dict[str, FrameHandler] = {}
        self.after_visitor_message: list[MessageHook] = []
        self.after_agent_message: list[MessageHook] = []  # e.g. a reply that meets a ticket's SLA
        # Connections never change after $connect, so a warm Lambda keeps them.
        self._connection_cache: OrderedDict[str, Connection] = OrderedDict()
        notifier.on_gone.append(lambda connection_id: self._connection_cache.pop(connection_id, None))

    def attach_files(self, resolve: AttachmentResolver, url: AttachmentUrl) -> None:
        """Enable attachments: `resolve` checks an uploaded file, `url` links to it."""
        self._resolve_attachment, self._attachment_url = resolve, url

    # ------------------------------------------------------------ lifecycle

    def connect(self, connection_id: str, identity: Identity) -> Connection:
        now = self._clock.now_ms()
        connection = Connection(
            connection_id=connection_id,
            tenant_id=identity.tenant_id,
            role=identity.role,
            principal_id=identity.principal_id,
            display_name=identity.display_name,
            connected_at=now,
            expires_at=now + CONNECTION_TTL_MS,
        )
        if identity.role is Role.VISITOR:
            visitor = self._visitors.get(identity.tenant_id, identity.principal_id)
            if visitor is None:
                raise Unauthenticated("unknown visitor")
            self._connections.add(connection)
            if visitor.open_conversation_id:
                self._conversations.add_watcher(
                    identity.tenant_id, visitor.open_conversation_id, connection_id
                )
        else:
            self._connections.add(connection)
            if self.routing is not None:
                self.routing.agent_connected(connection)
        self._remember(connection)
        self._metrics.count("Connects")
        return connection

    def disconnect(self, connection_id: str) -> Connection | None:
        self._connection_cache.pop(connection_id, None)
        self._frame_limiter.forget(connection_id)
        connection = self._connections.remove(connection_id)
        if connection is None:
            return None
        self._metrics.count("Disconnects")
        if connection.role is Role.AGENT and self.routing is not None:
            self.routing.agent_disconnected(connection)
        if connection.role is Role.VISITOR:
            visitor = self._visitors.get(connection.tenant_id, connection.principal_id)
            if visitor and visitor.open_conversation_id:
                self._conversations.remove_watcher(
                    connection.tenant_id, visitor.open_conversation_id, connection_id
                )
        return connection

    # ------------------------------------------------------------ frames

    def handle_raw(self, connection_id: str, raw: str | None, received_ms: int | None = None) -> None:
        """Parse one frame and act on it; any domain error becomes an error frame to the sender.

        `received_ms` is when the gateway received the frame (the event's requestTimeEpoch)."""
        try:
            connection = self._connection(connection_id)
            frame = p.parse_client_frame(raw)
            frame.received_at(received_ms or self._clock.now_ms())
            if connection.role is Role.VISITOR:
                wait_ms = self._frame_limiter.take(connection_id, getattr(frame, "action", ""), self._clock.now_ms())
                if wait_ms:
                    raise RateLimited(f"too many {getattr(frame, 'action', '')} frames; wait a moment",
                                      {"retry_after_ms": wait_ms})
            self._dispatch(connection, frame)
        except KefuError as error:
            self._metrics.count("Errors")
            log.info("frame refused", extra={"code": error.code})
            retry = error.details.get("retry_after_ms") if isinstance(error, RateLimited) else None
            details = {k: v for k, v in error.details.items() if k != "retry_after_ms"} or None
            self._notifier.reply(
                connection_id,
                p.ErrorOut(code=error.code, message=error.message, ref=p.client_ref(raw),
                           retry_after_ms=retry, details=details),
            )

    def _dispatch(self, connection: Connection, frame: p.Frame) -> None:
        if isinstance(frame, p.SendMessage):
            self.send_message(connection, frame)
        elif isinstance(frame, p.Typing):
            self.typing(connection, frame)
        elif isinstance(frame, p.MarkRead):
            self.mark_read(connection, frame)
        elif isinstance(frame, p.Sync):
            self.sync(connection, frame)
        elif isinstance(frame, p.Hello):
            self.hello(connection)
        elif isinstance(frame, p.Ping):
            if connection.role is Role.AGENT and self.routing is not None:
                self.routing.heartbeat(connection)  # an open workbench keeps its agent reachable
            self._notifier.reply(connection.connection_id, p.Pong(server_time=self._clock.now_ms()))
        elif isinstance(frame, p.ResolveConversation):
            self.set_status(connection.identity, frame.conversation_id, ConversationStatus.RESOLVED)
        elif isinstance(frame, p.ReopenConversation):
            self.set_status(connection.identity, frame.conversation_id, ConversationStatus.OPEN)
        else:
            handler = self.frame_handlers.get(getattr(frame, "action", ""))
            if handler is None:
                raise InvalidFrame(f"{getattr(frame, 'action', '?')} is not handled here")
            handler(connection, frame)

    def hello(self, connection: Connection) -> None:
        conversation_id, last_seq, waiting = None, 0, None
        if connection.role is Role.VISITOR:
            visitor = self._visitors.get(connection.tenant_id, connection.principal_id)
            if visitor and visitor.open_conversation_id:
                conversation = self._conversations.get(connection.tenant_id, visitor.open_conversation_id)
                if conversation:
                    conversation_id, last_seq = conversation.conversation_id, conversation.last_seq
                    waiting = conversation
                    if connection.connection_id not in conversation.watchers:
                        self._conversations.add_watcher(
                            connection.tenant_id, conversation_id, connection.connection_id
                        )
        self._notifier.reply(
            connection.connection_id,
            p.Welcome(
                connection_id=connection.connection_id,
                role=_side(connection.role),
                tenant_id=connection.tenant_id,
                principal_id=connection.principal_id,
                conversation_id=conversation_id,
                last_seq=last_seq,
                server_time=self._clock.now_ms(),
            ),
        )
        if waiting is not None and self.routing is not None:
            try:  # after the welcome: a reloaded page or a new tab sees its place in the queue again
                self.routing.tell_visitor_place(connection, waiting)
            except Exception:  # only a courtesy: the next change of place is told anyway
                log.exception("could not tell a returning visitor their place")

    def send_message(self, connection: Connection, frame: p.SendMessage, send_ack: bool = True) -> p.MessageAck:
        """Store a message and tell everyone concerned. With `send_ack=False` (a note the server
        writes on an agent's behalf, e.g. a transfer) the sender's tabs get `message.new`
        instead of an ack."""
        identity = connection.identity
        if frame.internal and identity.role is Role.VISITOR:
            raise Forbidden("only agents write internal notes")
        created, taker = False, None
        if frame.conversation_id is None:
            if identity.is_agent:
                raise InvalidFrame("agents must name the conversation_id")
            conversation, created, taker = self._visitor_conversation(connection, frame.text)
        else:
            conversation = self._readable(identity, frame.conversation_id)
        attachment = None
        if frame.attachment is not None:
            if self._resolve_attachment is None:
                raise InvalidFrame("attachments are not enabled")
            attachment = self._resolve_attachment(identity, conversation, frame.attachment)

        may_assign = True
        for attempt in range(MAX_APPEND_ATTEMPTS):
            if attempt:
                conversation = self._readable(identity, conversation.conversation_id)
            try:
                message, changed = self._append(connection, conversation, frame, attachment, may_assign)
            except AgentUnavailable:
                may_assign = False  # at capacity: the reply is posted, the conversation stays queued
                continue
            except SequenceConflict:
                _backoff(attempt)
                continue
            except (DuplicateMessage, RateLimited) as error:
                stored = self._messages.get_by_client_id(
                    identity.tenant_id, conversation.conversation_id, frame.client_msg_id
                )
                if stored is None:
                    if isinstance(error, DuplicateMessage):
                        continue  # the dedupe item exists but its message is not visible yet
                    raise
                ack = self._ack(stored, duplicate=True)
                self._notifier.reply(connection.connection_id, ack)
                return ack
            break
        else:
            raise SequenceConflict("the conversation is too busy; retry the message")

        self._metrics.count("MessagesSent")
        log.info("message stored", extra={"conversation_id": conversation.conversation_id, "seq": message.seq,
                                          "tenant_id": identity.tenant_id, "internal": message.internal})
        ack = self._ack(message)
        if send_ack and connection.role is not Role.BOT:  # the bot has no socket to acknowledge to
            self._notifier.reply(connection.connection_id, ack)
        if self.routing is not None and taker is not None:  # born assigned: the visitor hears it at once
            self.routing.tell_born_assigned(conversation, taker)
        dispatching = False
        if self.routing is not None and (created or (changed and conversation.queued)):
            # Before the fan-out: the dispatcher starts while the agents are being told. It
            # also tells them of a new conversation, one frame per agent for all the
            # conversations of its round (in a burst, instead of one frame per agent each).
            dispatching = self.routing.request_dispatch(identity.tenant_id, [conversation.conversation_id],
                                                        new=created, born_assigned=taker is not None)
        out = self.message_out(message)
        agents = [] if created and dispatching else self._notifier.agents(identity.tenant_id)
        if created:
            if not dispatching:  # one frame per agent: the conversation and its first message
                self._notifier.fan_out(agents, p.ConversationNew(conversation=conversation_summary(conversation),
                                                                 message=out), conversation)
        elif changed:
            self._notifier.fan_out(set(agents) | conversation.watchers,
                                   p.ConversationUpdated(conversation=conversation_summary(conversation)),
                                   conversation)
        audience = set() if created else set(agents)
        if not message.internal:
            audience |= conversation.watchers
        self._notifier.fan_out(
            audience - {connection.connection_id} if send_ack else audience,
            p.MessageNew(conversation_id=conversation.conversation_id, message=out),
            conversation,
        )
        hooks = self.after_visitor_message if connection.role is Role.VISITOR else self.after_agent_message
        for hook in hooks:
            try:
                hook(connection, conversation, message)
            except Exception:  # the message is stored and delivered; a hook's failure must not undo that
                log.exception("after-message hook failed")
        if self.routing is not None and message.internal:
            self.routing.notify_mentions(connection, conversation.conversation_id, message.text)
        return ack

    def write_note(self, connection: Connection, conversation_id: str, text: str) -> None:
        """An internal note in the agent's name (transfers record why here)."""
        frame = p.SendMessage(action="message.send", client_msg_id=new_id("n"), conversation_id=conversation_id,
                              internal=True, text=text[:p.MAX_TEXT_CHARS])
        self.send_message(connection, frame, send_ack=False)

    def _append(
        self, connection: Connection, conversation: Conversation, frame: p.SendMessage,
        attachment: Attachment | None, may_assign: bool = True,
    ) -> tuple[Message, bool]:
        """Store the message; returns it and whether the conversation's status or assignee changed."""
        now = self._clock.now_ms()
        rate = None
        if connection.role is Role.VISITOR:
            allowed, rate, retry_ms = self._visitor_rate.take(conversation.rate, now)
            if not allowed:
                raise RateLimited("you are sending messages too fast; wait a moment",
                                  {"retry_after_ms": retry_ms})
        message = Message(
            tenant_id=conversation.tenant_id,
            conversation_id=conversation.conversation_id,
            seq=conversation.last_seq + 1,
            client_msg_id=frame.client_msg_id,
            sender_role=connection.role,
            sender_id=connection.principal_id,
            sender_name=connection.display_name,
            text=frame.text,
            created_at=now,
            internal=frame.internal,
            attachment=attachment,
        )
        # The first agent to answer an unassigned conversation takes it; a new message reopens
        # a resolved one. Both ride on the same conditional transaction as the sequence number.
        assign_to = (connection.principal_id
                     if connection.role is Role.AGENT and not frame.internal and not conversation.assignee_id
                     and may_assign else None)
        reopen = conversation.status is not ConversationStatus.OPEN
        self._messages.append(conversation, message, rate, assign_to=assign_to, reopen=reopen)
        conversation.last_seq = message.seq
        conversation.updated_at = now
        if not message.internal:
            conversation.last_message_preview = preview(message)
        if assign_to:
            conversation.assignee_id, conversation.assigned_at, conversation.queued_at = assign_to, now, None
        if reopen:
            conversation.status = ConversationStatus.OPEN
            if not assign_to:
                conversation.assignee_id, conversation.queued_at = None, now
        return message, bool(assign_to or reopen)

    def _ack(self, message: Message, duplicate: bool = False) -> p.MessageAck:
        return p.MessageAck(client_msg_id=message.client_msg_id, conversation_id=message.conversation_id,
                            seq=message.seq, created_at=message.created_at, duplicate=duplicate)

    def first_messages(self, tenant_id: str, conversation_ids: list[str]) -> dict[str, p.MessageOut]:
        """The first message of each conversation, as agents get it in `conversation.new`."""
        found = self._messages.first_messages(tenant_id, conversation_ids)
        return {c: self.message_out(m) for c, m in found.items() if not m.internal}

    def message_out(self, message: Message) -> p.MessageOut:
        attachment = None
        if message.attachment is not None and self._attachment_url is not None:
            a = message.attachment
            attachment = p.AttachmentOut(file_id=a.file_id, name=a.name, content_type=a.content_type,
                                         size=a.size, url=self._attachment_url(message))
        return p.MessageOut(
            conversation_id=message.conversation_id,
            seq=message.seq,
            client_msg_id=message.client_msg_id,
            sender_role=message.sender_role.value,
            sender_id=message.sender_id,
            sender_name=message.sender_name,
            text=message.text,
            created_at=message.created_at,
            internal=message.internal,
            attachment=attachment,
        )

    def typing(self, connection: Connection, frame: p.Typing) -> None:
        identity = connection.identity
        if frame.conversation_id is None:
            if identity.is_agent:
                raise InvalidFrame("agents must name the conversation_id")
            visitor = self._visitors.get(identity.tenant_id, identity.principal_id)
            if visitor is None or not visitor.open_conversation_id:
                return  # nothing to be typing into yet
            conversation = self._readable(identity, visitor.open_conversation_id)
        else:
            conversation = self._readable(identity, frame.conversation_id)
        out = p.TypingOut(
            conversation_id=conversation.conversation_id,
            role=_side(identity.role),
            sender_id=identity.principal_id,
            state=frame.state,
            # Only agents see the visitor's draft ("input preview"); agents' drafts stay private.
            draft=frame.draft if identity.role is Role.VISITOR else None,
        )
        self._notifier.fan_out(self._other_side(connection, conversation), out, conversation)

    def mark_read(self, connection: Connection, frame: p.MarkRead) -> None:
        identity = connection.identity
        conversation = self._readable(identity, frame.conversation_id)
        seq = min(frame.seq, conversation.last_seq)
        if not self._conversations.mark_read(identity.tenant_id, conversation.conversation_id,
                                             identity.role.value, seq):
            return
        out = p.ReadOut(conversation_id=conversation.conversation_id, role=_side(identity.role), seq=seq)
        targets = self._other_side(connection, conversation)
        if identity.is_agent:  # other agents' unread counts follow too
            targets |= set(self._notifier.agents(identity.tenant_id)) - {connection.connection_id}
        self._notifier.fan_out(targets, out, conversation)

    def set_status(self, identity: Identity, conversation_id: str, status: ConversationStatus) -> Conversation:
        """Resolve or reopen (agents only); tells agents and the visitor's tabs."""
        if not identity.is_agent:
            raise Forbidden("only agents resolve or reopen conversations")
        for attempt in range(MAX_APPEND_ATTEMPTS):
            current = self._readable(identity, conversation_id)
            try:
                updated = self._conversations.set_status(identity.tenant_id, conversation_id, status.value,
                                                         self._clock.now_ms(), current)
                break
            except SequenceConflict:  # assigned or transferred meanwhile: read it again
                _backoff(attempt)
        else:
            raise SequenceConflict("the conversation is too busy; try again")
        if updated is None:  # already in that status: nothing changed, nobody to tell
            return current
        if self.routing is not None and (current.assignee_id or status is ConversationStatus.OPEN):
            # A resolve frees a slot; a reopen queues the conversation again.
            self.routing.request_dispatch(identity.tenant_id, [conversation_id])
        self._metrics.count("Resolved" if status is ConversationStatus.RESOLVED else "Reopened")
        self._notifier.fan_out(
            set(self._notifier.agents(identity.tenant_id)) | updated.watchers,
            p.ConversationUpdated(conversation=conversation_summary(updated)),
            updated,
        )
        return updated

    def sync(self, connection: Connection, frame: p.Sync) -> p.Messages:
        identity = connection.identity
        conversation = self._readable(identity, frame.conversation_id)
        if connection.role is Role.VISITOR and connection.connection_id not in conversation.watchers:
            self._conversations.add_watcher(identity.tenant_id, conversation.conversation_id,
                                            connection.connection_id)
        messages = self.history(identity, conversation.conversation_id, frame.after_seq, frame.limit,
                                conversation=conversation)
        self._notifier.reply(connection.connection_id, messages)
        return messages

    def history(
        self,
        identity: Identity,
        conversation_id: str,
        after_seq: int,
        limit: int,
        before_seq: int | None = None,
        conversation: Conversation | None = None,
    ) -> p.Messages:
        """Messages after `after_seq` (or the page just before `before_seq`), oldest first.
        Visitors never see internal notes. WebSocket `sync` and REST share this."""
        if conversation is None:
            conversation = self._readable(identity, conversation_id)
        # Internal notes are filtered out for visitors, so a page is filled by reading on
        # until `limit` visible messages are found or the conversation is exhausted.
        visible: list[Message] = []
        has_more = True
        cursor = before_seq if before_seq is not None else after_seq
        while has_more and len(visible) < limit:
            want = limit - len(visible)
            if before_seq is not None:
                stored = self._messages.list_before(identity.tenant_id, conversation_id, cursor, want + 1)
                has_more = len(stored) > want
                stored = stored[-want:]
                if stored:
                    cursor = stored[0].seq
                visible = [m for m in stored if m.visible_to(identity.role)] + visible
            else:
                stored = self._messages.list_after(identity.tenant_id, conversation_id, cursor, want + 1)
                has_more = len(stored) > want
                stored = stored[:want]
                if stored:
                    cursor = stored[-1].seq
                visible += [m for m in stored if m.visible_to(identity.role)]
        return p.Messages(
            conversation_id=conversation_id,
            after_seq=after_seq,
            messages=[self.message_out(m) for m in visible],
            has_more=has_more,
            last_seq=conversation.last_seq,
        )

    def conversation(self, identity: Identity, conversation_id: str) -> Conversation:
        return self._readable(identity, conversation_id)

    def list_conversations(
        self, identity: Identity, status: str, limit: int, cursor: str | None
    ) -> tuple[list[Conversation], str | None]:
        if not identity.is_agent:
            raise Forbidden("only agents list conversations")
        return self._conversations.list_by_status(identity.tenant_id, status, limit, cursor)

    # ------------------------------------------------------------ helpers

    def connection(self, connection_id: str) -> Connection:
        return self._connection(connection_id)

    def _connection(self, connection_id: str) -> Connection:
        cached = self._connection_cache.get(connection_id)
        if cached is not None:
            self._connection_cache.move_to_end(connection_id)
            return cached
        connection = self._connections.get(connection_id)
        if connection is None:
            raise Unauthenticated("this connection is not registered; reconnect")
        self._remember(connection)
        return connection

    def _remember(self, connection: Connection) -> None:
        self._connection_cache[connection.connection_id] = connection
        while len(self._connection_cache) > 10_000:
            self._connection_cache.popitem(last=False)

    def _readable(self, identity: Identity, conversation_id: str) -> Conversation:
        conversation = self._conversations.get(identity.tenant_id, conversation_id)
        if conversation is None or not conversation.readable_by(identity):
            # Same answer for "not yours" and "does not exist": ids are not an oracle.
            raise ConversationNotFound("no such conversation")
        return conversation

    def _visitor_conversation(self, connection: Connection, first_text: str = ""
                              ) -> tuple[Conversation, bool, AgentState | None]:
        """The visitor's open conversation, created if there is none: (conversation, whether
        this call created it, the agent it was born assigned to)."""
        identity = connection.identity
        visitor = self._visitors.get(identity.tenant_id, identity.principal_id)
        if visitor is None:
            raise Unauthenticated("unknown visitor")
        if visitor.open_conversation_id:
            return self._readable(identity, visitor.open_conversation_id), False, None
        now = self._clock.now_ms()
        draft = Conversation(
            tenant_id=identity.tenant_id,
            conversation_id=new_id("c"),
            visitor_id=identity.principal_id,
            status=ConversationStatus.OPEN,
            created_at=now,
            updated_at=now,
            watchers=set(self._connections.visitor_connections(identity.tenant_id, identity.principal_id))
            | {connection.connection_id},
        )
        if self.routing is not None:  # born in the queue, with the group and priority its rules give
            decision = self.routing.decide(visitor, first_text)
            draft.group_id, draft.priority, draft.message_type = (decision.group_id, decision.priority,
                                                                  decision.message_type)
            draft.queued_at = now
            conversation, taker = self.routing.open_conversation(draft, self._conversations.create_for_visitor)
        else:
            conversation, taker = self._conversations.create_for_visitor(draft), None
        created = conversation.conversation_id == draft.conversation_id
        if created:
            # A tab that connected while we created the conversation saw no open conversation
            # and did not join it: list the tabs again now that it is committed.
            late = set(self._connections.visitor_connections(identity.tenant_id, identity.principal_id))
            for connection_id in late - conversation.watchers:
                self._conversations.add_watcher(identity.tenant_id, conversation.conversation_id, connection_id)
                conversation.watchers.add(connection_id)
        return conversation, created, taker

    def _other_side(self, connection: Connection, conversation: Conversation) -> set[str]:
        if connection.role is Role.VISITOR:
            return set(self._notifier.agents(connection.tenant_id))
        return set(conversation.watchers)
