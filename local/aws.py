"""An in-process moto server standing in for AWS, and table creation from infra/template.yaml."""
from __future__ import annotations

import collections
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


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class MotoServer:
    """moto's server app in a background thread on 127.0.0.1."""

    def __init__(self, port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        _item_level_transaction_rollback()
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
