"""pynamodb models: the only module that imports pynamodb's model layer.

Key schemas and indexes here must match `infra/template.yaml` (the deployment and the
local gateway both create tables from that file); `tests/integration/test_tables_match_template.py`
keeps the two from drifting.
"""
from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from ..config import Settings


class _Meta:
    region = "us-east-1"
    host: str | None = None
    table_name = ""
    max_retry_attempts = 5
    # A Lambda container runs one invocation at a time; the local gateway runs many handler
    # threads over one client, which botocore's default pool of 10 would make queue.
    max_pool_connections = 50


class TenantItem(Model):
    class Meta(_Meta):
        table_name = "kefu-tenants"

    class BySiteKey(GlobalSecondaryIndex["TenantItem"]):
        class Meta:
            index_name = "by_site_key"
            projection = AllProjection()

        site_key = UnicodeAttribute(hash_key=True)

    tenant_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    site_key = UnicodeAttribute()
    created_at = NumberAttribute(default=0)
    identity_secret = UnicodeAttribute(null=True)
    by_site_key = BySiteKey()


class AgentItem(Model):
    """Agents under (tenant_id, agent_id); a login item under ("@login", email) makes
    emails unique across tenants and maps an email to its agent."""

    class Meta(_Meta):
        table_name = "kefu-agents"

    tenant_id = UnicodeAttribute(hash_key=True)
    agent_id = UnicodeAttribute(range_key=True)
    email = UnicodeAttribute(null=True)
    display_name = UnicodeAttribute(null=True)
    password_hash = UnicodeAttribute(null=True)
    role = UnicodeAttribute(null=True)
    created_at = NumberAttribute(default=0)
    presence = UnicodeAttribute(null=True)
    presence_at = NumberAttribute(null=True)
    # routing (chalicelib/domain/routing.py): dispatch's conditions read these
    groups = UnicodeSetAttribute(null=True)
    languages = UnicodeSetAttribute(null=True)
    seniority = NumberAttribute(null=True)
    capacity = NumberAttribute(null=True)
    load = NumberAttribute(null=True)  # open conversations assigned to the agent
    live_connections = NumberAttribute(null=True)  # open workbench sockets
    heartbeat_at = NumberAttribute(null=True)
    last_assigned_at = NumberAttribute(null=True)
    # on login items only
    login_tenant_id = UnicodeAttribute(null=True)
    login_agent_id = UnicodeAttribute(null=True)


class VisitorItem(Model):
    class Meta(_Meta):
        table_name = "kefu-visitors"

    tenant_id = UnicodeAttribute(hash_key=True)
    visitor_id = UnicodeAttribute(range_key=True)
    created_at = NumberAttribute()
    last_seen_at = NumberAttribute()
    visits = NumberAttribute(default=1)
    open_conversation_id = UnicodeAttribute(null=True)
    # profile (see chalicelib/domain/visitors.py); lists and maps kept as JSON text
    name = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    verified = BooleanAttribute(null=True)
    attributes_json = UnicodeAttribute(null=True)
    identified_at_json = UnicodeAttribute(null=True)
    trail_json = UnicodeAttribute(null=True)
    referrer = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)
    utm_json = UnicodeAttribute(null=True)
    device = UnicodeAttribute(null=True)
    language = UnicodeAttribute(null=True)
    screen = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)


class ConnectionItem(Model):
    class Meta(_Meta):
        table_name = "kefu-connections"

    class ByOwner(GlobalSecondaryIndex["ConnectionItem"]):
        """Every connection (browser tab) of one visitor or agent: `T#visitor#V`."""

        class Meta:
            index_name = "by_owner"
            projection = KeysOnlyProjection()

        owner_key = UnicodeAttribute(hash_key=True)
        connection_id = UnicodeAttribute(range_key=True)

    class ByAudience(GlobalSecondaryIndex["ConnectionItem"]):
        """Sparse: only agent connections, under `T#agents`."""

        class Meta:
            index_name = "by_audience"
            projection = KeysOnlyProjection()

        audience_key = UnicodeAttribute(hash_key=True)
        connection_id = UnicodeAttribute(range_key=True)

    connection_id = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    role = UnicodeAttribute()
    principal_id = UnicodeAttribute()
    display_name = UnicodeAttribute(default="")
    connected_at = NumberAttribute()
    expires_at = NumberAttribute()  # epoch seconds: DynamoDB TTL
    owner_key = UnicodeAttribute()
    audience_key = UnicodeAttribute(null=True)
    by_owner = ByOwner()
    by_audience = ByAudience()


