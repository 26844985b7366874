"""The one place that wires real adapters into services.

Built once per Lambda container on first use (not at import), so a handler's cold
start only pays for what it touches. Tests build services from `tests/fakes.py` instead.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from .config import Settings, load_settings
from .domain.clock import SystemClock
from .domain.ratelimit import RateLimit
from .services.auth import AuthService
from .services.chat import ChatService


@dataclass
class Services:
    settings: Settings
    auth: AuthService
    chat: ChatService
    metrics: object
    gateway: object


_lock = threading.Lock()
_services: Services | None = None


def build(settings: Settings | None = None) -> Services:
    from .adapters.gateway import ApiGatewayConnections
    from .adapters.observability import PowertoolsMetrics
    from .adapters.repositories import (
        DynamoAgents,
        DynamoConnections,
        DynamoConversations,
        DynamoMessages,
        DynamoTenants,
        DynamoVisitors,
    )
    from .adapters.security import JwtSigner, ScryptHasher
    from .adapters.tables import bind_tables

    settings = settings or load_settings()
    bind_tables(settings)
    clock = SystemClock()
    visitors = DynamoVisitors()
    metrics = PowertoolsMetrics()
    gateway = ApiGatewayConnections(settings.region, settings.ws_callback_url)
    auth = AuthService(
        tenants=DynamoTenants(),
        agents=DynamoAgents(),
        visitors=visitors,
        signer=JwtSigner(settings.token_secret),
        hasher=ScryptHasher(),
        clock=clock,
        visitor_token_ttl=settings.visitor_token_ttl,
        agent_token_ttl=settings.agent_token_ttl,
    )
    chat = ChatService(
        connections=DynamoConnections(),
        conversations=DynamoConversations(),
        messages=DynamoMessages(),
        visitors=visitors,
        gateway=gateway,
        clock=clock,
        visitor_rate=RateLimit(burst=settings.visitor_burst, per_second=settings.visitor_per_second),
        metrics=metrics,
    )
    return Services(settings=settings, auth=auth, chat=chat, metrics=metrics, gateway=gateway)


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
