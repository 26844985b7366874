"""Powertools logging and metrics, loaded on first use so cold starts stay short."""
from __future__ import annotations

import os
import threading
from typing import Any

from ..domain.ports import Metrics

NAMESPACE = "Kefu"
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "kefu")

_lock = threading.Lock()
_logger: Any = None


def logger() -> Any:
    """The process's Powertools Logger (structured JSON, correlation keys appended per event)."""
    global _logger
    if _logger is None:
        with _lock:
            if _logger is None:
                from aws_lambda_powertools import Logger

                # Child loggers ("kefu.chat", ...) propagate here and come out as JSON.
                _logger = Logger(service=SERVICE)
    return _logger


class PowertoolsMetrics(Metrics):
    """CloudWatch EMF metrics; `flush` is called once at the end of every invocation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending = False
        # Locally (and wherever metrics are switched off) do not even buffer them.
        self._enabled = os.environ.get("POWERTOOLS_METRICS_DISABLED", "false").lower() not in ("1", "true")
        if not self._enabled:
            return
        from aws_lambda_powertools import Metrics as _Metrics
        from aws_lambda_powertools.metrics import MetricUnit

        self._metrics = _Metrics(namespace=NAMESPACE, service=SERVICE)
        self._unit = MetricUnit.Count

    def count(self, name: str, value: int = 1) -> None:
        if not self._enabled:
            return
        with self._lock:
            self._metrics.add_metric(name=name, unit=self._unit, value=value)
            self._pending = True

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._metrics.flush_metrics()
                self._pending = False