class ConversationItem(Model):
    class Meta(_Meta):
        table_name = "kefu-conversations"

    class ByStatus(GlobalSecondaryIndex["ConversationItem"]):
        """The inbox: a tenant's conversations in one status, most recently active last."""

        class Meta:
            index_name = "by_status"
            projection = AllProjection()

        status_key = UnicodeAttribute(hash_key=True)
        updated_at = NumberAttribute(range_key=True)

    class ByVisitor(GlobalSecondaryIndex["ConversationItem"]):
        """A visitor's conversations, oldest first."""

        class Meta:
            index_name = "by_visitor"
            projection = AllProjection()

        visitor_key = UnicodeAttribute(hash_key=True)
        conversation_id = UnicodeAttribute(range_key=True)

    class ByQueue(GlobalSecondaryIndex["ConversationItem"]):
        """Sparse: only queued conversations, under `T`, in queue order
        (`<priority rank>#<queued_at>#<conversation id>`)."""

        class Meta:
            index_name = "by_queue"
            projection = AllProjection()

        queue_pk = UnicodeAttribute(hash_key=True)
        queue_sk = UnicodeAttribute(range_key=True)

    tenant_id = UnicodeAttribute(hash_key=True)
    conversation_id = UnicodeAttribute(range_key=True)
    visitor_id = UnicodeAttribute()
    visitor_key = UnicodeAttribute()
    status = UnicodeAttribute()
    status_key = UnicodeAttribute()
    created_at = NumberAttribute()
    updated_at = NumberAttribute()
    last_seq = NumberAttribute(default=0)
    last_message_preview = UnicodeAttribute(default="")
    visitor_read_seq = NumberAttribute(default=0)
    agent_read_seq = NumberAttribute(default=0)
    assignee_id = UnicodeAttribute(null=True)
    priority = UnicodeAttribute(null=True)  # routing's; raised to "urgent" by the bot on complaints and anger
    watchers = UnicodeSetAttribute(null=True)
    rate_tokens = NumberAttribute(null=True)
    rate_updated_ms = NumberAttribute(null=True)
    ticket_number = NumberAttribute(null=True)  # set with the ticket (adapters/tickets.py)
    group_id = UnicodeAttribute(null=True)
    message_type = UnicodeAttribute(null=True)
    queued_at = NumberAttribute(null=True)
    assigned_at = NumberAttribute(null=True)
    last_assignee_id = UnicodeAttribute(null=True)
    queue_pk = UnicodeAttribute(null=True)
    queue_sk = UnicodeAttribute(null=True)
    by_status = ByStatus()
    by_visitor = ByVisitor()
    by_queue = ByQueue()


class MessageItem(Model):
    """Messages under (`T#C`, `m#<seq, 10 digits>`); a dedupe item per client message id
    under (`T#C`, `c#<client_msg_id>`) holds the seq it was stored as."""

    class Meta(_Meta):
        table_name = "kefu-messages"

    conversation_key = UnicodeAttribute(hash_key=True)
    item_key = UnicodeAttribute(range_key=True)
    seq = NumberAttribute()
    client_msg_id = UnicodeAttribute(null=True)
    sender_role = UnicodeAttribute(null=True)
    sender_id = UnicodeAttribute(null=True)
    sender_name = UnicodeAttribute(null=True)
    text = UnicodeAttribute(null=True)
    created_at = NumberAttribute(null=True)
    is_dedupe = BooleanAttribute(null=True)
    internal = BooleanAttribute(null=True)
    att_file_id = UnicodeAttribute(null=True)
    att_name = UnicodeAttribute(null=True)
    att_type = UnicodeAttribute(null=True)
    att_size = NumberAttribute(null=True)


class SettingsItem(Model):
    """A tenant's configuration items under (tenant_id, `<kind>#<id>`): canned replies,
    skill groups, routing rules, business hours, the dispatcher's lease and messages left
    while nobody could answer."""

    class Meta(_Meta):
        table_name = "kefu-settings"

    tenant_id = UnicodeAttribute(hash_key=True)
    item_key = UnicodeAttribute(range_key=True)
    shortcut = UnicodeAttribute(null=True)
    text = UnicodeAttribute(null=True)
    updated_at = NumberAttribute(default=0)
    body_json = UnicodeAttribute(null=True)  # groups, rules, hours, left messages
    holder = UnicodeAttribute(null=True)  # the dispatch lease
    lease_until = NumberAttribute(null=True)
    dirty = NumberAttribute(null=True)
    pending = UnicodeSetAttribute(null=True)  # conversations created while the lease was held, to announce


