"""Tickets in DynamoDB (TicketsTable), the SLA timer on Step Functions and mail through SES.

Conditional writes (docs/data-model.md lists each): the ticket number is one atomic
`ADD last_number :1` with ReturnValues=UPDATED_NEW; a ticket write requires the version it
read (`version = :v`), in the same transaction as its timeline events; a conversation's
ticket is claimed with `attribute_not_exists`.
"""
from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from ..domain.errors import Conflict
from ..domain.model import Agent
from ..domain.ports import Mailer, SlaTimer, TicketRepository
from ..domain.sla import wake_timestamp
from ..domain.tickets import (
    Ticket,
    TicketExists,
    TimelineEvent,
    ticket_from_dict,
    ticket_to_dict,
)
from .repositories import DynamoAgents, _transaction_connection
from .tables import AgentItem, ConversationItem, TicketItem

log = logging.getLogger("kefu.tickets")
COUNTER_KEY = "counter#tickets"
FIRST_NUMBER = 1000  # numbers start at #1001: short, and not obviously "the first customer"


def _ticket_key(number: int) -> str:
    return f"t#{number:010d}"


def _event_prefix(number: int) -> str:
    return f"e#{number:010d}#"


def _ticket_item(ticket: Ticket) -> TicketItem:
    t = ticket
    return TicketItem(
        t.tenant_id, _ticket_key(t.number), number=t.number,
        status_key=f"{t.tenant_id}#{t.status.value}",
        assignee_key=f"{t.tenant_id}#{t.assignee_id}" if t.assignee_id else None,
        group_key=f"{t.tenant_id}#{t.group_id}" if t.group_id else None,
        updated_at=t.updated_at, version=t.version, data_json=json.dumps(ticket_to_dict(t)),
    )


def _event_item(tenant_id: str, event: TimelineEvent) -> TicketItem:
    suffix = event.event_key or secrets.token_hex(6)
    return TicketItem(tenant_id, f"{_event_prefix(event.number)}{event.at:013d}#{suffix}", number=event.number,
                      data_json=json.dumps({"kind": event.kind, "actor": event.actor, "at": event.at,
                                            "data": event.data, "key": event.event_key}))


def _event(item: TicketItem) -> TimelineEvent:
    data = json.loads(item.data_json or "{}")
    return TimelineEvent(int(item.number or 0), int(data["at"]), data["kind"], data["actor"],
                         data.get("data") or {}, data.get("key") or "")


def _ticket(item: TicketItem) -> Ticket:
    ticket = ticket_from_dict(json.loads(item.data_json or "{}"))
    ticket.version = int(item.version or 0)
    return ticket


