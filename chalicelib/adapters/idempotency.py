"""Powertools idempotency for REST calls that create something: a POST retried with the same
`Idempotency-Key` (a client whose connection dropped before the answer arrived) gets the
first answer again instead of creating a second record or a confusing 409.

Records live in the idempotency table for an hour. Powertools writes the record with a
conditional put before running the function, so two concurrent retries run it once: the
second gets IdempotencyConflict while the first is in progress.
"""
from __future__ import annotations

import hashlib
import json
import threading
from typing import Any, Callable

from ..domain.errors import IdempotencyConflict

EXPIRES_AFTER_SECONDS = 3600
_lock = threading.Lock()
_stores: dict[str, Any] = {}


def _store(table_name: str) -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    with _lock:
        if table_name not in _stores:
            _stores[table_name] = DynamoDBPersistenceLayer(table_name=table_name)
        return _stores[table_name]


class Idempotency:
    def __init__(self, table_name: str) -> None:
        self._table_name = table_name

    def once(self, scope: str, key: str, body: bytes, run: Callable[[], dict[str, Any]],
             lambda_context: Any = None) -> dict[str, Any]:
        """Run `run` once per (scope, key); later calls return its stored result.

        `scope` names the caller and the route (a key is only meaningful for one client);
        `body` must be the same on a retry, or the call is refused.
        """
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyValidationError,
        )

        config = IdempotencyConfig(event_key_jmespath="key", payload_validation_jmespath="body",
                                   expires_after_seconds=EXPIRES_AFTER_SECONDS, raise_on_no_idempotency_key=True)
        if lambda_context is not None:  # an in-progress record then expires with the invocation
            config.register_lambda_context(lambda_context)

        @idempotent_function(data_keyword_argument="request", persistence_store=_store(self._table_name),
                             config=config, key_prefix="rest")
        def first(request: dict[str, Any]) -> dict[str, Any]:
            return run()

        request = {"key": f"{scope}#{key}", "body": hashlib.sha256(body).hexdigest()}
        try:
            result: dict[str, Any] = first(request=request)
        except IdempotencyValidationError:
            raise IdempotencyConflict("this Idempotency-Key was used with a different request body") from None
        except IdempotencyAlreadyInProgressError:
            raise IdempotencyConflict("a request with this Idempotency-Key is still being handled; retry shortly",
                                      {"retry_after_ms": 1000}) from None
        return json.loads(json.dumps(result))
