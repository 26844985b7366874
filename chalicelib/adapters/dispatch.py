"""Starting the dispatch function and the knowledge base's vectors job: asynchronous
Lambda invokes (InvocationType=Event).

The caller does not wait: Lambda queues the event and answers 202 at once.
`KEFU_LAMBDA_ENDPOINT` points the client at the local gateway, which serves the same
Invoke API, so local runs take exactly this path.
"""
from __future__ import annotations

import json
import threading
from typing import Any, Callable

from ..domain.knowledge import VectorsJob
from ..domain.ports import DispatchTrigger


class _AsyncInvoke:
    """One function, invoked without waiting; the boto3 client is made on first use."""

    def __init__(self, function_name: str, region: str, endpoint_url: str | None = None,
                 client: Any | None = None) -> None:
        self._function_name = function_name
        self._region = region
        self._endpoint_url = endpoint_url
        self._client = client
        self._lock = threading.Lock()

    def _get_client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3  # deferred: only handlers that invoke pay for it
                    from botocore.config import Config

                    self._client = boto3.session.Session().client(
                        "lambda", region_name=self._region, endpoint_url=self._endpoint_url,
                        config=Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32,
                                      connect_timeout=2, read_timeout=5))
        return self._client

    def _send(self, payload: dict[str, Any]) -> None:
        self._get_client().invoke(FunctionName=self._function_name, InvocationType="Event",
                                  Payload=json.dumps(payload).encode())


class LambdaDispatchTrigger(_AsyncInvoke, DispatchTrigger):
    def __init__(self, function_name: str, region: str, endpoint_url: str | None = None,
                 callback_url: Callable[[], str | None] = lambda: None, client: Any | None = None) -> None:
        super().__init__(function_name, region, endpoint_url, client)
        self._callback_url = callback_url  # the @connections endpoint dispatch posts to

    def request(self, tenant_id: str, conversation_ids: list[str] | None = None, new: bool = False,
                born_assigned: bool = False) -> None:
        payload: dict[str, Any] = {"tenant_id": tenant_id, "conversation_ids": conversation_ids or []}
        if new:
            payload["new"] = True
        if born_assigned:
            payload["born_assigned"] = True
        callback = self._callback_url()
        if callback:
            payload["callback_url"] = callback
        self._send(payload)


class LambdaVectorsJob(_AsyncInvoke, VectorsJob):
    def request(self, tenant_id: str, article_ids: list[str] | None = None) -> None:
        payload: dict[str, Any] = {"tenant_id": tenant_id}
        if article_ids is not None:
            payload["article_ids"] = article_ids
        self._send(payload)
