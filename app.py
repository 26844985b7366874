"""Kefu's Chalice app: routes and wiring only; the work lives in chalicelib/."""
from chalicelib.api import dispatch, jobs, websocket
from chalicelib.api.application import KefuApp
from chalicelib.api.conversations import conversations
from chalicelib.api.knowledge import knowledge
from chalicelib.api.routing import routing
from chalicelib.api.sessions import sessions
from chalicelib.api.tickets import tickets
from chalicelib.api.workspace import workspace

app = KefuApp(app_name="kefu")
app.experimental_feature_flags.update(["WEBSOCKETS"])
app.register_blueprint(sessions)
app.register_blueprint(conversations)
app.register_blueprint(workspace)
app.register_blueprint(tickets)
app.register_blueprint(knowledge)
app.register_blueprint(routing)


@app.on_ws_connect()
def ws_connect(event):  # type: ignore[no-untyped-def]
    return websocket.on_connect(event)


@app.on_ws_message()
def ws_message(event):  # type: ignore[no-untyped-def]
    return websocket.on_message(event)


@app.on_ws_disconnect()
def ws_disconnect(event):  # type: ignore[no-untyped-def]
    return websocket.on_disconnect(event)


@app.lambda_function(name="sla_check")
def sla_check(event, context):  # type: ignore[no-untyped-def]
    return jobs.sla_check(event)


@app.lambda_function(name="kb_vectors")
def kb_vectors(event, context):  # type: ignore[no-untyped-def]
    return jobs.kb_vectors(event, context)


@app.lambda_function(name="dispatch")
def dispatch_queue(event, context):  # type: ignore[no-untyped-def]
    return dispatch.on_invoke(event)
