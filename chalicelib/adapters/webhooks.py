"""Calling a tenant's site integration (the bot's webhook intents) over HTTPS."""
from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any

from ..domain.errors import IntegrationFailed
from ..domain.knowledge import Webhook, WebhookCaller

TIMEOUT_S = 4.0
MAX_ANSWER_BYTES = 64 * 1024


class HttpWebhooks(WebhookCaller):
    """POST JSON, signed with the webhook's secret (`X-Kefu-Signature: sha256=<hex>`);
    any network error, non-2xx status, oversized or non-JSON answer is `IntegrationFailed`."""

    def __init__(self, timeout_s: float = TIMEOUT_S) -> None:
        self._timeout = timeout_s

    def call(self, webhook: Webhook, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "kefu-bot/1"}
        if webhook.secret:
            digest = hmac.new(webhook.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Kefu-Signature"] = f"sha256={digest}"
        request = urllib.request.Request(webhook.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310 (https only, validated)
                raw = response.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as error:
            raise IntegrationFailed(f"the integration answered HTTP {error.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise IntegrationFailed(f"the integration did not answer: {error}") from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise IntegrationFailed("the integration's answer is too large")
        try:
            answer = json.loads(raw)
        except ValueError:
            raise IntegrationFailed("the integration's answer is not JSON") from None
        if not isinstance(answer, dict):
            raise IntegrationFailed("the integration's answer is not a JSON object")
        return answer
