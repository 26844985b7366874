"""Shared fixtures. The end-to-end ones start the whole system once per test session
(moto + the local gateway in this process) and give each test its own tenant."""
from __future__ import annotations

import os
import uuid
from typing import AsyncIterator, Callable, Iterator

import pytest

# One BLAS thread per process: two test workers share 2 cores, and OpenBLAS's threads spin
# while they wait (two processes with two threads each ran the bot's evaluation 3x slower).
# Set before any test module imports NumPy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def stack() -> Iterator[object]:
    """One `LocalStack` (moto, the tables, the local gateway on a free port) for the session."""
    from chalicelib import bootstrap
    from chalicelib.config import load_settings
    from local.server import LocalStack

    saved_environment = dict(os.environ)
    local_stack = LocalStack(port=0, seed_demo=False).start_in_thread()
    try:
        yield local_stack
    finally:
        local_stack.stop()
        # Later tests in this session must not inherit the stack's AWS settings.
        os.environ.clear()
        os.environ.update(saved_environment)
        load_settings.cache_clear()
        bootstrap.reset()


@pytest.fixture
def make_tenant(stack: object) -> Callable[[], object]:
    """Makes fresh tenants with two agents each, so no test sees another test's data."""
    from local.seed import seed_tenant

    from tests.e2e.clients import Tenant

    def make() -> Tenant:
        tag = uuid.uuid4().hex[:10]
        agents = [(f"ann-{tag}@e2e.kefu.dev", "Ann"), (f"ben-{tag}@e2e.kefu.dev", "Ben")]
        seeded = seed_tenant(f"Tenant {tag}", agents, f"pw-{tag}")
        return Tenant(seeded.tenant_id, seeded.site_key, [a["email"] for a in seeded.agents], seeded.password)

    return make


@pytest.fixture
def tenant(make_tenant: Callable[[], object]) -> object:
    return make_tenant()


@pytest.fixture
async def api(stack: object, anyio_backend: str) -> AsyncIterator[object]:
    """REST and WebSocket clients' entry point for the session's stack."""
    from tests.e2e.clients import Api

    client = Api(stack.url, stack.ws_url)  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        await client.aclose()
