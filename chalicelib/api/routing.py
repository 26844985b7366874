"""REST: skill groups, routing rules, agents' capacity, the queue, business hours and
messages left while nobody could answer (the supervisor view reads and edits these)."""
from __future__ import annotations

from typing import Any

from chalice.app import Response

from ..bootstrap import services
from ..domain.model import Group, LeftMessage
from .errors import Routes
from .http import bearer_token, json_response, parse_body
from .lazy import chat
from .lazy import schemas as s

routing = Routes(__name__)


def _agent() -> Any:
    return services().auth.require_agent(bearer_token(routing.current_request))


def _group_out(group: Group) -> Any:
    return s.GroupOut(id=group.group_id, name=group.name, description=group.description)


def _rule_out(rule: Any) -> Any:
    return s.RuleOut(id=rule.rule_id, name=rule.name, position=rule.position, group_id=rule.group_id,
                     priority=rule.priority, enabled=rule.enabled,
                     conditions=[s.ConditionIn(field=c.field, op=c.op, key=c.key,
                                               value=list(c.value) if isinstance(c.value, tuple) else c.value)
                                 for c in rule.conditions])


def _rule(identity: Any, body: Any, rule_id: str) -> Any:
    from ..domain.routing import Condition, RoutingRule

    conditions = tuple(Condition(c.field, c.op, tuple(c.value) if isinstance(c.value, list) else c.value, c.key)
                       for c in body.conditions)
    return RoutingRule(identity.tenant_id, rule_id, body.name, body.position, conditions, body.group_id,
                       body.priority, body.enabled)


def _agent_out(state: Any) -> Any:
    from ..domain.clock import SystemClock

    return s.AgentRoutingOut(
        agent_id=state.agent_id, display_name=state.display_name, role=state.role, groups=sorted(state.groups),
        languages=sorted(state.languages), seniority=state.seniority, capacity=state.capacity, load=state.load,
        presence=state.presence if state.presence in ("online", "away") else "offline",
        reachable=state.reachable(SystemClock().now_ms()), live_connections=state.live_connections,
        heartbeat_at=state.heartbeat_at)


def _hours_body(hours: Any) -> Any:
    if hours is None:
        return s.BusinessHoursBody(hours=None)
    return s.BusinessHoursBody(hours=s.BusinessHoursIn(timezone=hours.timezone, windows={
        day: [tuple(w) for w in spans] for day, spans in hours.windows.items()}))


@routing.route("/v1/routing/groups", methods=["GET"])
def list_groups() -> Response:
    return json_response(s.GroupList(groups=[_group_out(g) for g in services().routing.groups(_agent())]))


@routing.route("/v1/routing/groups", methods=["POST"])
def create_group() -> Response:
    identity = _agent()
    body = parse_body(routing.current_request, s.GroupIn)
    return json_response(_group_out(services().routing.save_group(identity, body.name, body.description)),
                         status=201)


@routing.route("/v1/routing/groups/{group_id}", methods=["PUT"])
def update_group(group_id: str) -> Response:
    identity = _agent()
    body = parse_body(routing.current_request, s.GroupIn)
    return json_response(_group_out(services().routing.save_group(identity, body.name, body.description,
                                                                  group_id)))


@routing.route("/v1/routing/groups/{group_id}", methods=["DELETE"])
def delete_group(group_id: str) -> Response:
    services().routing.delete_group(_agent(), group_id)
    return Response(body="", status_code=204)


@routing.route("/v1/routing/rules", methods=["GET"])
def list_rules() -> Response:
    return json_response(s.RuleList(rules=[_rule_out(x) for x in services().routing.rules(_agent())]))


@routing.route("/v1/routing/rules", methods=["POST"])
def create_rule() -> Response:
    from ..domain.ids import new_id

    identity = _agent()
    body = parse_body(routing.current_request, s.RuleIn)
    rule = services().routing.save_rule(identity, _rule(identity, body, new_id("rl")), exists=False)
    return json_response(_rule_out(rule), status=201)


@routing.route("/v1/routing/rules/{rule_id}", methods=["PUT"])
def update_rule(rule_id: str) -> Response:
    identity = _agent()
    body = parse_body(routing.current_request, s.RuleIn)
    return json_response(_rule_out(services().routing.save_rule(identity, _rule(identity, body, rule_id),
                                                                exists=True)))


@routing.route("/v1/routing/rules/{rule_id}", methods=["DELETE"])
def delete_rule(rule_id: str) -> Response:
    services().routing.delete_rule(_agent(), rule_id)
    return Response(body="", status_code=204)


@routing.route("/v1/routing/agents", methods=["GET"])
def list_agents() -> Response:
    states = services().routing.agent_states(_agent())
    return json_response(s.AgentRoutingList(agents=[_agent_out(a) for a in states]))


@routing.route("/v1/routing/agents/{agent_id}", methods=["PUT"])
def update_agent(agent_id: str) -> Response:
    identity = _agent()
    body = parse_body(routing.current_request, s.AgentRoutingIn)
    state = services().routing.update_agent(identity, agent_id, body.groups, body.languages, body.seniority,
                                            body.capacity)
    return json_response(_agent_out(state))


@routing.route("/v1/routing/queue", methods=["GET"])
def queue() -> Response:
    queued = services().routing.queue(_agent())
    return json_response(s.QueueOut(queue=[
        s.QueuedConversation(position=i, conversation=chat.conversation_summary(c))
        for i, c in enumerate(queued, start=1)]))


@routing.route("/v1/routing/hours", methods=["GET"])
def get_hours() -> Response:
    return json_response(_hours_body(services().routing.business_hours(_agent())))


@routing.route("/v1/routing/hours", methods=["PUT"])
def put_hours() -> Response:
    from ..domain.routing import BusinessHours

    identity = _agent()
    body = parse_body(routing.current_request, s.BusinessHoursBody)
    hours = None
    if body.hours is not None:
        hours = BusinessHours(body.hours.timezone, {d: tuple((a, b) for a, b in spans)
                                                    for d, spans in body.hours.windows.items()})
    services().routing.set_business_hours(identity, hours)
    return json_response(_hours_body(hours))


def _left_out(m: LeftMessage) -> Any:
    return s.LeftMessageOut(id=m.message_id, visitor_id=m.visitor_id, conversation_id=m.conversation_id,
                            name=m.name, email=m.email, text=m.text, created_at=m.created_at,
                            reason=m.reason)  # type: ignore[arg-type]


@routing.route("/v1/left-messages", methods=["GET"])
def left_messages() -> Response:
    messages = services().routing.left_messages(_agent(), 100)
    return json_response(s.LeftMessageList(left_messages=[_left_out(m) for m in messages]))
