// The workspace's agents by name, for pages that show who did something (the tickets timeline,
// an article's history) or let one pick an agent (a ticket's assignee).

/** agent id -> display name (GET /v1/routing/agents, open to every agent). */
export async function agentNames(api) {
  const body = await api.request("GET", "/v1/routing/agents");
  return new Map(body.agents.map((a) => [a.agent_id, a.display_name || a.agent_id]));
}

/** An agent's name where the id is one of `names`; anything else (a customer, the SLA timer, a
 * seed) as it is. */
export function nameOf(names, id) {
  return names.get(id) || id;
}
