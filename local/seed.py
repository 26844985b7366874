"""Demo data for local runs and tests: a tenant with a site key and its agents."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from chalicelib.adapters.repositories import DynamoAgents, DynamoTenants
from chalicelib.adapters.security import ScryptHasher
from chalicelib.domain.ids import new_id
from chalicelib.domain.model import Agent, Tenant


@dataclass(frozen=True)
class SeededTenant:
    tenant_id: str
    name: str
    site_key: str
    agents: list[dict[str, str]]
    password: str
    identity_secret: str


def seed_tenant(name: str, agents: list[tuple[str, str]], password: str,
                site_key: str | None = None) -> SeededTenant:
    """Create a tenant and its agents (email, display name), all with `password`."""
    now = int(time.time() * 1000)
    tenant = Tenant(new_id("t"), name, site_key or f"pk_{secrets.token_urlsafe(18)}", now,
                    identity_secret=secrets.token_hex(32))
    DynamoTenants().add(tenant)
    hasher = ScryptHasher()
    hashed = hasher.hash(password)
    created = []
    for email, display_name in agents:
        agent = Agent(tenant.tenant_id, new_id("a"), email.lower(), display_name, hashed, "agent", now)
        DynamoAgents().add(agent)
        created.append({"agent_id": agent.agent_id, "email": agent.email, "display_name": display_name})
    return SeededTenant(tenant.tenant_id, name, tenant.site_key, created, password, tenant.identity_secret)
