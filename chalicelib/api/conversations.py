"""REST: the inbox and conversation history (the same reads the WebSocket `sync` uses)."""
from __future__ import annotations

from chalice.app import Response

from ..bootstrap import services
from .errors import Routes
from .http import bearer_token, json_response, parse_query
from .lazy import chat
from .lazy import schemas as s
from .sessions import PUBLIC_CORS

conversations = Routes(__name__)


@conversations.route("/v1/conversations", methods=["GET"])
def list_conversations() -> Response:
    request = conversations.current_request
    identity = services().auth.require_agent(bearer_token(request))
    query = parse_query(request, s.ConversationListQuery)
    items, cursor = services().chat.list_conversations(identity, query.status, query.limit, query.cursor)
    return json_response(s.ConversationList(conversations=[chat.conversation_summary(c) for c in items],
                                          next_cursor=cursor))


@conversations.route("/v1/conversations/{conversation_id}", methods=["GET"], cors=PUBLIC_CORS)
def get_conversation(conversation_id: str) -> Response:
    identity = services().auth.identify(bearer_token(conversations.current_request))
    return json_response(chat.conversation_summary(services().chat.conversation(identity, conversation_id)))


@conversations.route("/v1/conversations/{conversation_id}/messages", methods=["GET"], cors=PUBLIC_CORS)
def conversation_messages(conversation_id: str) -> Response:
    request = conversations.current_request
    identity = services().auth.identify(bearer_token(request))
    query = parse_query(request, s.HistoryQuery)
    return json_response(services().chat.history(identity, conversation_id, query.after_seq, query.limit,
                                                 before_seq=query.before_seq))