class DynamoTickets(TicketRepository):
    def next_number(self, tenant_id: str) -> int:
        item = TicketItem(tenant_id, COUNTER_KEY)
        item.update(actions=[TicketItem.last_number.add(1)])  # ReturnValues=ALL_NEW: our own value
        return FIRST_NUMBER + int(item.last_number or 0)

    def add(self, ticket: Ticket, events: list[TimelineEvent]) -> None:
        ticket.version = 1
        try:
            with TransactWrite(connection=_transaction_connection()) as tx:
                tx.save(_ticket_item(ticket), condition=TicketItem.item_key.does_not_exist())
                if ticket.conversation_id and ticket.source == "conversation":
                    tx.save(TicketItem(ticket.tenant_id, f"conv#{ticket.conversation_id}", number=ticket.number),
                            condition=TicketItem.item_key.does_not_exist())
                    # the chat reads the conversation on every message anyway: it learns here,
                    # without another read, that a ticket waits for its messages
                    tx.update(ConversationItem(ticket.tenant_id, ticket.conversation_id),
                              actions=[ConversationItem.ticket_number.set(ticket.number)],
                              condition=ConversationItem.conversation_id.exists())
                for event in events:
                    tx.save(_event_item(ticket.tenant_id, event))
        except TransactWriteError:
            ticket.version = 0
            existing = self.by_conversation(ticket.tenant_id, ticket.conversation_id or "")
            if existing is not None:
                raise TicketExists(f"the conversation already has ticket #{existing}",
                                   {"number": existing}) from None
            raise

    def get(self, tenant_id: str, number: int) -> Ticket | None:
        try:
            return _ticket(TicketItem.get(tenant_id, _ticket_key(number), consistent_read=True))
        except DoesNotExist:
            return None

    def save(self, ticket: Ticket, events: list[TimelineEvent]) -> None:
        expected = ticket.version
        ticket.version = expected + 1
        item = _ticket_item(ticket)
        try:
            with TransactWrite(connection=_transaction_connection()) as tx:
                tx.save(item, condition=TicketItem.version == expected)
                for event in events:
                    tx.save(_event_item(ticket.tenant_id, event), condition=TicketItem.item_key.does_not_exist())
        except TransactWriteError as error:
            ticket.version = expected
            reasons = [getattr(r, "code", None) for r in (error.cancellation_reasons or [])]
            if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
                raise Conflict("the ticket changed meanwhile; read it again",
                               {"number": ticket.number}) from None
            raise

    def add_events(self, tenant_id: str, events: list[TimelineEvent]) -> None:
        for event in events:
            _event_item(tenant_id, event).save()

    def timeline(self, tenant_id: str, number: int, limit: int) -> list[TimelineEvent]:
        items = TicketItem.query(tenant_id, TicketItem.item_key.startswith(_event_prefix(number)),
                                 consistent_read=True, limit=limit)
        return [_event(i) for i in items]

    def by_index(self, tenant_id: str, index: str, key: str, limit: int) -> list[Ticket]:
        by = {"status": TicketItem.by_status, "assignee": TicketItem.by_assignee, "group": TicketItem.by_group}[index]
        return [_ticket(i) for i in by.query(f"{tenant_id}#{key}", scan_index_forward=False, limit=limit)]

    def by_conversation(self, tenant_id: str, conversation_id: str) -> int | None:
        try:
            item = TicketItem.get(tenant_id, f"conv#{conversation_id}", consistent_read=True)
        except DoesNotExist:
            return None
        return int(item.number or 0)

    def get_setting(self, tenant_id: str, kind: str) -> dict[str, Any] | None:
        try:
            item = TicketItem.get(tenant_id, f"cfg#{kind}")
        except DoesNotExist:
            return None
        return json.loads(item.data_json or "null")  # type: ignore[no-any-return]

    def put_setting(self, tenant_id: str, kind: str, data: dict[str, Any]) -> None:
        TicketItem(tenant_id, f"cfg#{kind}", data_json=json.dumps(data)).save()

    def hit(self, tenant_id: str, key: str, window_ms: int, now_ms: int) -> int:
        window = now_ms // window_ms
        item = TicketItem(tenant_id, f"rl#{key}#{window}")
        item.update(actions=[TicketItem.hits.add(1),
                             TicketItem.expires_at.set((window + 2) * window_ms // 1000)])
        return int(item.hits or 0)

    def agents(self, tenant_id: str) -> list[Agent]:
        return [DynamoAgents._agent(i) for i in AgentItem.query(tenant_id)]

    def supervisors(self, tenant_id: str, group_id: str | None) -> list[str]:
        bosses = [(i.agent_id, set(getattr(i, "groups", None) or ())) for i in AgentItem.query(tenant_id)
                  if (i.role or "agent") in ("supervisor", "admin")]
        in_group = [agent_id for agent_id, groups in bosses if group_id and group_id in groups]
        return in_group or [agent_id for agent_id, _ in bosses]


class StepFunctionsTimer(SlaTimer):
    """One Standard execution per (ticket, deadline version), named after both, so starting
    the same version twice is a no-op (Step Functions' name idempotency)."""

    def __init__(self, state_machine_arn: str, region: str, client: Any = None) -> None:
        self._arn = state_machine_arn
        self._region = region
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("stepfunctions", region_name=self._region)
        return self._client

    @staticmethod
    def execution_name(tenant_id: str, number: int, sla_version: int) -> str:
        return f"{tenant_id}-{number}-v{sla_version}"

    def execution_arn(self, tenant_id: str, number: int, sla_version: int) -> str:
        prefix = self._arn.replace(":stateMachine:", ":execution:", 1)
        return f"{prefix}:{self.execution_name(tenant_id, number, sla_version)}"

    def arm(self, tenant_id: str, number: int, sla_version: int, wake_at_ms: int) -> None:
        payload = {"tenant_id": tenant_id, "number": number, "sla_version": sla_version,
                   "wake_at": wake_timestamp(wake_at_ms)}
        try:
            self.client.start_execution(stateMachineArn=self._arn,
                                        name=self.execution_name(tenant_id, number, sla_version),
                                        input=json.dumps(payload))
        except self.client.exceptions.ExecutionAlreadyExists:
            pass  # this version's timer runs already

    def disarm(self, tenant_id: str, number: int, sla_version: int) -> None:
        try:
            self.client.stop_execution(executionArn=self.execution_arn(tenant_id, number, sla_version),
                                       cause="the deadline changed")
        except self.client.exceptions.ExecutionDoesNotExist:
            pass


class DisabledTimer(SlaTimer):
    """No state machine configured (KEFU_SLA_STATE_MACHINE_ARN unset): tickets keep their
    deadlines, nothing escalates. Logged once per arm so the gap is visible."""

    def arm(self, tenant_id: str, number: int, sla_version: int, wake_at_ms: int) -> None:
        log.warning("SLA timer disabled: ticket %s #%s will not escalate", tenant_id, number)

    def disarm(self, tenant_id: str, number: int, sla_version: int) -> None:
        pass


class SesMailer(Mailer):
    def __init__(self, sender: str, region: str, client: Any = None) -> None:
        self._sender = sender
        self._region = region
        self._client = client

    def send(self, to: str, subject: str, text: str) -> None:
        if self._client is None:
            import boto3

            self._client = boto3.client("ses", region_name=self._region)
        self._client.send_email(Source=self._sender, Destination={"ToAddresses": [to]},
                                Message={"Subject": {"Data": subject, "Charset": "UTF-8"},
                                         "Body": {"Text": {"Data": text, "Charset": "UTF-8"}}})
