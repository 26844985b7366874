"""DynamoDB repositories: the domain's ports implemented with pynamodb.

SDK errors become domain errors here (ConditionalCheckFailed → SequenceConflict, ...).
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Sequence

from pynamodb.connection import Connection as PynamoConnection
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition as DbCondition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from ..domain.errors import AgentUnavailable, Conflict, DuplicateMessage, SequenceConflict
from ..domain.model import (
    Agent,
    Attachment,
    CannedReply,
    Connection,
    Conversation,
    ConversationStatus,
    Group,
    LeftMessage,
    Message,
    PageVisit,
    RateState,
    Role,
    Tenant,
    Visitor,
)
from ..domain.ports import (
    AgentRepository,
    CannedReplyRepository,
    ConnectionRepository,
    ConversationRepository,
    LeaseTry,
    MessageRepository,
    RoutingRepository,
    TenantRepository,
    VisitorRepository,
)
from ..domain.routing import AgentState, BusinessHours, Condition, RoutingRule, queue_key
from .ridealong import get_with_stale
from .tables import (
    AgentItem,
    ConnectionItem,
    ConversationItem,
    MessageItem,
    SettingsItem,
    TenantItem,
    VisitorItem,
)

LOGIN_PARTITION = "@login"
DEFAULT_CAPACITY = 3


def _pending(raw: dict[str, Any]) -> list[str]:
    """The `pending` set in an UpdateItem answer's old attributes (ReturnValues=UPDATED_OLD)."""
    return sorted(raw.get("Attributes", {}).get("pending", {}).get("SS", []))


