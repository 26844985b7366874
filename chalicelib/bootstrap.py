"""The one place that wires real adapters into services.

Built once per Lambda container on first use (not at import), so a handler's cold
start only pays for what it touches. Tests build services from `tests/fakes.py` instead.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from .config import Settings, load_settings


@dataclass
class Services:
    settings: Settings
    auth: Any  # AuthService
    chat: Any  # ChatService
    visitors: Any  # VisitorService
    workspace: Any  # WorkspaceService
    files: Any  # FileService
    idempotency: Any  # adapters.idempotency.Idempotency
    tickets: Any  # TicketService
    metrics: Any
    gateway: Any
    knowledge: Any = None  # KnowledgeService
    bot: Any = None  # BotService
    routing: Any = None  # RoutingService
    vectors_job: Any = None  # adapters.dispatch.LambdaVectorsJob


_lock = threading.Lock()
_services: Services | None = None


def build(settings: Settings | None = None) -> Services:
    from .adapters.dispatch import LambdaDispatchTrigger, LambdaVectorsJob
    from .adapters.files import S3FileStore
    from .adapters.gateway import ApiGatewayConnections
    from .adapters.idempotency import Idempotency
    from .adapters.observability import PowertoolsMetrics
    from .adapters.repositories import (
        DynamoAgents,
        DynamoCannedReplies,
        DynamoConnections,
        DynamoConversations,
        DynamoMessages,
        DynamoRouting,
        DynamoTenants,
        DynamoVisitors,
    )
    from .adapters.security import JwtSigner, ScryptHasher
    from .adapters.tables import bind_tables
    from .domain.clock import SystemClock
    from .domain.ratelimit import RateLimit
    from .services.auth import AuthService
    from .services.chat import ChatService, conversation_summary
    from .services.files import FileService
    from .services.notifier import Notifier
    from .services.routing import RoutingService
    from .services.visitors import VisitorService
    from .services.workspace import WorkspaceService

    settings = settings or load_settings()
    bind_tables(settings)
    clock = SystemClock()
    tenants, agents, visitors = DynamoTenants(), DynamoAgents(), DynamoVisitors()
    connections, conversations = DynamoConnections(), DynamoConversations()
    metrics = PowertoolsMetrics()
    gateway = ApiGatewayConnections(settings.region, settings.ws_callback_url)
    notifier = Notifier(connections, conversations, gateway, clock)
    auth = AuthService(
        tenants=tenants,
        agents=agents,
        visitors=visitors,
        signer=JwtSigner(settings.token_secret),
        hasher=ScryptHasher(),
        clock=clock,
        visitor_token_ttl=settings.visitor_token_ttl,
        agent_token_ttl=settings.agent_token_ttl,
    )
    chat = ChatService(
        connections=connections,
        conversations=conversations,
        messages=DynamoMessages(),
        visitors=visitors,
        notifier=notifier,
        clock=clock,
        visitor_rate=RateLimit(burst=settings.visitor_burst, per_second=settings.visitor_per_second),
        metrics=metrics,
    )
    files = FileService(S3FileStore(settings.uploads_bucket, settings.region, settings.s3_endpoint),
                        chat.conversation)
    chat.attach_files(files.resolve, files.url)
    visitor_service = VisitorService(visitors, tenants, conversations, notifier, clock)
    workspace = WorkspaceService(agents, DynamoCannedReplies(), notifier, clock)
    trigger = LambdaDispatchTrigger(settings.dispatch_function, settings.region, settings.lambda_endpoint,
                                    callback_url=lambda: gateway.endpoint_url)
    from .kb.classify import message_type

    # The bot's question-type classifier (EN/ZH) feeds the routing rules (spec C2).
    routing = RoutingService(DynamoRouting(), agents, conversations, visitors, notifier, trigger, clock,
                             conversation_summary, classify=message_type)
    attach_routing(chat, workspace, routing)
    chat.frame_handlers.update({
        "page.view": visitor_service.page_view,
        "identify": visitor_service.identify,
        "presence.set": workspace.set_presence,
    })
    tickets = _tickets(settings, tenants, conversations, visitors, notifier, clock)
    chat.after_visitor_message.append(tickets.after_visitor_message)
    chat.after_agent_message.append(tickets.after_agent_message)
    routing.on_left_message.append(tickets.left_message)  # A7: a left message becomes a ticket
    tickets.use_tenant_hours(_tenant_hours(DynamoRouting()))  # one calendar: chat opening hours and SLA
    vectors_job = LambdaVectorsJob(settings.vectors_function, settings.region, settings.lambda_endpoint)
    knowledge, bot = _knowledge_and_bot(tenants, chat, notifier, clock, tickets, vectors_job, routing.is_supervisor,
                                        _article_judge(settings))
    bot.on_handoff.append(lambda h: routing.bot_handed_off(h.tenant_id, h.conversation_id, h.priority))
    return Services(settings=settings, auth=auth, chat=chat, visitors=visitor_service,
                    workspace=workspace, files=files, metrics=metrics, gateway=gateway, tickets=tickets,
                    idempotency=Idempotency(settings.tables.idempotency), knowledge=knowledge, bot=bot,
                    routing=routing, vectors_job=vectors_job)


def _article_judge(settings: Settings) -> Any:
    """The optional language-model check of the bot's article (`LlmModelId`), or None."""
    if not settings.llm_model_id:
        return None
    from .adapters.llm import BedrockJudge

    return BedrockJudge(settings.llm_model_id, settings.region, settings.llm_endpoint)


