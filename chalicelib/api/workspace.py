"""REST: the agent's workspace (presence, canned replies), visitor profiles and uploads."""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ..bootstrap import services
from ..domain.model import CannedReply
from .errors import Routes
from .http import bearer_token, idempotent, json_response, parse_body
from .lazy import files
from .sessions import PUBLIC_CORS

if TYPE_CHECKING:
    from . import schemas as s
else:
    from .lazy import schemas as s  # pydantic loads with the first request, not at import

workspace = Routes(__name__)


def _agent() -> object:
    return services().auth.require_agent(bearer_token(workspace.current_request))


def _reply_out(reply: CannedReply) -> s.CannedReplyOut:
    return s.CannedReplyOut(id=reply.reply_id, shortcut=reply.shortcut, text=reply.text)


@workspace.route("/v1/agents/me", methods=["GET"])
def agent_me() -> Response:
    agent = services().workspace.me(_agent())
    return json_response(s.AgentMeOut(agent_id=agent.agent_id, tenant_id=agent.tenant_id, email=agent.email,
                                    display_name=agent.display_name, role=agent.role,
                                    presence=agent.presence))


@workspace.route("/v1/canned-replies", methods=["GET"])
def list_canned_replies() -> Response:
    replies = services().workspace.canned_replies(_agent())
    return json_response(s.CannedReplyList(canned_replies=[_reply_out(r) for r in replies]))


@workspace.route("/v1/canned-replies", methods=["POST"])
def create_canned_reply() -> Response:
    request = workspace.current_request
    identity = services().auth.require_agent(bearer_token(request))
    body = parse_body(request, s.CannedReplyIn)
    return idempotent(request, f"{identity.tenant_id}#{identity.principal_id}", lambda: (
        _reply_out(services().workspace.save_canned_reply(identity, body.shortcut, body.text)), 201),
        workspace.lambda_context)


@workspace.route("/v1/canned-replies/{reply_id}", methods=["PUT"])
def update_canned_reply(reply_id: str) -> Response:
    identity = _agent()
    body = parse_body(workspace.current_request, s.CannedReplyIn)
    return json_response(_reply_out(services().workspace.save_canned_reply(identity, body.shortcut, body.text,
                                                                           reply_id)))


@workspace.route("/v1/canned-replies/{reply_id}", methods=["DELETE"])
def delete_canned_reply(reply_id: str) -> Response:
    services().workspace.delete_canned_reply(_agent(), reply_id)
    return Response(body="", status_code=204)


@workspace.route("/v1/visitors/{visitor_id}", methods=["GET"])
def visitor_details(visitor_id: str) -> Response:
    profile, conversations = services().visitors.profile(_agent(), visitor_id)
    return json_response(s.VisitorDetails(**profile.model_dump(), conversations=conversations))


@workspace.route("/v1/uploads", methods=["POST"], cors=PUBLIC_CORS)
def create_upload() -> Response:
    request = workspace.current_request
    identity = services().auth.identify(bearer_token(request))
    body = parse_body(request, s.UploadIn)

    def create() -> tuple[s.UploadOut, int]:
        file_id, upload = services().files.create_upload(identity, body.conversation_id, body.name,
                                                         body.content_type, body.size)
        return s.UploadOut(file_id=file_id, upload=s.PresignedPost(**upload), max_bytes=files.MAX_BYTES), 201

    return idempotent(request, f"{identity.tenant_id}#{identity.principal_id}", create, workspace.lambda_context)