class TicketItem(Model):
    """A tenant's ticket items under (tenant_id, item_key) — see docs/data-model.md:
    `t#<number>` a ticket (the ticket itself as JSON in `data_json`, the queried fields
    beside it), `e#<number>#<at>#<id>` a timeline event, `counter#tickets` the number
    counter, `cfg#<kind>` ticket settings, `conv#<conversation id>` a conversation's ticket,
    `rl#<key>#<window>` a lookup rate-limit window (TTL)."""

    class Meta(_Meta):
        table_name = "kefu-tickets"

    class ByStatus(GlobalSecondaryIndex["TicketItem"]):
        class Meta:
            index_name = "by_status"
            projection = AllProjection()

        status_key = UnicodeAttribute(hash_key=True)
        updated_at = NumberAttribute(range_key=True)

    class ByAssignee(GlobalSecondaryIndex["TicketItem"]):
        class Meta:
            index_name = "by_assignee"
            projection = AllProjection()

        assignee_key = UnicodeAttribute(hash_key=True)
        updated_at = NumberAttribute(range_key=True)

    class ByGroup(GlobalSecondaryIndex["TicketItem"]):
        class Meta:
            index_name = "by_group"
            projection = AllProjection()

        group_key = UnicodeAttribute(hash_key=True)
        updated_at = NumberAttribute(range_key=True)

    tenant_id = UnicodeAttribute(hash_key=True)
    item_key = UnicodeAttribute(range_key=True)
    number = NumberAttribute(null=True)
    status_key = UnicodeAttribute(null=True)
    assignee_key = UnicodeAttribute(null=True)
    group_key = UnicodeAttribute(null=True)
    updated_at = NumberAttribute(null=True)
    version = NumberAttribute(null=True)
    data_json = UnicodeAttribute(null=True)
    last_number = NumberAttribute(null=True)
    hits = NumberAttribute(null=True)
    expires_at = NumberAttribute(null=True)  # epoch seconds: DynamoDB TTL
    by_status = ByStatus()
    by_assignee = ByAssignee()
    by_group = ByGroup()


class KnowledgeItem(Model):
    """A tenant's knowledge base and bot under (tenant_id, item_key): articles `a#<id>`,
    their history `h#<id>#<version, 6 digits>`, the revision counter `meta`, bot
    settings `bot`, the bot's state per conversation `s#<conversation_id>`, unanswered
    questions `u#<time, 13 digits>#<id>` and counters `n#<name>`."""

    class Meta(_Meta):
        table_name = "kefu-knowledge"

    tenant_id = UnicodeAttribute(hash_key=True)
    item_key = UnicodeAttribute(range_key=True)
    title = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)
    category = UnicodeAttribute(null=True)
    locale = UnicodeAttribute(null=True)
    phrasings_json = UnicodeAttribute(null=True)
    not_answered_json = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    version = NumberAttribute(null=True)
    created_at = NumberAttribute(null=True)
    updated_at = NumberAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)
    vectors = BinaryAttribute(null=True, legacy_encoding=False)  # an article's passage vectors (kb.embed.pack)
    data_json = UnicodeAttribute(null=True)  # settings, bot state, unanswered questions
    value = NumberAttribute(null=True)  # revision and counters
    expires_at = NumberAttribute(null=True)  # epoch seconds: DynamoDB TTL (bot state)


ALL_MODELS: dict[str, type[Model]] = {
    "tenants": TenantItem,
    "agents": AgentItem,
    "visitors": VisitorItem,
    "connections": ConnectionItem,
    "conversations": ConversationItem,
    "messages": MessageItem,
    "settings": SettingsItem,
    "tickets": TicketItem,
    "knowledge": KnowledgeItem,
}


def bind_tables(settings: Settings) -> None:
    """Point every model at the configured table names, region and endpoint."""
    for key, model in ALL_MODELS.items():
        meta: Any = model.Meta
        meta.table_name = getattr(settings.tables, key)
        meta.region = settings.region
        meta.host = settings.dynamodb_endpoint
        model._connection = None  # type: ignore[attr-defined]  # rebuilt with the new settings