def _knowledge_and_bot(tenants: Any, chat: Any, notifier: Any, clock: Any, tickets: Any,
                       vectors_job: Any, is_supervisor: Any, judge: Any = None) -> tuple[Any, Any]:
    """The knowledge base and the bot, hooked into the chat (its frames and visitor messages);
    a complaint or an angry visitor also opens (or escalates) an urgent ticket."""
    from .adapters.knowledge import DynamoArticles, DynamoBot, raise_conversation_priority
    from .adapters.webhooks import HttpWebhooks
    from .services.bot import BotService
    from .services.knowledge import KnowledgeService

    bot_repo = DynamoBot()
    knowledge = KnowledgeService(DynamoArticles(), bot_repo, tenants, clock, vectors_job)
    bot = BotService(knowledge, bot_repo, chat, notifier, clock, HttpWebhooks(), raise_conversation_priority,
                     is_supervisor=is_supervisor, judge=judge)
    chat.after_visitor_message.append(bot.after_visitor_message)
    chat.frame_handlers.update({
        "bot.handoff": bot.handle_handoff,
        "bot.feedback": bot.handle_feedback,
        "bot.choose": bot.handle_choose,
        "bot.solved": bot.handle_solved,
    })

    def urgent_ticket(handoff: Any) -> None:
        if handoff.priority == "urgent":
            tickets.complaint(handoff.tenant_id, handoff.conversation_id, f"bot: {handoff.reason}")

    bot.on_handoff.append(urgent_ticket)
    return knowledge, bot


def _tenant_hours(routing_repo: Any) -> Any:
    from .domain.sla import BusinessHours

    def hours(tenant_id: str) -> BusinessHours | None:
        found = routing_repo.business_hours(tenant_id)
        return BusinessHours.from_day_windows(found.timezone, found.windows) if found else None

    return hours


def _tickets(settings: Settings, tenants: Any, conversations: Any, visitors: Any, notifier: Any,
             clock: Any) -> Any:
    from .adapters.repositories import DynamoMessages
    from .adapters.security import JwtSigner
    from .adapters.tickets import DisabledTimer, DynamoTickets, SesMailer, StepFunctionsTimer
    from .services.tickets import TicketService

    timer = (StepFunctionsTimer(settings.sla_state_machine_arn, settings.region)
             if settings.sla_state_machine_arn else DisabledTimer())
    return TicketService(DynamoTickets(), tenants, conversations, DynamoMessages(), visitors, notifier, timer,
                         SesMailer(settings.mail_from, settings.region), JwtSigner(settings.token_secret), clock,
                         settings.public_url)


def attach_routing(chat: Any, workspace: Any, routing: Any) -> None:
    """Connect routing to chat (queueing, heartbeats, notes) and its frames; tests reuse this."""
    chat.routing = routing
    routing.write_note = chat.write_note
    routing.first_messages = chat.first_messages
    workspace.on_presence.append(
        lambda connection, state: routing.request_dispatch(connection.tenant_id) if state == "online" else None)
    chat.frame_handlers.update({
        "conversation.pickup": routing.pickup,
        "conversation.transfer": routing.transfer,
        "message.leave": routing.leave_message,
    })


def services() -> Services:
    """The container's services, built on first call."""
    global _services
    if _services is None:
        with _lock:
            if _services is None:
                _services = build()
    return _services


def reset() -> None:
    """Forget the built services (the local gateway calls this after changing settings)."""
    global _services
    with _lock:
        _services = None
