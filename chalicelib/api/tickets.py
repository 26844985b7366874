"""REST: tickets for agents (list, open, edit, reply, notes, settings) and for customers
(leave a message, look up a ticket's status, rate a solved one)."""
from __future__ import annotations

from typing import Any

from chalice.app import Response

from ..bootstrap import services
from ..domain.errors import Forbidden
from ..domain.model import Identity
from .errors import Routes
from .http import bearer_token, json_response, parse_body, parse_query
from .lazy import LazyModule
from .sessions import PUBLIC_CORS

tickets = Routes(__name__)
ts = LazyModule("chalicelib.api.ticket_schemas")
domain = LazyModule("chalicelib.domain.tickets")
sla = LazyModule("chalicelib.domain.sla")
svc = LazyModule("chalicelib.services.tickets")


def _agent() -> Identity:
    return services().auth.require_agent(bearer_token(tickets.current_request))  # type: ignore[no-any-return]


def _details(ticket: Any, timeline: list[Any] | None = None) -> Any:
    now = services().tickets.now_ms()
    d = ticket.deadlines
    return ts.TicketDetails(
        ticket=svc.summary(ticket, now), source=ticket.source, conversation_id=ticket.conversation_id,
        requester_visitor_id=ticket.requester.visitor_id,
        deadlines=ts.Deadlines(first_response_due=d.first_response_due, next_response_due=d.next_response_due,
                               resolution_due=d.resolution_due, resolution_left_ms=d.resolution_left_ms),
        first_response_at=ticket.first_response_at, solved_at=ticket.solved_at, csat_score=ticket.csat_score,
        csat_comment=ticket.csat_comment, sla_version=ticket.sla_version,
        timeline=[_event(e) for e in timeline or []],
    )


def _event(event: Any) -> Any:
    return ts.TimelineEventOut(at=event.at, kind=event.kind, actor=event.actor, data=event.data)


def _number(number: str) -> int:
    if not number.isdigit() or len(number) > 10:
        raise domain.TicketNotFound(f"no ticket #{number[:12]}")
    return int(number)


@tickets.route("/v1/tickets", methods=["GET"])
def list_tickets() -> Response:
    identity = _agent()
    q = parse_query(tickets.current_request, ts.TicketListQuery)
    query = svc.TicketFilter(mine=q.mine, group_id=q.group_id,
                             status=domain.TicketStatus(q.status) if q.status else None,
                             priority=sla.Priority(q.priority) if q.priority else None, sla=q.sla, limit=q.limit)
    now = services().tickets.now_ms()
    found = services().tickets.search(identity, query)
    return json_response(ts.TicketList(tickets=[svc.summary(t, now) for t in found]))


@tickets.route("/v1/tickets", methods=["POST"])
def create_ticket() -> Response:
    identity = _agent()
    body = parse_body(tickets.current_request, ts.TicketIn)
    ticket = services().tickets.create(
        identity, body.subject, body.type, sla.Priority(body.priority),
        domain.Requester(body.visitor_id, body.requester_email, body.requester_name), tags=body.tags,
        group_id=body.group_id, assignee_id=body.assignee_id, description=body.description)
    return json_response(_details(ticket), status=201)


@tickets.route("/v1/conversations/{conversation_id}/ticket", methods=["POST"])
def ticket_from_conversation(conversation_id: str) -> Response:
    identity = _agent()
    body = parse_body(tickets.current_request, ts.ConversationTicketIn)
    ticket = services().tickets.from_conversation(identity, conversation_id, body.subject, body.type,
                                                  sla.Priority(body.priority))
    return json_response(_details(ticket), status=201)


@tickets.route("/v1/tickets/{number}", methods=["GET"])
def get_ticket(number: str) -> Response:
    ticket, timeline = services().tickets.get(_agent(), _number(number))
    return json_response(_details(ticket, timeline))


@tickets.route("/v1/tickets/{number}", methods=["PATCH"])
def edit_ticket(number: str) -> Response:
    identity = _agent()
    body = parse_body(tickets.current_request, ts.TicketPatch)
    changes = domain.TicketChanges(
        status=domain.TicketStatus(body.status) if body.status else None,
        priority=sla.Priority(body.priority) if body.priority else None, type=body.type,
        group_id=body.group_id, assignee_id=body.assignee_id, tags=body.tags, subject=body.subject)
    service = services().tickets
    service.update(identity, _number(number), changes, body.version)
    ticket, timeline = service.get(identity, _number(number))
    return json_response(_details(ticket, timeline))


@tickets.route("/v1/tickets/{number}/replies", methods=["POST"])
def reply_to_ticket(number: str) -> Response:
    identity = _agent()
    body = parse_body(tickets.current_request, ts.TextIn)
    services().tickets.reply(identity, _number(number), body.text)
    ticket, timeline = services().tickets.get(identity, _number(number))
    return json_response(_details(ticket, timeline), status=201)


@tickets.route("/v1/tickets/{number}/notes", methods=["POST"])
def note_on_ticket(number: str) -> Response:
    identity = _agent()
    body = parse_body(tickets.current_request, ts.TextIn)
    return json_response(_event(services().tickets.note(identity, _number(number), body.text)), status=201)


@tickets.route("/v1/tickets/{number}/escalate", methods=["POST"])
def escalate_ticket(number: str) -> Response:
    identity = _agent()
    body = parse_body(tickets.current_request, ts.EscalateIn)
    services().tickets.get(identity, _number(number))  # an agent of this tenant, an existing ticket
    services().tickets.escalate_now(identity.tenant_id, _number(number), body.reason)
    ticket, timeline = services().tickets.get(identity, _number(number))
    return json_response(_details(ticket, timeline))


