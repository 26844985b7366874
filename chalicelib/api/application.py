"""The Chalice application object Kefu's handlers register on."""
from __future__ import annotations

import threading
from typing import Any

from chalice import Chalice

_local = threading.local()


class KefuApp(Chalice):
    """Chalice with the per-request attributes kept per thread.

    A Lambda container runs one invocation at a time, so on AWS this changes nothing; the
    local gateway runs handlers on a thread pool (as parallel Lambdas) and needs it.
    """

    @property  # type: ignore[override]
    def current_request(self) -> Any:
        return getattr(_local, "current_request", None)

    @current_request.setter
    def current_request(self, value: Any) -> None:
        _local.current_request = value

    @property  # type: ignore[override]
    def lambda_context(self) -> Any:
        return getattr(_local, "lambda_context", None)

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        _local.lambda_context = value
