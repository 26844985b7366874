"""Domain errors: one small class per condition, each with a stable code.

The API layer maps these to HTTP statuses and WebSocket error frames in one place
(`chalicelib.api.errors`); nothing else chooses a status code.
"""
from __future__ import annotations

from typing import Any


class KefuError(Exception):
    """Base of every error Kefu reports to a client.

    Parameters
    ----------
    message:
        Human-readable explanation, safe to show to the caller.
    details:
        Optional structured context (field names, limits, retry hints).
    """

    code = "internal_error"
    http_status = 500

    def __init__(self, message: str = "", details: dict[str, Any] | None = None) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.details = details or {}


class InvalidFrame(KefuError):
    code = "invalid_frame"
    http_status = 400


class MalformedJson(InvalidFrame):
    code = "malformed_json"


class UnknownAction(InvalidFrame):
    code = "unknown_action"


class FrameTooLarge(InvalidFrame):
    code = "frame_too_large"
    http_status = 413


class Unauthenticated(KefuError):
    code = "unauthenticated"
    http_status = 401


class Forbidden(KefuError):
    code = "forbidden"
    http_status = 403


class NotFound(KefuError):
    code = "not_found"
    http_status = 404


class ConversationNotFound(NotFound):
    code = "conversation_not_found"


class ConversationClosed(KefuError):
    code = "conversation_closed"
    http_status = 409


class RateLimited(KefuError):
    code = "rate_limited"
    http_status = 429


class Conflict(KefuError):
    code = "conflict"
    http_status = 409


class IdempotencyConflict(Conflict):
    """An Idempotency-Key reused with another body, or while its first request still runs."""

    code = "idempotency_conflict"


class SequenceConflict(Conflict):
    """Another writer took the conversation's next sequence number first."""

    code = "sequence_conflict"


class DuplicateMessage(Conflict):
    """A message with this client message id is already stored."""

    code = "duplicate_message"


class InvalidRule(InvalidFrame):
    """A routing rule, group or business-hours setting that cannot work as given."""

    code = "invalid_rule"


class AgentUnavailable(Conflict):
    """The agent is at capacity, offline, or gone: they cannot take the conversation now."""

    code = "agent_unavailable"


class ConnectionGone(KefuError):
    """The WebSocket connection no longer exists (API Gateway's GoneException)."""

    code = "connection_gone"
    http_status = 410


# ---------------------------------------------------------------- knowledge base and bot


class ArticleNotFound(NotFound):
    code = "article_not_found"


class ArticleChanged(Conflict):
    """Someone saved the article since the version the editor started from."""

    code = "article_changed"


class BotSettingsChanged(Conflict):
    """Someone saved the bot's settings since the version the editor started from."""

    code = "settings_changed"


class IntegrationFailed(KefuError):
    """A tenant's webhook did not answer usably (the bot hands over to a person)."""

    code = "integration_failed"
    http_status = 502
