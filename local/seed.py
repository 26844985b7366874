"""Demo data for local runs and tests: a tenant with a site key and its agents."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

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


DEMO_SLA = {
    # Short targets for high and urgent tickets, so a local run shows a breach within a minute.
    "targets": {
        "urgent": {"first_response_ms": 15_000, "next_response_ms": 30_000, "resolution_ms": 300_000},
        "high": {"first_response_ms": 30_000, "next_response_ms": 60_000, "resolution_ms": 600_000},
        "normal": {"first_response_ms": 14_400_000, "next_response_ms": 28_800_000,
                   "resolution_ms": 172_800_000},
        "low": {"first_response_ms": 86_400_000, "next_response_ms": 86_400_000, "resolution_ms": 432_000_000},
    },
    "ladder": [{"action": "notify_assignee", "after_ms": 0}, {"action": "raise_priority", "after_ms": 10_000},
               {"action": "reassign", "after_ms": 10_000}],
    "escalation_group": "seniors",
}


def seed_ticket_demo(tenant_id: str, assignee_id: str, supervisor_id: str) -> int:
    """The demo tenant's SLA policy and ticket routing, a supervisor, and one high-priority ticket
    whose first response is due 30 s from now: it escalates step by step while you watch.
    Returns the ticket's number."""
    from chalicelib import bootstrap
    from chalicelib.adapters.tables import AgentItem
    from chalicelib.domain.model import Identity, Role
    from chalicelib.domain.sla import Priority
    from chalicelib.domain.tickets import Requester

    AgentItem(tenant_id, supervisor_id).update(actions=[AgentItem.role.set("supervisor")])
    tickets = bootstrap.services().tickets
    supervisor = Identity(tenant_id, Role.AGENT, supervisor_id, "Supervisor")
    tickets.set_policy(supervisor, DEMO_SLA)
    tickets.set_routing(supervisor, {"rules": [{"type": "logistics", "group_id": "warehouse"},
                                               {"type": "billing", "group_id": "finance"}],
                                     "default_group": "support"})
    ticket = tickets.create(Identity(tenant_id, Role.AGENT, assignee_id, "Agent"),
                            "Demo: my parcel never arrived", "logistics", Priority.HIGH,
                            Requester(None, "customer@demo.kefu.dev", "Demo Customer"), assignee_id=assignee_id,
                            description="Order 1042 was due last week. (A demo ticket: nobody answers it, so "
                                        "its SLA timer escalates it.)")
    return int(ticket.number)


DEMO_KB = Path(__file__).resolve().parent.parent / "tests" / "data" / "kb"
# Order numbers in English or Chinese: "order 12345", "order #12345", "订单号 12345".
ORDER_PATTERN = r"(?:order|订单)\s*(?:number|no\.?|号)?\s*[#:：]?\s*(\d{4,})"


def seed_knowledge_demo(tenant_id: str, agent_id: str, base_url: str) -> int:
    """The demo shop's knowledge base (the bot's evaluation articles, English and Chinese,
    published) and an order-status webhook on the local gateway. Returns the article count."""
    import json

    from chalicelib import bootstrap
    from chalicelib.adapters.knowledge import DynamoBot
    from chalicelib.domain.knowledge import BotSettings, Webhook
    from chalicelib.domain.model import Identity, Role
    from chalicelib.services.knowledge import ArticleFields

    agent = Identity(tenant_id, Role.AGENT, agent_id, "Seed")
    items = []
    for locale in ("en", "zh"):
        for raw in json.loads((DEMO_KB / f"articles_{locale}.json").read_text(encoding="utf-8")):
            items.append((f"{raw['topic']}.{locale}", ArticleFields(raw["title"], raw["body"], locale, raw["category"],
                                                                    tuple(raw["phrasings"]), "published",
                                                                    tuple(raw.get("not_answered", ())))))
    services = bootstrap.services()
    services.knowledge.import_articles(agent, items)
    # Straight into the table: the seed is not a supervisor's edit (no role check, no merge).
    DynamoBot().save_settings(BotSettings(tenant_id, webhooks=[
        Webhook("order-status", ORDER_PATTERN, f"{base_url}/_local/order-status")],
        updated_at=int(time.time() * 1000), updated_by="Demo set-up"))
    return len(items)