def _conditional_failed(error: Exception) -> bool:
    cause = getattr(error, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"


_transaction_connections: dict[tuple[str | None, str | None], PynamoConnection] = {}


def _transaction_connection() -> PynamoConnection:
    """One connection (one botocore client, which is thread-safe) per endpoint, reused by
    every transaction: building a client costs tens of milliseconds of CPU."""
    meta = ConversationItem.Meta
    key = (meta.region, getattr(meta, "host", None))
    connection = _transaction_connections.get(key)
    if connection is None:
        connection = _transaction_connections.setdefault(key, PynamoConnection(
            region=key[0], host=key[1], max_pool_connections=meta.max_pool_connections))
    return connection


# ------------------------------------------------------------------ tenants, agents, visitors


class DynamoTenants(TenantRepository):
    def get(self, tenant_id: str) -> Tenant | None:
        try:
            item = TenantItem.get(tenant_id)
        except DoesNotExist:
            return None
        return self._tenant(item)

    def get_by_site_key(self, site_key: str) -> Tenant | None:
        for item in TenantItem.by_site_key.query(site_key, limit=1):
            return self._tenant(item)
        return None

    def add(self, tenant: Tenant) -> None:
        TenantItem(tenant.tenant_id, name=tenant.name, site_key=tenant.site_key,
                   created_at=tenant.created_at, identity_secret=tenant.identity_secret or None).save()

    @staticmethod
    def _tenant(item: TenantItem) -> Tenant:
        return Tenant(item.tenant_id, item.name, item.site_key, int(item.created_at), item.identity_secret or "")


class DynamoAgents(AgentRepository):
    def get(self, tenant_id: str, agent_id: str) -> Agent | None:
        try:
            item = AgentItem.get(tenant_id, agent_id)
        except DoesNotExist:
            return None
        return self._agent(item)

    def get_by_email(self, email: str) -> Agent | None:
        try:
            login = AgentItem.get(LOGIN_PARTITION, email.lower())
        except DoesNotExist:
            return None
        return self.get(login.login_tenant_id or "", login.login_agent_id or "")

    def add(self, agent: Agent) -> None:
        email = agent.email.lower()
        try:
            with TransactWrite(connection=_transaction_connection()) as tx:
                tx.save(
                    AgentItem(LOGIN_PARTITION, email, login_tenant_id=agent.tenant_id,
                              login_agent_id=agent.agent_id),
                    condition=AgentItem.agent_id.does_not_exist(),
                )
                tx.save(
                    AgentItem(agent.tenant_id, agent.agent_id, email=email,
                              display_name=agent.display_name, password_hash=agent.password_hash,
                              role=agent.role, created_at=agent.created_at, capacity=DEFAULT_CAPACITY,
                              load=0, live_connections=0, seniority=0),
                    condition=AgentItem.agent_id.does_not_exist(),
                )
        except TransactWriteError:
            raise Conflict(f"an agent with email {email} already exists") from None

    def set_presence(self, tenant_id: str, agent_id: str, state: str, at_ms: int) -> bool:
        # Two frames of one socket can run at once: the one received later wins, whichever
        # invocation finishes first.
        try:
            AgentItem(tenant_id, agent_id).update(
                actions=[AgentItem.presence.set(state), AgentItem.presence_at.set(at_ms)],
                condition=AgentItem.agent_id.exists() & (AgentItem.presence_at.does_not_exist()
                                                         | (AgentItem.presence_at <= at_ms)),
            )
        except UpdateError as error:
            if not _conditional_failed(error):
                raise
            return False
        return True

    @staticmethod
    def _agent(item: AgentItem) -> Agent:
        return Agent(item.tenant_id, item.agent_id, item.email or "", item.display_name or "",
                     item.password_hash or "", item.role or "agent", int(item.created_at),
                     item.presence or "offline", int(item.presence_at or 0))


class DynamoVisitors(VisitorRepository):
    def get(self, tenant_id: str, visitor_id: str) -> Visitor | None:
        try:
            item = VisitorItem.get(tenant_id, visitor_id, consistent_read=True)
        except DoesNotExist:
            return None
        return self._visitor(item)

    def add(self, visitor: Visitor) -> None:
        VisitorItem(visitor.tenant_id, visitor.visitor_id, created_at=visitor.created_at,
                    last_seen_at=visitor.last_seen_at, visits=visitor.visits, device=visitor.device,
                    version=0).save(condition=VisitorItem.visitor_id.does_not_exist())

    def touch(self, tenant_id: str, visitor_id: str, now_ms: int, device: str | None) -> Visitor | None:
        item = VisitorItem(tenant_id, visitor_id)
        actions: list[Action] = [VisitorItem.last_seen_at.set(now_ms), VisitorItem.visits.add(1)]
        if device:
            actions.append(VisitorItem.device.set(device))
        try:
            item.update(actions=actions, condition=VisitorItem.visitor_id.exists())
        except UpdateError as error:
            if _conditional_failed(error):
                return None
            raise
        return self._visitor(item)

    def save_profile(self, visitor: Visitor) -> None:
        v = visitor
        actions: list[Action] = [
            VisitorItem.last_seen_at.set(v.last_seen_at),
            VisitorItem.attributes_json.set(json.dumps(v.attributes)),
            VisitorItem.identified_at_json.set(json.dumps(v.identified_at)),
            VisitorItem.trail_json.set(json.dumps([[t.url, t.title, t.at] for t in v.trail])),
            VisitorItem.utm_json.set(json.dumps(v.utm)),
            VisitorItem.verified.set(v.verified),
            VisitorItem.version.set(v.version + 1),
        ]
        for attribute, value in ((VisitorItem.name, v.name), (VisitorItem.email, v.email),
                                 (VisitorItem.phone, v.phone), (VisitorItem.referrer, v.referrer),
                                 (VisitorItem.source, v.source), (VisitorItem.language, v.language),
                                 (VisitorItem.screen, v.screen)):
            actions.append(attribute.set(value) if value else attribute.remove())
        condition = (VisitorItem.version == v.version) if v.version else (
            VisitorItem.version.does_not_exist() | (VisitorItem.version == 0))
        try:
            VisitorItem(v.tenant_id, v.visitor_id).update(
                actions=actions, condition=VisitorItem.visitor_id.exists() & condition)
        except UpdateError as error:
            if _conditional_failed(error):
                raise Conflict("the visitor changed meanwhile") from None
            raise
        v.version += 1

    @staticmethod
    def _visitor(item: VisitorItem) -> Visitor:
        trail = [PageVisit(url, title, int(at)) for url, title, at in json.loads(item.trail_json or "[]")]
        return Visitor(
            tenant_id=item.tenant_id, visitor_id=item.visitor_id, created_at=int(item.created_at),
            last_seen_at=int(item.last_seen_at), open_conversation_id=item.open_conversation_id,
            visits=int(item.visits), name=item.name, email=item.email, phone=item.phone,
            verified=bool(item.verified), attributes=json.loads(item.attributes_json or "{}"),
            identified_at=json.loads(item.identified_at_json or "{}"),
            trail=trail, referrer=item.referrer, source=item.source,
            utm=json.loads(item.utm_json or "{}"), device=item.device, language=item.language,
            screen=item.screen, version=int(item.version or 0),
        )


# ------------------------------------------------------------------ connections


class DynamoConnections(ConnectionRepository):
    def add(self, connection: Connection) -> None:
        ConnectionItem(
            connection.connection_id,
            tenant_id=connection.tenant_id,
            role=connection.role.value,
            principal_id=connection.principal_id,
            display_name=connection.display_name,
            connected_at=connection.connected_at,
            expires_at=connection.expires_at // 1000,
            owner_key=f"{connection.tenant_id}#{connection.role.value}#{connection.principal_id}",
            audience_key=f"{connection.tenant_id}#agents" if connection.role is Role.AGENT else None,
        ).save()

    def get(self, connection_id: str) -> Connection | None:
        try:
            # Consistent: a frame can reach another Lambda milliseconds after $connect wrote it.
            item = ConnectionItem.get(connection_id, consistent_read=True)
        except DoesNotExist:
            return None
        return self._connection(item)

    def remove(self, connection_id: str) -> Connection | None:
        # One DeleteItem with ReturnValues=ALL_OLD: we learn what was removed, if anything.
        raw = ConnectionItem._get_connection().delete_item(connection_id, return_values="ALL_OLD")
        attributes = raw.get("Attributes") if raw else None
        if not attributes:
            return None
        return self._connection(ConnectionItem.from_raw_data(attributes))

    def remove_gone(self, connection_id: str, connected_before: int) -> bool:
        # One conditional DeleteItem: deleting an item that is not there succeeds.
        condition = (ConnectionItem.connection_id.does_not_exist()
                     | (ConnectionItem.connected_at < connected_before))
        try:
            ConnectionItem(connection_id).delete(condition=condition)
        except DeleteError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def agent_connections(self, tenant_id: str) -> list[str]:
        return [i.connection_id for i in ConnectionItem.by_audience.query(f"{tenant_id}#agents")]

    def visitor_connections(self, tenant_id: str, visitor_id: str) -> list[str]:
        return self.owner_connections(tenant_id, Role.VISITOR, visitor_id)

    def owner_connections(self, tenant_id: str, role: Role, principal_id: str) -> list[str]:
        key = f"{tenant_id}#{role.value}#{principal_id}"
        return [i.connection_id for i in ConnectionItem.by_owner.query(key)]

    @staticmethod
    def _connection(item: ConnectionItem) -> Connection:
        return Connection(
            connection_id=item.connection_id,
            tenant_id=item.tenant_id,
            role=Role(item.role),
            principal_id=item.principal_id,
            display_name=item.display_name or "",
            connected_at=int(item.connected_at),
            expires_at=int(item.expires_at) * 1000,
        )


# ------------------------------------------------------------------ conversations and messages


def _conversation(item: ConversationItem) -> Conversation:
    rate = None
    if item.rate_tokens is not None and item.rate_updated_ms is not None:
        rate = RateState(float(item.rate_tokens), int(item.rate_updated_ms))
    return Conversation(
        tenant_id=item.tenant_id,
        conversation_id=item.conversation_id,
        visitor_id=item.visitor_id,
        status=ConversationStatus(item.status),
        created_at=int(item.created_at),
        updated_at=int(item.updated_at),
        last_seq=int(item.last_seq),
        last_message_preview=item.last_message_preview or "",
        visitor_read_seq=int(item.visitor_read_seq),
        agent_read_seq=int(item.agent_read_seq),
        assignee_id=item.assignee_id,
        watchers=set(item.watchers or ()),
        rate=rate,
        ticket_number=int(item.ticket_number) if item.ticket_number is not None else None,
        group_id=item.group_id,
        priority=item.priority or "normal",
        message_type=item.message_type,
        queued_at=int(item.queued_at) if item.queued_at is not None else None,
        assigned_at=int(item.assigned_at) if item.assigned_at is not None else None,
        last_assignee_id=item.last_assignee_id,
    )


def _queue_actions(c: Conversation, now_ms: int) -> list[Action]:
    """SET the attributes that put a conversation in the queue index (it is unassigned)."""
    return [ConversationItem.queued_at.set(now_ms), ConversationItem.queue_pk.set(c.tenant_id),
            ConversationItem.queue_sk.set(queue_key(c.priority, now_ms, c.conversation_id))]


def _unqueue_actions() -> list[Action]:
    return [ConversationItem.queued_at.remove(), ConversationItem.queue_pk.remove(),
            ConversationItem.queue_sk.remove()]


class DynamoConversations(ConversationRepository):
    def get(self, tenant_id: str, conversation_id: str) -> Conversation | None:
        # One request: a GetItem, or a BatchGetItem that also refreshes the tenant's cached
        # items that are due (the bot's settings, the knowledge base's revision; ridealong.py).
        item = get_with_stale(ConversationItem, tenant_id, conversation_id, _transaction_connection())
        return _conversation(item) if item is not None else None

    def get_many(self, tenant_id: str, conversation_ids: list[str]) -> dict[str, Conversation]:
        """BatchGetItem, consistent (100 keys a request; pynamodb retries unprocessed keys)."""
        keys = [(tenant_id, c) for c in dict.fromkeys(conversation_ids)]
        return {item.conversation_id: _conversation(item)
                for item in ConversationItem.batch_get(keys, consistent_read=True)}

    def create_for_visitor(self, conversation: Conversation, reachable_since: int | None = None) -> Conversation:
        c = conversation
        item = ConversationItem(
            c.tenant_id,
            c.conversation_id,
            visitor_id=c.visitor_id,
            visitor_key=f"{c.tenant_id}#{c.visitor_id}",
            status=c.status.value,
            status_key=f"{c.tenant_id}#{c.status.value}",
            created_at=c.created_at,
            updated_at=c.updated_at,
            last_seq=0,
            watchers=set(c.watchers) or None,
            group_id=c.group_id,
            priority=c.priority,
            message_type=c.message_type,
            queued_at=c.queued_at,
            queue_pk=c.tenant_id if c.queued_at is not None else None,
            queue_sk=queue_key(c.priority, c.queued_at, c.conversation_id) if c.queued_at is not None else None,
            assignee_id=c.assignee_id,
            assigned_at=c.assigned_at if c.assignee_id else None,
        )
        try:
            with TransactWrite(connection=_transaction_connection()) as tx:
                tx.save(item, condition=ConversationItem.conversation_id.does_not_exist())
                tx.update(
                    VisitorItem(c.tenant_id, c.visitor_id),
                    actions=[VisitorItem.open_conversation_id.set(c.conversation_id)],
                    condition=VisitorItem.visitor_id.exists()
                    & VisitorItem.open_conversation_id.does_not_exist(),
                )
                if c.assignee_id:  # born assigned: the agent takes one more, on the same conditions as dispatch
                    tx.update(AgentItem(c.tenant_id, c.assignee_id),
                              actions=[AgentItem.load.add(1), AgentItem.last_assigned_at.set(c.created_at)],
                              condition=DynamoRouting.agent_takes_one(reachable_since))
        except TransactWriteError as error:
            # [conversation put, visitor update, agent update]: only the agent refused → nothing written.
            reasons = _transaction_failures(error)
            if c.assignee_id and len(reasons) == 3 and reasons[:2] == [None, None] and reasons[2] is not None:
                raise AgentUnavailable("the agent cannot take another conversation now",
                                       {"agent_id": c.assignee_id}) from None
            # Another tab created the visitor's conversation first: use that one.
            visitor = VisitorItem.get(c.tenant_id, c.visitor_id, consistent_read=True)
            existing = self.get(c.tenant_id, visitor.open_conversation_id or "")
            if existing is None:
                raise
            return existing
        return conversation

    def add_watcher(self, tenant_id: str, conversation_id: str, connection_id: str) -> None:
        try:
            ConversationItem(tenant_id, conversation_id).update(
                actions=[ConversationItem.watchers.add({connection_id})],
                condition=ConversationItem.conversation_id.exists(),
            )
        except UpdateError as error:
            if not _conditional_failed(error):
                raise

    def remove_watcher(self, tenant_id: str, conversation_id: str, connection_id: str) -> None:
        try:
            ConversationItem(tenant_id, conversation_id).update(
                actions=[ConversationItem.watchers.delete({connection_id})],
                condition=ConversationItem.conversation_id.exists(),
            )
        except UpdateError as error:
            if not _conditional_failed(error):
                raise

    def list_by_status(
        self, tenant_id: str, status: str, limit: int, cursor: str | None
    ) -> tuple[list[Conversation], str | None]:
        last_key = None
        if cursor:
            updated_at, conversation_id = cursor.split(":", 1)
            last_key = {
                "tenant_id": {"S": tenant_id},
                "conversation_id": {"S": conversation_id},
                "status_key": {"S": f"{tenant_id}#{status}"},
                "updated_at": {"N": updated_at},
            }
        result = ConversationItem.by_status.query(
            f"{tenant_id}#{status}", scan_index_forward=False, limit=limit, last_evaluated_key=last_key
        )
        items = [_conversation(i) for i in result]
        next_cursor = None
        if result.last_evaluated_key and len(items) == limit:
            key = result.last_evaluated_key
            next_cursor = f"{key['updated_at']['N']}:{key['conversation_id']['S']}"
        return items, next_cursor

    def list_for_visitor(self, tenant_id: str, visitor_id: str, limit: int) -> list[Conversation]:
        return [_conversation(i) for i in ConversationItem.by_visitor.query(
            f"{tenant_id}#{visitor_id}", scan_index_forward=False, limit=limit)]

    def mark_read(self, tenant_id: str, conversation_id: str, role: str, seq: int) -> bool:
        attribute = ConversationItem.visitor_read_seq if role == "visitor" else ConversationItem.agent_read_seq
        try:
            ConversationItem(tenant_id, conversation_id).update(
                actions=[attribute.set(seq)],
                condition=ConversationItem.conversation_id.exists() & (attribute < seq),
            )
        except UpdateError as error:
            if _conditional_failed(error):
                return False
            raise
        return True


    def set_status(self, tenant_id: str, conversation_id: str, status: str, now_ms: int,
                   conversation: Conversation | None = None) -> Conversation | None:
        """Resolve: the assignee's load goes down in the same transaction and the conversation
        leaves the queue; reopen: back to the queue, unassigned. Conditional on the status
        (and the assignee) read, so a double click changes it once."""
        c = conversation or self.get(tenant_id, conversation_id)
        if c is None or c.status.value == status:
            return None
        actions: list[Action] = [ConversationItem.status.set(status), ConversationItem.status_key.set(f"{tenant_id}#{status}"),
                   ConversationItem.updated_at.set(now_ms)]
        condition = ConversationItem.status == c.status.value
        if c.assignee_id:
            condition &= ConversationItem.assignee_id == c.assignee_id
            actions += [ConversationItem.assignee_id.remove(), ConversationItem.assigned_at.remove(),
                        ConversationItem.last_assignee_id.set(c.assignee_id)]
        else:
            condition &= ConversationItem.assignee_id.does_not_exist()
        actions += _unqueue_actions() if status == ConversationStatus.RESOLVED.value else _queue_actions(c, now_ms)
        try:
            with TransactWrite(connection=_transaction_connection()) as tx:
                tx.update(ConversationItem(tenant_id, conversation_id), actions=actions, condition=condition)
                if c.assignee_id:
                    tx.update(AgentItem(tenant_id, c.assignee_id), actions=[AgentItem.load.add(-1)],
                              condition=AgentItem.agent_id.exists())
        except TransactWriteError as error:
            if {"ConditionalCheckFailed", "TransactionConflict"} & set(_transaction_failures(error)):
                raise SequenceConflict("the conversation changed meanwhile; read it again") from None
            raise
        # The transaction's conditions pinned everything we read: the result is known.
        updated = replace(c, status=ConversationStatus(status), updated_at=now_ms, assignee_id=None,
                          assigned_at=None, last_assignee_id=c.assignee_id or c.last_assignee_id,
                          queued_at=None if status == ConversationStatus.RESOLVED.value else now_ms)
        return updated


def _message_key(tenant_id: str, conversation_id: str) -> str:
    return f"{tenant_id}#{conversation_id}"


def _seq_key(seq: int) -> str:
    return f"m#{seq:010d}"


class DynamoMessages(MessageRepository):
    def append(self, conversation: Conversation, message: Message, rate: RateState | None,
               assign_to: str | None = None, reopen: bool = False) -> None:
        """One TransactWriteItems request: advance the conversation's seq (conditional on
        the value we read), store the message, and claim its client message id."""
        c, m = conversation, message
        key = _message_key(c.tenant_id, c.conversation_id)
        actions: list[Action] = [
            ConversationItem.last_seq.set(m.seq),
            ConversationItem.updated_at.set(m.created_at),
        ]
        if not m.internal:
            preview = m.text[:140] if m.text.strip() else f"[{m.attachment.name}]" if m.attachment else ""
            actions.append(ConversationItem.last_message_preview.set(preview))
        if assign_to:
            actions += [ConversationItem.assignee_id.set(assign_to), ConversationItem.assigned_at.set(m.created_at),
                        *_unqueue_actions()]
        if reopen:
            actions += [ConversationItem.status.set(ConversationStatus.OPEN.value),
                        ConversationItem.status_key.set(f"{c.tenant_id}#{ConversationStatus.OPEN.value}")]
            if not assign_to:  # back to the queue; resolving already took it from its agent
                actions += _queue_actions(c, m.created_at)
        if rate is not None:
            actions += [ConversationItem.rate_tokens.set(rate.tokens),
                        ConversationItem.rate_updated_ms.set(rate.updated_ms)]
        seq_condition = (
            ConversationItem.last_seq == c.last_seq
            if c.last_seq
            else (ConversationItem.last_seq.does_not_exist() | (ConversationItem.last_seq == 0))
        )
        # The status we decided on (reopen or not) must still hold when we write.
        seq_condition &= ConversationItem.status == c.status.value
        if assign_to:
            seq_condition &= ConversationItem.assignee_id.does_not_exist()
        try:
            with TransactWrite(connection=_transaction_connection()) as tx:
                tx.update(
                    ConversationItem(c.tenant_id, c.conversation_id),
                    actions=actions,
                    condition=seq_condition,
                )
                a = m.attachment
                tx.save(
                    MessageItem(key, _seq_key(m.seq), seq=m.seq, client_msg_id=m.client_msg_id,
                                sender_role=m.sender_role.value, sender_id=m.sender_id,
                                sender_name=m.sender_name, text=m.text, created_at=m.created_at,
                                internal=m.internal or None,
                                att_file_id=a.file_id if a else None, att_name=a.name if a else None,
                                att_type=a.content_type if a else None, att_size=a.size if a else None),
                    condition=MessageItem.item_key.does_not_exist(),
                )
                tx.save(
                    MessageItem(key, f"c#{m.client_msg_id}", seq=m.seq, is_dedupe=True),
                    condition=MessageItem.item_key.does_not_exist(),
                )
                if assign_to:  # the replying agent takes the conversation: one more on their load
                    tx.update(AgentItem(c.tenant_id, assign_to),
                              actions=[AgentItem.load.add(1), AgentItem.last_assigned_at.set(m.created_at)],
                              condition=AgentItem.agent_id.exists() & (AgentItem.load < AgentItem.capacity))
        except TransactWriteError as error:
            reasons = [getattr(r, "code", None) for r in (error.cancellation_reasons or [])]
            # pynamodb sends puts before updates:
            # [message put, dedupe put, conversation update, agent update (when assigning)].
            failed = {i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed"}
            if 1 in failed:
                raise DuplicateMessage("this client_msg_id is already stored") from None
            if failed == {3}:
                raise AgentUnavailable("the agent is at capacity") from None
            if 2 in failed or 0 in failed:
                raise SequenceConflict("the conversation moved on; read it again") from None
            if "TransactionConflict" in reasons:
                raise SequenceConflict("a concurrent transaction touched the conversation") from None
            raise

    def get_by_client_id(self, tenant_id: str, conversation_id: str, client_msg_id: str) -> Message | None:
        key = _message_key(tenant_id, conversation_id)
        try:
            dedupe = MessageItem.get(key, f"c#{client_msg_id}", consistent_read=True)
            item = MessageItem.get(key, _seq_key(int(dedupe.seq)), consistent_read=True)
        except DoesNotExist:
            return None
        return self._message(tenant_id, conversation_id, item)

    def list_after(self, tenant_id: str, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        key = _message_key(tenant_id, conversation_id)
        items = MessageItem.query(
            key,
            MessageItem.item_key.between(_seq_key(after_seq + 1), _seq_key(9_999_999_999)),
            consistent_read=True,
            limit=limit,
        )
        return [self._message(tenant_id, conversation_id, i) for i in items]

    def list_before(self, tenant_id: str, conversation_id: str, before_seq: int, limit: int) -> list[Message]:
        key = _message_key(tenant_id, conversation_id)
        items = MessageItem.query(
            key,
            MessageItem.item_key.between(_seq_key(0), _seq_key(max(0, before_seq - 1))),
            consistent_read=True,
            scan_index_forward=False,
            limit=limit,
        )
        return list(reversed([self._message(tenant_id, conversation_id, i) for i in items]))

    def first_messages(self, tenant_id: str, conversation_ids: list[str]) -> dict[str, Message]:
        """BatchGetItem, consistent (100 keys a request; pynamodb retries unprocessed keys)."""
        keys = [(_message_key(tenant_id, c), _seq_key(1)) for c in dict.fromkeys(conversation_ids)]
        found: dict[str, Message] = {}
        for item in MessageItem.batch_get(keys, consistent_read=True):
            conversation_id = item.conversation_key.split("#", 1)[1]
            found[conversation_id] = self._message(tenant_id, conversation_id, item)
        return found

    @staticmethod
    def _message(tenant_id: str, conversation_id: str, item: MessageItem) -> Message:
        return Message(
            tenant_id=tenant_id,
            conversation_id=conversation_id,
            seq=int(item.seq),
            client_msg_id=item.client_msg_id or "",
            sender_role=Role(item.sender_role or "visitor"),
            sender_id=item.sender_id or "",
            sender_name=item.sender_name or "",
            text=item.text or "",
            created_at=int(item.created_at or 0),
            internal=bool(item.internal),
            attachment=Attachment(item.att_file_id, item.att_name or "", item.att_type or "",
                                  int(item.att_size or 0)) if item.att_file_id else None,
        )


class DynamoCannedReplies(CannedReplyRepository):
    PREFIX = "canned#"

    def list(self, tenant_id: str) -> list[CannedReply]:
        return [self._reply(i) for i in SettingsItem.query(
            tenant_id, SettingsItem.item_key.startswith(self.PREFIX))]

    def get(self, tenant_id: str, reply_id: str) -> CannedReply | None:
        try:
            return self._reply(SettingsItem.get(tenant_id, self.PREFIX + reply_id))
        except DoesNotExist:
            return None

    def put(self, reply: CannedReply) -> None:
        SettingsItem(reply.tenant_id, self.PREFIX + reply.reply_id, shortcut=reply.shortcut, text=reply.text,
                     updated_at=reply.updated_at).save()

    def delete(self, tenant_id: str, reply_id: str) -> bool:
        raw = SettingsItem._get_connection().delete_item(tenant_id, self.PREFIX + reply_id,
                                                          return_values="ALL_OLD")
        return bool(raw and raw.get("Attributes"))

    def _reply(self, item: SettingsItem) -> CannedReply:
        return CannedReply(item.tenant_id, item.item_key[len(self.PREFIX):], item.shortcut or "",
                           item.text or "", int(item.updated_at))


# ------------------------------------------------------------------ routing


def _agent_state(item: AgentItem) -> AgentState:
    return AgentState(
        agent_id=item.agent_id,
        display_name=item.display_name or "",
        groups=frozenset(item.groups or ()),
        languages=frozenset(item.languages or ()),
        seniority=int(item.seniority or 0),
        capacity=int(item.capacity if item.capacity is not None else DEFAULT_CAPACITY),
        load=int(item.load or 0),
        presence=item.presence or "offline",
        live_connections=int(item.live_connections or 0),
        heartbeat_at=int(item.heartbeat_at or 0),
        last_assigned_at=int(item.last_assigned_at or 0),
        role=item.role or "agent",
    )


def _rule_to_json(rule: RoutingRule) -> str:
    return json.dumps({
        "name": rule.name, "position": rule.position, "group_id": rule.group_id, "priority": rule.priority,
        "enabled": rule.enabled,
        "conditions": [{"field": c.field, "op": c.op, "key": c.key,
                        "value": list(c.value) if isinstance(c.value, tuple) else c.value}
                       for c in rule.conditions],
    })


def _rule_from_json(tenant_id: str, rule_id: str, raw: str) -> RoutingRule:
    data = json.loads(raw)
    conditions = tuple(
        Condition(c["field"], c["op"], tuple(c["value"]) if isinstance(c["value"], list) else c["value"],
                  c.get("key"))
        for c in data.get("conditions", []))
    return RoutingRule(tenant_id, rule_id, data.get("name", ""), int(data.get("position", 0)), conditions,
                       data.get("group_id"), data.get("priority"), bool(data.get("enabled", True)))


def _transaction_failures(error: TransactWriteError) -> list[str | None]:
    return [getattr(r, "code", None) for r in (error.cancellation_reasons or [])]


class DynamoRouting(RoutingRepository):
    GROUP, RULE, LEFT = "group#", "rule#", "left#"
    HOURS, LEASE = "routing#hours", "dispatch#lease"

    def __init__(self) -> None:
        self._lease_busy_seen: dict[str, int] = {}  # tenant → when this container last found the lease held

    # -- agents

    def agents(self, tenant_id: str) -> list[AgentState]:
        return [_agent_state(i) for i in AgentItem.query(tenant_id)]

    def agent(self, tenant_id: str, agent_id: str) -> AgentState | None:
        try:
            return _agent_state(AgentItem.get(tenant_id, agent_id, consistent_read=True))
        except DoesNotExist:
            return None

    def save_profile(self, tenant_id: str, agent_id: str, groups: frozenset[str], languages: frozenset[str],
                     seniority: int, capacity: int) -> AgentState | None:
        item = AgentItem(tenant_id, agent_id)
        actions: list[Action] = [AgentItem.seniority.set(seniority), AgentItem.capacity.set(capacity),
                   AgentItem.groups.set(set(groups)) if groups else AgentItem.groups.remove(),
                   AgentItem.languages.set(set(languages)) if languages else AgentItem.languages.remove()]
        try:
            item.update(actions=actions, condition=AgentItem.agent_id.exists())
        except UpdateError as error:
            if _conditional_failed(error):
                return None
            raise
        return _agent_state(item)

    def connected(self, tenant_id: str, agent_id: str, now_ms: int) -> None:
        self._touch(tenant_id, agent_id, [AgentItem.live_connections.add(1), AgentItem.heartbeat_at.set(now_ms)])

    def disconnected(self, tenant_id: str, agent_id: str) -> None:
        try:
            AgentItem(tenant_id, agent_id).update(
                actions=[AgentItem.live_connections.add(-1)],
                condition=AgentItem.agent_id.exists() & (AgentItem.live_connections > 0))
        except UpdateError as error:
            if not _conditional_failed(error):
                raise

    def heartbeat(self, tenant_id: str, agent_id: str, now_ms: int, timeout_ms: int) -> bool:
        # Usually one conditional write (the last beat is recent); only a revival costs a second.
        try:
            AgentItem(tenant_id, agent_id).update(
                actions=[AgentItem.heartbeat_at.set(now_ms)],
                condition=AgentItem.agent_id.exists() & (AgentItem.heartbeat_at >= now_ms - timeout_ms))
            return False
        except UpdateError as error:
            if not _conditional_failed(error):
                raise
        self._touch(tenant_id, agent_id, [AgentItem.heartbeat_at.set(now_ms)])
        return True

    @staticmethod
    def _touch(tenant_id: str, agent_id: str, actions: list[Action]) -> None:
        try:
            AgentItem(tenant_id, agent_id).update(actions=actions, condition=AgentItem.agent_id.exists())
        except UpdateError as error:
            if not _conditional_failed(error):
                raise

    # -- queue and assignments

    def queue(self, tenant_id: str, limit: int) -> list[Conversation]:
        return [_conversation(i) for i in ConversationItem.by_queue.query(tenant_id, limit=limit)]

    def reprioritize(self, tenant_id: str, conversation_id: str, priority: str) -> bool:
        conversation = DynamoConversations().get(tenant_id, conversation_id)
        if conversation is None or conversation.queued_at is None:
            return False
        try:
            ConversationItem(tenant_id, conversation_id).update(
                actions=[ConversationItem.priority.set(priority),
                         ConversationItem.queue_sk.set(queue_key(priority, conversation.queued_at, conversation_id))],
                condition=(ConversationItem.queued_at == conversation.queued_at)
                & ConversationItem.assignee_id.does_not_exist())
        except UpdateError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def queue_position(self, tenant_id: str, conversation: Conversation) -> int:
        key = queue_key(conversation.priority, conversation.queued_at or 0, conversation.conversation_id)
        return 1 + ConversationItem.by_queue.count(tenant_id, ConversationItem.queue_sk < key)

    @staticmethod
    def agent_takes_one(reachable_since: int | None) -> DbCondition:
        """The agent's side of an assignment: below capacity (and reachable)."""
        condition = AgentItem.agent_id.exists() & (AgentItem.load < AgentItem.capacity)
        if reachable_since is not None:
            condition &= ((AgentItem.presence == "online") & (AgentItem.live_connections > 0)
                          & (AgentItem.heartbeat_at >= reachable_since))
        return condition

    @staticmethod
    def _assignee_set(agent_id: str, now_ms: int) -> list[Action]:
        return [ConversationItem.assignee_id.set(agent_id), ConversationItem.assigned_at.set(now_ms),
                ConversationItem.queued_at.remove(), ConversationItem.queue_pk.remove(),
                ConversationItem.queue_sk.remove()]

    def assign(self, tenant_id: str, conversation_id: str, agent_id: str, now_ms: int, *,
               expected_assignee: str | None = None, reachable_since: int | None = None,
               note: str | None = None) -> None:
        agent_condition = self.agent_takes_one(reachable_since)
        conversation_condition = ConversationItem.status == ConversationStatus.OPEN.value
        conversation_condition &= (ConversationItem.assignee_id == expected_assignee if expected_assignee
                                   else ConversationItem.assignee_id.does_not_exist())
        actions = self._assignee_set(agent_id, now_ms)
        if expected_assignee:
            actions.append(ConversationItem.last_assignee_id.set(expected_assignee))
        try:
            with TransactWrite(connection=_transaction_connection()) as tx:
                tx.update(AgentItem(tenant_id, agent_id),
                          actions=[AgentItem.load.add(1), AgentItem.last_assigned_at.set(now_ms)],
                          condition=agent_condition)
                tx.update(ConversationItem(tenant_id, conversation_id), actions=actions,
                          condition=conversation_condition)
                if expected_assignee and expected_assignee != agent_id:
                    tx.update(AgentItem(tenant_id, expected_assignee), actions=[AgentItem.load.add(-1)],
                              condition=AgentItem.agent_id.exists())
        except TransactWriteError as error:
            failures = _transaction_failures(error)
            if failures and failures[0] == "ConditionalCheckFailed":
                raise AgentUnavailable("the agent cannot take another conversation now",
                                       {"agent_id": agent_id}) from None
            if "ConditionalCheckFailed" in failures or "TransactionConflict" in failures:
                raise Conflict("the conversation was taken or changed meanwhile",
                               {"conversation_id": conversation_id}) from None
            raise

    def assign_together(self, tenant_id: str, pairs: list[tuple[str, str]], now_ms: int,
                        reachable_since: int) -> bool:
        if len({agent_id for _, agent_id in pairs}) != len(pairs) or len(pairs) > 50:
            raise ValueError("one conversation per agent, at most 50 (100 items) per transaction")
        unassigned = ((ConversationItem.status == ConversationStatus.OPEN.value)
                      & ConversationItem.assignee_id.does_not_exist())
        try:
            with TransactWrite(connection=_transaction_connection()) as tx:
                for conversation_id, agent_id in pairs:
                    tx.update(AgentItem(tenant_id, agent_id),
                              actions=[AgentItem.load.add(1), AgentItem.last_assigned_at.set(now_ms)],
                              condition=self.agent_takes_one(reachable_since))
                    tx.update(ConversationItem(tenant_id, conversation_id),
                              actions=self._assignee_set(agent_id, now_ms), condition=unassigned)
        except TransactWriteError as error:
            if {"ConditionalCheckFailed", "TransactionConflict"} & set(_transaction_failures(error)):
                return False
            raise
        return True

    def requeue(self, tenant_id: str, conversation_id: str, expected_assignee: str | None,
                group_id: str | None, priority: str, now_ms: int) -> None:
        actions: list[Action] = [ConversationItem.queued_at.set(now_ms), ConversationItem.priority.set(priority),
                   ConversationItem.queue_pk.set(tenant_id),
                   ConversationItem.queue_sk.set(queue_key(priority, now_ms, conversation_id)),
                   ConversationItem.assignee_id.remove(), ConversationItem.assigned_at.remove(),
                   ConversationItem.group_id.set(group_id) if group_id else ConversationItem.group_id.remove()]
        condition = ConversationItem.status == ConversationStatus.OPEN.value
        if expected_assignee:
            actions.append(ConversationItem.last_assignee_id.set(expected_assignee))
            condition &= ConversationItem.assignee_id == expected_assignee
        else:
            condition &= ConversationItem.assignee_id.does_not_exist()
        try:
            with TransactWrite(connection=_transaction_connection()) as tx:
                tx.update(ConversationItem(tenant_id, conversation_id), actions=actions, condition=condition)
                if expected_assignee:
                    tx.update(AgentItem(tenant_id, expected_assignee), actions=[AgentItem.load.add(-1)],
                              condition=AgentItem.agent_id.exists())
        except TransactWriteError as error:
            if {"ConditionalCheckFailed", "TransactionConflict"} & set(_transaction_failures(error)):
                raise Conflict("the conversation was taken or changed meanwhile",
                               {"conversation_id": conversation_id}) from None
            raise

    # -- the lease

    BUSY_MEMORY_MS = 10_000  # found the lease held this recently (a lease TTL): a burst, try the mark first

    def acquire_lease(self, tenant_id: str, holder: str, now_ms: int, ttl_ms: int,
                      news: Sequence[str] = ()) -> LeaseTry:
        """Take the lease (one conditional update) or, if it is held, mark it dirty and leave
        `news` on it (another). In a burst nearly every invocation finds it held, so after
        seeing that once a warm container tries the mark first: one request per invocation
        instead of two. Either order is safe: each step is conditional and a failed one
        falls through to the other."""
        seen = self._lease_busy_seen.get(tenant_id, -self.BUSY_MEMORY_MS)
        mark_first = now_ms - seen < self.BUSY_MEMORY_MS
        for attempt in range(3):
            if not (mark_first and attempt == 0):
                left = self._take_lease(tenant_id, holder, now_ms, ttl_ms)
                if left is not None:
                    return LeaseTry(taken=True, news=tuple(left))
            if self._mark_lease_dirty(tenant_id, now_ms, news):  # held: ask the holder for one more round
                self._lease_busy_seen[tenant_id] = now_ms
                return LeaseTry(taken=False, handed_over=True)
        return LeaseTry(taken=False)

    def _take_lease(self, tenant_id: str, holder: str, now_ms: int, ttl_ms: int) -> list[str] | None:
        """None if it is held; else the new conversations left on it (by markers whose
        holder died, or gave up after its last round)."""
        actions = [SettingsItem.holder.set(holder), SettingsItem.lease_until.set(now_ms + ttl_ms),
                   SettingsItem.dirty.remove(), SettingsItem.pending.remove()]
        try:
            raw = SettingsItem._get_connection().update_item(
                tenant_id, self.LEASE, actions=actions, return_values="UPDATED_OLD",
                condition=SettingsItem.holder.does_not_exist() | (SettingsItem.lease_until < now_ms))
        except UpdateError as error:
            if not _conditional_failed(error):
                raise
            return None
        return _pending(raw)

    def _mark_lease_dirty(self, tenant_id: str, now_ms: int, news: Sequence[str]) -> bool:
        """False if nobody holds an unexpired lease (it was let go in between)."""
        actions: list[Action] = [SettingsItem.dirty.set(1)]
        if news:
            actions.append(SettingsItem.pending.add(set(news)))
        try:
            SettingsItem(tenant_id, self.LEASE).update(
                actions=actions, condition=SettingsItem.holder.exists() & (SettingsItem.lease_until >= now_ms))
            return True
        except UpdateError as error:
            if not _conditional_failed(error):
                raise
            return False

    def renew_lease(self, tenant_id: str, holder: str, now_ms: int, ttl_ms: int) -> bool:
        try:
            SettingsItem(tenant_id, self.LEASE).update(actions=[SettingsItem.lease_until.set(now_ms + ttl_ms)],
                                                       condition=SettingsItem.holder == holder)
        except UpdateError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def release_lease(self, tenant_id: str, holder: str) -> tuple[bool, list[str]]:
        try:
            SettingsItem(tenant_id, self.LEASE).update(
                actions=[SettingsItem.holder.remove(), SettingsItem.lease_until.remove()],
                condition=(SettingsItem.holder == holder) & SettingsItem.dirty.does_not_exist())
            return True, []
        except UpdateError as error:
            if not _conditional_failed(error):
                raise
        try:  # marked meanwhile: keep it, take the news the markers left
            raw = SettingsItem._get_connection().update_item(
                tenant_id, self.LEASE, actions=[SettingsItem.dirty.remove(), SettingsItem.pending.remove()],
                condition=SettingsItem.holder == holder, return_values="UPDATED_OLD")
        except UpdateError as error:
            if not _conditional_failed(error):
                raise
            return True, []  # the lease expired and someone else holds it: nothing more for us
        return False, _pending(raw)

    # -- settings

    def groups(self, tenant_id: str) -> list[Group]:
        out = []
        for item in SettingsItem.query(tenant_id, SettingsItem.item_key.startswith(self.GROUP)):
            data = json.loads(item.body_json or "{}")
            out.append(Group(tenant_id, item.item_key[len(self.GROUP):], data.get("name", ""),
                             data.get("description", "")))
        return out

    def put_group(self, group: Group) -> None:
        SettingsItem(group.tenant_id, self.GROUP + group.group_id,
                     body_json=json.dumps({"name": group.name, "description": group.description})).save()

    def delete_group(self, tenant_id: str, group_id: str) -> bool:
        return self._delete(tenant_id, self.GROUP + group_id)

    def rules(self, tenant_id: str) -> list[RoutingRule]:
        return [_rule_from_json(tenant_id, i.item_key[len(self.RULE):], i.body_json or "{}")
                for i in SettingsItem.query(tenant_id, SettingsItem.item_key.startswith(self.RULE))]

    def put_rule(self, rule: RoutingRule) -> None:
        SettingsItem(rule.tenant_id, self.RULE + rule.rule_id, body_json=_rule_to_json(rule)).save()

    def delete_rule(self, tenant_id: str, rule_id: str) -> bool:
        return self._delete(tenant_id, self.RULE + rule_id)

    def business_hours(self, tenant_id: str) -> BusinessHours | None:
        try:
            item = SettingsItem.get(tenant_id, self.HOURS)
        except DoesNotExist:
            return None
        data = json.loads(item.body_json or "{}")
        return BusinessHours(data["timezone"], {d: tuple((a, b) for a, b in spans)
                                                for d, spans in data.get("windows", {}).items()})

    def put_business_hours(self, tenant_id: str, hours: BusinessHours | None) -> None:
        if hours is None:
            self._delete(tenant_id, self.HOURS)
            return
        SettingsItem(tenant_id, self.HOURS, body_json=json.dumps(
            {"timezone": hours.timezone, "windows": {d: [list(s) for s in w] for d, w in hours.windows.items()}}
        )).save()

    def add_left_message(self, message: LeftMessage) -> None:
        m = message
        SettingsItem(m.tenant_id, f"{self.LEFT}{m.created_at:016d}#{m.message_id}", updated_at=m.created_at,
                     body_json=json.dumps({"id": m.message_id, "visitor_id": m.visitor_id,
                                           "conversation_id": m.conversation_id, "name": m.name,
                                           "email": m.email, "text": m.text, "reason": m.reason}),
                     ).save(condition=SettingsItem.item_key.does_not_exist())

    def left_messages(self, tenant_id: str, limit: int) -> list[LeftMessage]:
        out = []
        for item in SettingsItem.query(tenant_id, SettingsItem.item_key.startswith(self.LEFT),
                                       scan_index_forward=False, limit=limit):
            d = json.loads(item.body_json or "{}")
            out.append(LeftMessage(tenant_id, d["id"], d["visitor_id"], d.get("conversation_id"), d.get("name"),
                                   d["email"], d["text"], int(item.updated_at), d.get("reason", "no_agent")))
        return out

    @staticmethod
    def _delete(tenant_id: str, item_key: str) -> bool:
        raw = SettingsItem._get_connection().delete_item(tenant_id, item_key, return_values="ALL_OLD")
        return bool(raw and raw.get("Attributes"))
