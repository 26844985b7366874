"""Sign-in for agents and visitors, and turning tokens back into identities."""
from __future__ import annotations

from dataclasses import dataclass

from ..domain.clock import Clock
from ..domain.errors import Forbidden, NotFound, Unauthenticated
from ..domain.ids import new_id
from ..domain.model import Agent, Identity, Role, Tenant, Visitor
from ..domain.visitors import describe_device
from ..domain.ports import AgentRepository, PasswordHasher, TenantRepository, TokenSigner, VisitorRepository


@dataclass(frozen=True)
class VisitorSession:
    token: str
    tenant: Tenant
    visitor: Visitor
    returning: bool
    expires_in: int


@dataclass(frozen=True)
class AgentSession:
    token: str
    agent: Agent
    expires_in: int


class AuthService:
    def __init__(
        self,
        tenants: TenantRepository,
        agents: AgentRepository,
        visitors: VisitorRepository,
        signer: TokenSigner,
        hasher: PasswordHasher,
        clock: Clock,
        visitor_token_ttl: int,
        agent_token_ttl: int,
    ) -> None:
        self._tenants = tenants
        self._agents = agents
        self._visitors = visitors
        self._signer = signer
        self._hasher = hasher
        self._clock = clock
        self._visitor_ttl = visitor_token_ttl
        self._agent_ttl = agent_token_ttl
        # Verified against when the email is unknown, so timing does not reveal which emails exist.
        self._dummy_hash: str | None = None

    def start_visitor_session(self, site_key: str, token: str | None, user_agent: str | None = None) -> VisitorSession:
        """Give a visitor a token for the site `site_key`, keeping their identity when
        they present a still-valid token of the same tenant (a returning visitor)."""
        tenant = self._tenants.get_by_site_key(site_key)
        if tenant is None:
            raise NotFound("unknown site key")
        now = self._clock.now_ms()
        device = describe_device(user_agent)
        if token:
            try:
                identity = self.identify(token)
            except Unauthenticated:
                identity = None
            if identity and identity.role is Role.VISITOR and identity.tenant_id == tenant.tenant_id:
                visitor = self._visitors.touch(tenant.tenant_id, identity.principal_id, now, device)
                if visitor is not None:
                    return VisitorSession(self._visitor_token(visitor), tenant, visitor, True, self._visitor_ttl)
        visitor = Visitor(tenant.tenant_id, new_id("v"), created_at=now, last_seen_at=now, device=device)
        self._visitors.add(visitor)
        return VisitorSession(self._visitor_token(visitor), tenant, visitor, False, self._visitor_ttl)

    def agent_login(self, email: str, password: str) -> AgentSession:
        agent = self._agents.get_by_email(email.strip().lower())
        if agent is None:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash("not-a-real-password")
            self._hasher.verify(password, self._dummy_hash)
            raise Unauthenticated("wrong email or password")
        if not self._hasher.verify(password, agent.password_hash):
            raise Unauthenticated("wrong email or password")
        token = self._signer.issue(
            {"tid": agent.tenant_id, "role": Role.AGENT.value, "sub": agent.agent_id, "name": agent.display_name},
            self._agent_ttl,
        )
        return AgentSession(token, agent, self._agent_ttl)

    def identify(self, token: str | None) -> Identity:
        """The identity a token proves; raises `Unauthenticated` for a missing, forged or expired one."""
        if not token:
            raise Unauthenticated("a token is required")
        claims = self._signer.verify(token)
        try:
            role = Role(claims["role"])
            return Identity(str(claims["tid"]), role, str(claims["sub"]), str(claims.get("name", "")))
        except (KeyError, ValueError):
            raise Unauthenticated("token is missing claims") from None

    def require_agent(self, token: str | None) -> Identity:
        identity = self.identify(token)
        if not identity.is_agent:
            raise Forbidden("this needs an agent's token")
        return identity

    def _visitor_token(self, visitor: Visitor) -> str:
        return self._signer.issue(
            {"tid": visitor.tenant_id, "role": Role.VISITOR.value, "sub": visitor.visitor_id},
            self._visitor_ttl,
        )
