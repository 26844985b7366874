"""Modules imported on first use, so importing app.py (a Lambda cold start) stays cheap:
pydantic and the services load with the first request that needs them."""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)


schemas = LazyModule("chalicelib.api.schemas")
chat = LazyModule("chalicelib.services.chat")
files = LazyModule("chalicelib.services.files")