def seed_demo_routing(tenant_id: str, agents: list[dict[str, str]]) -> None:
    """Groups, rules and profiles that make routing visible with two demo agents: Alice is a
    senior supervisor in sales and support with room for 3, Bob is in support and technical
    with room for 2. Complaints are urgent, VIP visitors high priority (see local/demo)."""
    from chalicelib.adapters.repositories import DynamoRouting
    from chalicelib.adapters.tables import AgentItem
    from chalicelib.domain.model import Group
    from chalicelib.domain.routing import Condition, RoutingRule

    repo = DynamoRouting()
    groups = {name: Group(tenant_id, f"g_{name}", name.capitalize(), description)
              for name, description in (("sales", "Pre-sales questions"), ("support", "Orders and after-sales"),
                                        ("technical", "Log-in, errors and set-up"))}
    for group in groups.values():
        repo.put_group(group)
    rules = [
        RoutingRule(tenant_id, "rl_complaint", "Complaints are urgent", 10,
                    (Condition("type", "equals", "complaint"),), groups["support"].group_id, "urgent"),
        RoutingRule(tenant_id, "rl_vip", "VIP members first", 20, (Condition("vip_level", "gte", 1),), None, "high"),
        RoutingRule(tenant_id, "rl_presales", "Pre-sales to sales", 30,
                    (Condition("type", "equals", "pre-sales"),), groups["sales"].group_id),
        RoutingRule(tenant_id, "rl_checkout", "Checkout page to sales", 40,
                    (Condition("page_url", "contains", "/checkout"),), groups["sales"].group_id, "high"),
        RoutingRule(tenant_id, "rl_aftersales", "After-sales to support", 50,
                    (Condition("type", "equals", "after-sales"),), groups["support"].group_id),
        RoutingRule(tenant_id, "rl_technical", "Technical to technical", 60,
                    (Condition("type", "equals", "technical"),), groups["technical"].group_id),
    ]
    for rule in rules:
        repo.put_rule(rule)
    profiles = [({"sales", "support"}, {"en", "zh"}, 2, 3, "supervisor"), ({"support", "technical"}, {"en"}, 1, 2, "agent")]
    for agent, (names, languages, seniority, capacity, role) in zip(agents, profiles):
        repo.save_profile(tenant_id, agent["agent_id"], frozenset(groups[n].group_id for n in names),
                          frozenset(languages), seniority, capacity)
        AgentItem(tenant_id, agent["agent_id"]).update(actions=[AgentItem.role.set(role)])


def main(argv: list[str] | None = None) -> int:
    """Create a tenant and its first agents in the tables the environment names.

    For a deployed stack: export KEFU_TABLE_TENANTS / KEFU_TABLE_AGENTS (the stack's
    table names) and AWS credentials, then
        python -m local.seed --name "My Shop" --agent you@example.com:You
    It prints the site key and the identity secret (for verified `identify` hashes) and asks
    for the agents' first password on the terminal (or KEFU_SEED_PASSWORD).
    """
    import argparse
    import getpass
    import json
    import os

    parser = argparse.ArgumentParser(prog="python -m local.seed", description=main.__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True, help="the tenant's (site's) name")
    parser.add_argument("--agent", action="append", required=True, metavar="EMAIL:NAME",
                        help="an agent to create; repeat for more")
    args = parser.parse_args(argv)
    agents = []
    for spec in args.agent:
        email, _, display = spec.partition(":")
        if "@" not in email:
            parser.error(f"--agent {spec!r}: expected EMAIL:NAME")
        agents.append((email.strip(), display.strip() or email.split("@")[0]))
    password = os.environ.get("KEFU_SEED_PASSWORD") or getpass.getpass("First password for the agents: ")
    if len(password) < 10:
        parser.error("the password needs at least 10 characters")
    os.environ.setdefault("KEFU_TOKEN_SECRET", "x" * 32)  # unused here: nothing is signed
    from chalicelib.adapters.tables import bind_tables
    from chalicelib.config import load_settings

    bind_tables(load_settings())
    seeded = seed_tenant(args.name, agents, password)
    print(json.dumps({"tenant_id": seeded.tenant_id, "site_key": seeded.site_key, "agents": seeded.agents,
                      "identity_secret": seeded.identity_secret}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
