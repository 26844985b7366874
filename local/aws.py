"""An in-process moto server standing in for AWS, and table creation from infra/template.yaml."""
from __future__ import annotations

import collections
import json
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml
from werkzeug.serving import WSGIRequestHandler, make_server

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"

# Logical resource id in the template → key in chalicelib.config.TableNames
TABLE_RESOURCES = {
    "TenantsTable": "tenants",
    "AgentsTable": "agents",
    "VisitorsTable": "visitors",
    "ConnectionsTable": "connections",
    "ConversationsTable": "conversations",
    "MessagesTable": "messages",
    "SettingsTable": "settings",
    "IdempotencyTable": "idempotency",
    "TicketsTable": "tickets",
    "KnowledgeTable": "knowledge",
}


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML: short-form intrinsics (!Ref, !Sub, ...) become {"Fn::X": ...}."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass


def table_definitions(template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """CreateTable arguments (minus TableName) for each table resource of the template."""
    template = template or load_template()
    tables = {}
    for logical_id, key in TABLE_RESOURCES.items():
        props = template["Resources"][logical_id]["Properties"]
        args: dict[str, Any] = {
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        tables[key] = {"create": args, "ttl": props.get("TimeToLiveSpecification")}
    return tables


def create_tables(dynamodb: Any, names: dict[str, str]) -> None:
    """Create every table of the template under the given names (idempotent)."""
    existing = set(dynamodb.list_tables()["TableNames"])
    for key, definition in table_definitions().items():
        name = names[key]
        if name in existing:
            continue
        dynamodb.create_table(TableName=name, **definition["create"])
        if definition["ttl"]:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=definition["ttl"])


class RequestStats:
    """Counts AWS API calls that reach the moto server, by service and operation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()

    def add(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()


class _SerializedApp:
    """WSGI wrapper: one request at a time, like DynamoDB's per-request atomicity.

    moto's backends check a condition and then write in two Python steps; two threads
    interleaving there would let two conditional writes both succeed, which real
    DynamoDB never allows. Serializing requests restores that guarantee.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], stats: RequestStats) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._stats = stats

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            self._stats.add(target.replace("DynamoDB_20120810.", "dynamodb."))
        if environ.get("PATH_INFO", "").endswith("/invocations"):
            # A Lambda invocation runs our handler in-process (see in_process_lambdas), and the
            # handler calls DynamoDB through this server: it must not hold the lock meanwhile.
            self._stats.add("lambda.Invoke")
            return list(self._app(environ, start_response))
        with self._lock:
            return list(self._app(environ, start_response))


def _item_level_transaction_rollback() -> None:
    """Make moto's TransactWriteItems roll back item by item instead of copying whole tables.

    moto 5 deep-copies every table a transaction touches before applying it, so each
    transaction costs time in proportion to the table's size: after a few thousand messages
    a local chat slows to seconds per message. This keeps moto's own checks and writes and
    changes only the undo: a copy of each item the transaction names, put back if it fails.
    Requests are serialized (_SerializedApp), so nothing else can interleave.
    """
    import copy

    from moto.dynamodb import models

    backend_class = models.DynamoDBBackend
    if getattr(backend_class, "_kefu_item_rollback", False):
        return
    original = backend_class.transact_write_items

    class _TablesAreNotCopied:
        """Stands in for the `copy` module inside moto.dynamodb.models during a transaction."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, models.Table) else copy.deepcopy(value, memo)

    models.copy = _TablesAreNotCopied()  # type: ignore[assignment]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        for entry in transact_items:
            for op_type, op in entry.items():
                table = self.tables.get(op.get("TableName"))
                if table is None:
                    continue
                key = op.get("Key")
                if op_type == "Put":
                    attrs = op.get("Item", {})
                    key = {name: attrs.get(name) for name in (table.hash_key_attr, table.range_key_attr) if name}
                try:
                    hash_key, range_key = self.get_keys_value(table, key or {})
                    current = table.get_item(hash_key, range_key)
                except Exception:  # moto reports the bad key itself
                    continue
                saved.append((table, hash_key, range_key, copy.deepcopy(current)))
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(saved):
                if item is not None and range_key:
                    table.items[hash_key][range_key] = item
                elif item is not None:
                    table.items[hash_key] = item
                elif range_key:
                    table.items.get(hash_key, {}).pop(range_key, None)
                else:
                    table.items.pop(hash_key, None)
            raise

    backend_class.transact_write_items = transact_write_items  # type: ignore[method-assign]
    backend_class._kefu_item_rollback = True  # type: ignore[attr-defined]


# DynamoDB operations whose answers are plain JSON documents (items in DynamoDB's own JSON).
_PLAIN_JSON_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
                                    "BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems"})


def plain_json_answer(result: object, operation: Any) -> str | None:
    """The body moto's generic serializer would write for a DynamoDB item operation, or None
    if this operation or result is not one we can write ourselves.

    moto 5.2 walks every answer against the botocore shape with attribute pickers: for a
    Query of 20 agents that is about 70 % of the request's time. Items are already in
    DynamoDB JSON, so for these operations the answer is the result's own JSON, limited to
    the members the output shape declares (as the serializer does).
    tests/integration/test_local_moto.py compares both on real answers.
    """
    if operation.name not in _PLAIN_JSON_OPERATIONS or not isinstance(result, dict):
        return None
    members = operation.output_shape.members if operation.output_shape is not None else {}
    try:
        return json.dumps({k: v for k, v in result.items() if k in members and v is not None})
    except (TypeError, ValueError):  # bytes or another type the serializer knows how to write
        return None


def _plain_json_dynamodb_answers() -> None:
    """Write DynamoDB item operations' answers with json.dumps (see plain_json_answer)."""
    from moto.core.responses import ActionResult

    if getattr(ActionResult.execute_result, "kefu_plain_json", False):
        return
    generic = ActionResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        if context.service_model.service_name == "dynamodb":
            body = plain_json_answer(self.result, context.operation_model)
            if body is not None:
                return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
        return generic(self, context)

    execute_result.kefu_plain_json = True  # type: ignore[attr-defined]
    execute_result.generic = generic  # type: ignore[attr-defined]
    ActionResult.execute_result = execute_result  # type: ignore[method-assign]


