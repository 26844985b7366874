"""Posting to WebSocket connections through API Gateway's @connections management API."""
from __future__ import annotations

import threading
from typing import Any

from ..domain.errors import ConnectionGone
from ..domain.ports import ConnectionGateway


class ApiGatewayConnections(ConnectionGateway):
    """post_to_connection through boto3.

    The endpoint is `https://{domain}/{stage}` from the WebSocket event on AWS, or
    `KEFU_WS_CALLBACK_URL` when set (the local gateway serves the same API).
    """

    def __init__(self, region: str, endpoint_url: str | None = None, client: Any | None = None) -> None:
        self._region = region
        self._endpoint_url = endpoint_url
        self._client = client
        self._lock = threading.Lock()

    def configure_from_event(self, domain_name: str, stage: str) -> None:
        if self._endpoint_url is None:
            self._endpoint_url = f"https://{domain_name}/{stage}"

    def configure_endpoint(self, endpoint_url: str) -> None:
        """The dispatch function learns the endpoint from the handler that invoked it."""
        if self._endpoint_url is None:
            self._endpoint_url = endpoint_url

    @property
    def endpoint_url(self) -> str | None:
        return self._endpoint_url

    def _get_client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3  # deferred: a cold start that never posts does not pay for it
                    from botocore.config import Config

                    if self._endpoint_url is None:
                        raise RuntimeError("the @connections endpoint is not configured")
                    self._client = boto3.session.Session().client(
                        "apigatewaymanagementapi",
                        region_name=self._region,
                        endpoint_url=self._endpoint_url,
                        config=Config(retries={"max_attempts": 3, "mode": "standard"},
                                      max_pool_connections=32),
                    )
        return self._client

    def post(self, connection_id: str, data: bytes) -> None:
        client = self._get_client()
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=data)
        except client.exceptions.GoneException:
            raise ConnectionGone(connection_id) from None
