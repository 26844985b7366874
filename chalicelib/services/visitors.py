"""Visitor insight: page views, identify(), and the profile agents see."""
from __future__ import annotations

import random
import time
from typing import Callable

from ..domain import protocol as p
from ..domain.clock import Clock
from ..domain.errors import Conflict, Forbidden, NotFound
from ..domain.model import Connection, Identity, Role, Visitor
from ..domain.ports import ConversationRepository, TenantRepository, VisitorRepository
from ..domain.visitors import record_page_view, user_hash_valid
from .chat import conversation_summary
from .notifier import Notifier

PROFILE_ATTEMPTS = 10


def visitor_profile(visitor: Visitor) -> p.VisitorProfile:
    current = visitor.trail[-1] if visitor.trail else None
    return p.VisitorProfile(
        visitor_id=visitor.visitor_id,
        name=visitor.name,
        email=visitor.email,
        phone=visitor.phone,
        verified=visitor.verified,
        attributes=visitor.attributes,
        current_page=p.PageOut(url=current.url, title=current.title, at=current.at) if current else None,
        trail=[p.PageOut(url=v.url, title=v.title, at=v.at) for v in visitor.trail],
        referrer=visitor.referrer,
        source=visitor.source,
        utm=p.Utm(**visitor.utm) if visitor.utm else None,
        device=visitor.device,
        language=visitor.language,
        screen=visitor.screen,
        visits=visitor.visits,
        returning=visitor.visits > 1,
        first_seen_at=visitor.created_at,
        last_seen_at=visitor.last_seen_at,
    )


class VisitorService:
    def __init__(
        self,
        visitors: VisitorRepository,
        tenants: TenantRepository,
        conversations: ConversationRepository,
        notifier: Notifier,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sleep = sleep
        self._visitors = visitors
        self._tenants = tenants
        self._conversations = conversations
        self._notifier = notifier
        self._clock = clock

    def page_view(self, connection: Connection, frame: p.Frame) -> None:
        assert isinstance(frame, p.PageView)
        utm = {k: v for k, v in (frame.utm.model_dump() if frame.utm else {}).items() if v}
        at = frame.received_ms or self._clock.now_ms()  # when sent, not when this invocation got to it
        self._update(connection, lambda v: record_page_view(
            v, frame.url, frame.title, frame.referrer, utm, frame.language, frame.screen, at))

    def identify(self, connection: Connection, frame: p.Frame) -> None:
        assert isinstance(frame, p.Identify)
        tenant = self._tenants.get(connection.tenant_id)
        secret = tenant.identity_secret if tenant else ""

        at = frame.received_ms or self._clock.now_ms()  # as page_view and presence do

        def apply(visitor: Visitor) -> None:
            # Frames of one socket overlap: a field keeps the value of the frame received
            # last that set it, whichever invocation happens to write last.
            def latest(field: str) -> bool:
                if visitor.identified_at.get(field, 0) > at:
                    return False
                visitor.identified_at[field] = at
                return True

            if frame.name is not None and latest("name"):
                visitor.name = frame.name.strip() or None
            if frame.email is not None and latest("email"):
                visitor.email = frame.email.strip().lower() or None
            if frame.phone is not None and latest("phone"):
                visitor.phone = frame.phone.strip() or None
            if frame.attributes:
                newer = {k: v for k, v in frame.attributes.items() if latest(f"attr:{k}")}
                visitor.attributes = {**visitor.attributes, **newer}
            if latest("verified"):
                visitor.verified = user_hash_valid(secret, frame.user_hash, visitor.email)

        self._update(connection, apply)

    def _update(self, connection: Connection, change: object) -> None:
        if connection.role is not Role.VISITOR:
            raise Forbidden("only visitors report page views and identity")
        for attempt in range(PROFILE_ATTEMPTS):
            if attempt:  # overlapping frames of one visitor: spread their retries
                self._sleep(random.uniform(0, min(0.1, 0.005 * 2 ** attempt)))
            visitor = self._visitors.get(connection.tenant_id, connection.principal_id)
            if visitor is None:
                raise NotFound("unknown visitor")
            change(visitor)  # type: ignore[operator]
            try:
                self._visitors.save_profile(visitor)
            except Conflict:
                continue  # another tab wrote first: apply our change to its version
            self._notifier.fan_out(self._notifier.agents(connection.tenant_id),
                                   p.VisitorUpdated(visitor=visitor_profile(visitor)))
            return
        raise Conflict("the visitor profile is busy; try again")

    def profile(self, identity: Identity, visitor_id: str) -> tuple[p.VisitorProfile, list[p.ConversationSummary]]:
        if not identity.is_agent:
            raise Forbidden("only agents read visitor profiles")
        visitor = self._visitors.get(identity.tenant_id, visitor_id)
        if visitor is None:
            raise NotFound("no such visitor")
        conversations = self._conversations.list_for_visitor(identity.tenant_id, visitor_id, 20)
        return visitor_profile(visitor), [conversation_summary(c) for c in conversations]