def _queries_read_their_partition() -> None:
    """Make moto's Table.query look at the partition it is asked for, as DynamoDB does.

    moto 5.2's query first lists and sorts every item of the table (`Table.all_items`),
    then keeps those of the asked partition and sorts them again: each Query costs time in
    proportion to the whole table, so a local stack slows down as conversations and
    connections pile up (a queue or agents' connections Query after 200 arrivals sorted
    every conversation or every visitor's socket). During a query, `all_items` now gives
    that partition's items only, or, for an index (whose partitions moto does not keep),
    every item unsorted: moto keeps its own filtering, ordering, paging and projections.
    tests/integration/test_local_moto.py compares answers with and without this.
    """
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_kefu_partition_query", False):
        return
    every_item_sorted = Table.all_items
    query = Table.query
    asked = threading.local()  # (table, hash key or None for an index) while this thread queries

    def all_items(self: Any) -> list[Any]:
        scope = getattr(asked, "scope", None)
        if scope is None or scope[0] is not self:
            return every_item_sorted(self)
        if scope[1] is None:
            return [i for part in self.items.values() for i in (part.values() if self.range_key_attr else [part])]
        part = self.items.get(scope[1])
        if part is None:
            return []
        return list(part.values()) if self.range_key_attr else [part]

    def partition_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        asked.scope = (self, None if index_name else hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            asked.scope = None

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = partition_query  # type: ignore[method-assign]
    Table._kefu_partition_query = True  # type: ignore[attr-defined]
    Table._kefu_unpatched = (every_item_sorted, query)  # type: ignore[attr-defined]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class MotoServer:
    """moto's server app in a background thread on 127.0.0.1."""

    def __init__(self, port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        _item_level_transaction_rollback()
        _plain_json_dynamodb_answers()
        _queries_read_their_partition()
        self.stats = RequestStats()
        app = _SerializedApp(DomainDispatcherApplication(create_backend_app), self.stats)
        self._server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    def start(self) -> "MotoServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


# ------------------------------------------------------------------ Step Functions, Lambda tasks, SES

STATE_MACHINES = ROOT / "infra" / "statemachines"
LOCAL_ACCOUNT = "123456789012"  # moto's default account
_LAMBDA_HANDLERS: dict[str, Callable[[dict[str, Any], Any], Any]] = {}


def in_process_lambdas(app: Any, prefix: str) -> dict[str, str]:
    """Let moto's Lambda run the Chalice app's `@app.lambda_function` handlers in this process.

    moto runs Step Functions executions for real (Wait states in real time) but runs Lambda
    code only in Docker; without it an invoke answers an empty payload. This swaps moto's
    `LambdaFunction.invoke` for a call of the very handler `chalice package` deploys, for the
    functions registered here; moto still resolves the function, so a wrong ARN fails as on AWS.
    Returns {chalice function name: local function name}.
    """
    import json

    from moto.awslambda.models import LambdaFunction

    if not getattr(LambdaFunction, "_kefu_in_process", False):
        original = LambdaFunction.invoke

        def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> Any:
            handler = _LAMBDA_HANDLERS.get(self.function_name)
            if handler is None:
                return original(self, body, request_headers, response_headers)
            from chalice.local import LambdaContext

            event = json.loads(body) if isinstance(body, (str, bytes)) and body else (body or {})
            context = LambdaContext(function_name=self.function_name, memory_size=512, max_runtime_ms=60_000)
            try:
                payload = json.dumps(handler(event, context))
            except Exception as error:  # reported to the state machine as Lambda reports it
                response_headers["x-amz-function-error"] = "Unhandled"
                payload = json.dumps({"errorMessage": str(error), "errorType": type(error).__name__})
            return payload.encode()

        LambdaFunction.invoke = invoke  # type: ignore[method-assign]
        LambdaFunction._kefu_in_process = True  # type: ignore[attr-defined]
    names = {}
    for function in app.pure_lambda_functions:
        local_name = f"{prefix}{function.name}"
        _LAMBDA_HANDLERS[local_name] = function
        names[function.name] = local_name
    return names


def provision_state_machines(moto_url: str, port: int, region: str, app: Any, prefix: str = "kefu-local-"
                             ) -> dict[str, str]:
    """Turn on moto's state machine execution, register the app's Lambda tasks and create
    every state machine of infra/statemachines/ from its file. Returns {name: ARN}."""
    import io
    import json
    import os
    import urllib.request
    import zipfile

    import boto3

    os.environ["MOTO_PORT"] = str(port)  # moto's executions call Lambda at localhost:MOTO_PORT
    request = urllib.request.Request(f"{moto_url}/moto-api/config", method="POST",
                                     data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode())
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - our own local server

    session = dict(endpoint_url=moto_url, region_name=region)
    iam, lam, sfn = (boto3.client(name, **session) for name in ("iam", "lambda", "stepfunctions"))  # type: ignore[call-overload]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]}}]})
    try:
        role = iam.create_role(RoleName=f"{prefix}role", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName=f"{prefix}role")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "# runs in-process: local/aws.py in_process_lambdas\n")
    substitutions = {}
    for chalice_name, local_name in in_process_lambdas(app, prefix).items():
        try:
            arn = lam.create_function(FunctionName=local_name, Runtime="python3.11", Role=role,
                                      Handler=f"app.{chalice_name}", Code={"ZipFile": archive.getvalue()},
                                      Timeout=60)["FunctionArn"]
        except lam.exceptions.ResourceConflictException:
            arn = lam.get_function(FunctionName=local_name)["Configuration"]["FunctionArn"]
        # CloudFormation's DefinitionSubstitutions key, as infra/template.yaml names it
        substitutions["".join(part.title() for part in chalice_name.split("_")) + "FunctionArn"] = arn
    machines = {}
    for path in sorted(STATE_MACHINES.glob("*.asl.json")):
        name = f"{prefix}{path.name.removesuffix('.asl.json')}"
        definition = substitute(path.read_text(encoding="utf-8"), substitutions)
        arn = f"arn:aws:states:{region}:{LOCAL_ACCOUNT}:stateMachine:{name}"
        try:
            sfn.describe_state_machine(stateMachineArn=arn)
        except sfn.exceptions.StateMachineDoesNotExist:
            arn = sfn.create_state_machine(name=name, definition=definition, roleArn=role,
                                           type="STANDARD")["stateMachineArn"]
        machines[path.name.removesuffix(".asl.json")] = arn
    return machines


def substitute(definition: str, substitutions: dict[str, str]) -> str:
    """CloudFormation's DefinitionSubstitutions: `${Name}` → value; an unknown name is an error."""
    import re

    def value(match: "re.Match[str]") -> str:
        if match.group(1) not in substitutions:
            raise KeyError(f"no substitution for ${{{match.group(1)}}} in a state machine definition")
        return substitutions[match.group(1)]

    return re.sub(r"\$\{(\w+)\}", value, definition)


def verify_mail_sender(moto_url: str, region: str, sender: str) -> None:
    import boto3

    boto3.client("ses", endpoint_url=moto_url, region_name=region).verify_email_identity(EmailAddress=sender)


def sent_mails(region: str = "us-east-1") -> list[dict[str, Any]]:
    """What SES (moto's, in this process) was asked to send, newest first."""
    from moto.ses.models import ses_backends

    backend = ses_backends[LOCAL_ACCOUNT][region]
    mails = []
    for message in backend.sent_messages:
        mails.append({"id": message.id, "from": message.source, "subject": getattr(message, "subject", ""),
                      "body": getattr(message, "body", ""),
                      "to": list((getattr(message, "destinations", None) or {}).get("ToAddresses", []))})
    return list(reversed(mails))
