"""DynamoDB repositories: the domain's ports implemented with pynamodb.

SDK errors become domain errors here (ConditionalCheckFailed → SequenceConflict, ...).
"""
from __future__ import annotations

import json

from pynamodb.connection import Connection as PynamoConnection
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from ..domain.errors import Conflict, DuplicateMessage, SequenceConflict
from ..domain.model import (
    Agent,
    Attachment,
    CannedReply,
    Connection,
    Conversation,
    ConversationStatus,
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
    MessageRepository,
    TenantRepository,
    VisitorRepository,
)
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
        connection = _transaction_connections.setdefault(key, PynamoConnection(region=key[0], host=key[1]))
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
                              role=agent.role, created_at=agent.created_at),
                    condition=AgentItem.agent_id.does_not_exist(),
                )
        except TransactWriteError:
            raise Conflict(f"an agent with email {email} already exists") from None

    def set_presence(self, tenant_id: str, agent_id: str, state: str, now_ms: int) -> None:
        try:
            AgentItem(tenant_id, agent_id).update(
                actions=[AgentItem.presence.set(state), AgentItem.presence_at.set(now_ms)],
                condition=AgentItem.agent_id.exists(),
            )
        except UpdateError as error:
            if not _conditional_failed(error):
                raise

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
        actions = [VisitorItem.last_seen_at.set(now_ms), VisitorItem.visits.add(1)]
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
        actions = [
            VisitorItem.last_seen_at.set(v.last_seen_at),
            VisitorItem.attributes_json.set(json.dumps(v.attributes)),
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

    def agent_connections(self, tenant_id: str) -> list[str]:
        return [i.connection_id for i in ConnectionItem.by_audience.query(f"{tenant_id}#agents")]

    def visitor_connections(self, tenant_id: str, visitor_id: str) -> list[str]:
        key = f"{tenant_id}#{Role.VISITOR.value}#{visitor_id}"
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
    )


class DynamoConversations(ConversationRepository):
    def get(self, tenant_id: str, conversation_id: str) -> Conversation | None:
        try:
            item = ConversationItem.get(tenant_id, conversation_id, consistent_read=True)
        except DoesNotExist:
            return None
        return _conversation(item)

    def create_for_visitor(self, conversation: Conversation) -> Conversation:
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
        except TransactWriteError:
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


    def set_status(self, tenant_id: str, conversation_id: str, status: str, now_ms: int) -> Conversation | None:
        item = ConversationItem(tenant_id, conversation_id)
        try:
            item.update(
                actions=[ConversationItem.status.set(status),
                         ConversationItem.status_key.set(f"{tenant_id}#{status}"),
                         ConversationItem.updated_at.set(now_ms)],
                condition=ConversationItem.conversation_id.exists() & (ConversationItem.status != status),
            )
        except UpdateError as error:
            if _conditional_failed(error):
                return None
            raise
        return _conversation(item)


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
        actions = [
            ConversationItem.last_seq.set(m.seq),
            ConversationItem.updated_at.set(m.created_at),
        ]
        if not m.internal:
            preview = m.text[:140] if m.text.strip() else f"[{m.attachment.name}]" if m.attachment else ""
            actions.append(ConversationItem.last_message_preview.set(preview))
        if assign_to:
            actions.append(ConversationItem.assignee_id.set(assign_to))
        if reopen:
            actions += [ConversationItem.status.set(ConversationStatus.OPEN.value),
                        ConversationItem.status_key.set(f"{c.tenant_id}#{ConversationStatus.OPEN.value}")]
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
        except TransactWriteError as error:
            reasons = [getattr(r, "code", None) for r in (error.cancellation_reasons or [])]
            # pynamodb sends puts before updates: [message put, dedupe put, conversation update].
            failed = {i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed"}
            if 1 in failed:
                raise DuplicateMessage("this client_msg_id is already stored") from None
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
