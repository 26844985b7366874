"""REST: visitor sessions, agent sign-in, who-am-I."""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import CORSConfig, Response

from ..bootstrap import services
from .errors import Routes
from .http import bearer_token, idempotent, json_response, parse_body

if TYPE_CHECKING:
    from . import schemas as s
else:
    from .lazy import schemas as s  # pydantic loads with the first request, not at import

sessions = Routes(__name__)
# The widget runs on the site owner's pages, so visitor endpoints answer any origin.
PUBLIC_CORS = CORSConfig(allow_origin="*", allow_headers=["Authorization", "Content-Type", "Idempotency-Key"], max_age=600)


@sessions.route("/v1/health", methods=["GET"], cors=PUBLIC_CORS)
def health() -> Response:
    return json_response(s.HealthOut(ok=True, version="1"))


@sessions.route("/v1/visitor/sessions", methods=["POST"], cors=PUBLIC_CORS)
def start_visitor_session() -> Response:
    request = sessions.current_request
    body = parse_body(request, s.VisitorSessionIn)

    def start() -> tuple[s.VisitorSessionOut, int]:
        session = services().auth.start_visitor_session(body.site_key, body.token,
                                                        request.headers.get("user-agent"))
        return s.VisitorSessionOut(
            token=session.token,
            tenant_id=session.tenant.tenant_id,
            tenant_name=session.tenant.name,
            visitor_id=session.visitor.visitor_id,
            returning=session.returning,
            expires_in=session.expires_in,
        ), 200 if session.returning else 201

    # A widget that retries after a dropped answer keeps one visitor, not two.
    return idempotent(request, f"site#{body.site_key}", start, sessions.lambda_context)


@sessions.route("/v1/agent/login", methods=["POST"])
def agent_login() -> Response:
    body = parse_body(sessions.current_request, s.LoginIn)
    session = services().auth.agent_login(body.email, body.password)
    agent = session.agent
    return json_response(
        s.LoginOut(
            token=session.token,
            expires_in=session.expires_in,
            agent=s.AgentOut(agent_id=agent.agent_id, tenant_id=agent.tenant_id, email=agent.email,
                           display_name=agent.display_name, role=agent.role),
        )
    )


@sessions.route("/v1/me", methods=["GET"], cors=PUBLIC_CORS)
def me() -> Response:
    identity = services().auth.identify(bearer_token(sessions.current_request))
    return json_response(s.MeOut(tenant_id=identity.tenant_id, role=identity.role.value,
                               principal_id=identity.principal_id, display_name=identity.display_name))