@tickets.route("/v1/ticket-reports/sla", methods=["GET"])
def sla_report() -> Response:
    identity = _agent()
    query = parse_query(tickets.current_request, ts.SlaReportQuery)
    report = services().tickets.sla_report(identity, query.since)
    return json_response(ts.SlaReport(
        tickets=report.tickets, met=report.met, attainment=report.rate, breaches_by_kind=report.breaches_by_kind,
        by_priority={p: ts.PriorityAttainment(tickets=n, met=m) for p, (n, m) in report.by_priority.items()}))


@tickets.route("/v1/ticket-settings", methods=["GET"])
def ticket_settings() -> Response:
    identity = _agent()
    service = services().tickets
    return json_response(ts.TicketSettingsOut(sla=service.policy(identity.tenant_id).to_dict(),
                                              routing=service.routing(identity.tenant_id).to_dict()))


@tickets.route("/v1/ticket-settings/sla", methods=["PUT"])
def set_sla_policy() -> Response:
    identity = _agent()
    body = parse_body(tickets.current_request, ts.SlaPolicyIn)
    policy = services().tickets.set_policy(identity, body.model_dump())
    return json_response(ts.SlaPolicyIn.model_validate(policy.to_dict()))


@tickets.route("/v1/ticket-settings/routing", methods=["PUT"])
def set_ticket_routing() -> Response:
    identity = _agent()
    body = parse_body(tickets.current_request, ts.TicketRoutingIn)
    routing = services().tickets.set_routing(identity, body.model_dump())
    return json_response(ts.TicketRoutingIn.model_validate(routing.to_dict()))


# ------------------------------------------------------------------ the customer's side


def _status(ticket: Any) -> Any:
    return ts.TicketStatusOut(number=ticket.number, subject=ticket.subject, status=ticket.status.value,
                              created_at=ticket.created_at, updated_at=ticket.updated_at,
                              csat_score=ticket.csat_score)


@tickets.route("/v1/visitor/left-messages", methods=["POST"], cors=PUBLIC_CORS)
def leave_message() -> Response:
    request = tickets.current_request
    identity = services().auth.identify(bearer_token(request))
    if identity.is_agent:
        raise Forbidden("visitors leave messages; agents open tickets")
    body = parse_body(request, ts.LeftMessageIn)
    ticket = services().tickets.from_left_message(identity.tenant_id, identity.principal_id, body.name,
                                                  body.email, body.text)
    return json_response(_status(ticket), status=201)


@tickets.route("/v1/public/tickets/lookup", methods=["POST"], cors=PUBLIC_CORS)
def lookup_ticket() -> Response:
    request = tickets.current_request
    body = parse_body(request, ts.LookupIn)
    client = ((request.context or {}).get("identity") or {}).get("sourceIp") or "unknown"
    return json_response(ts.TicketStatusOut(**services().tickets.lookup(body.site_key, body.number, body.email,
                                                                         client)))


def _rated(body: Any) -> Response:
    ticket = services().tickets.rate(body.token, body.score, getattr(body, "comment", None), body.reopen)
    message = ("Sorry it is not solved yet: the ticket is open again and back with its agent."
               if body.reopen else "Thank you for your rating.")
    return json_response(ts.RatingOut(number=ticket.number, status=ticket.status.value,
                                      csat_score=ticket.csat_score or body.score, message=message))


@tickets.route("/v1/public/tickets/rating", methods=["GET"], cors=PUBLIC_CORS)
def rate_from_link() -> Response:
    request = tickets.current_request
    body = parse_query(request, ts.RatingQuery)
    answer = _rated(body)
    headers: Any = request.headers or {}  # chalice's case-insensitive mapping
    if "text/html" not in (headers.get("accept") or ""):
        return answer
    # A person clicked the mail's link: a page that says what happened and lets them change
    # the score and add a comment (the form sends the same query again).
    rated = ts.RatingOut.model_validate_json(answer.body)
    return Response(body=rating_page(rated.number, rated.status, body.score, body.token, body.reopen,
                                     body.comment is not None),
                    status_code=200, headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                                              "Content-Security-Policy": RATING_PAGE_CSP,
                                              "Referrer-Policy": "no-referrer"})


RATING_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"


def rating_page(number: int, status: str, score: int, token: str, reopened: bool, commented: bool) -> str:
    """The page behind a rating link. It shows only what the server knows (numbers, the
    status, the signed token, escaped), never text a visitor sent."""
    import html

    if reopened:
        text = f"Request #{number} is open again and back with its agent. We will get back to you."
        form = ""
    elif commented:
        text = f"Thank you: you rated request #{number} {score} of 5, and we have your comment."
        form = ""
    else:
        text = f"Thank you: you rated request #{number} {score} of 5."
        stars = "".join(f'<label><input type="radio" name="score" value="{n}"{" checked" if n == score else ""}> {n}'
                        f"</label> " for n in range(1, 6))
        form = (f'<form method="get"><input type="hidden" name="token" value="{html.escape(token, quote=True)}">'
                f"<p>Your rating (1 poor – 5 great): {stars}</p>"
                '<p><label for="comment">Anything you want to add?</label><br>'
                '<textarea id="comment" name="comment" rows="4" cols="50" maxlength="2000"></textarea></p>'
                '<p><button type="submit">Send</button></p></form>')
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>Request #{number}</title>'
            '<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}</style>'
            f"</head><body><h1>Request #{number}: {html.escape(status.replace('_', ' '))}</h1>"
            f"<p id=\"result\">{html.escape(text)}</p>{form}</body></html>")


@tickets.route("/v1/public/tickets/rating", methods=["POST"], cors=PUBLIC_CORS)
def rate_ticket() -> Response:
    return _rated(parse_body(tickets.current_request, ts.RatingIn))
