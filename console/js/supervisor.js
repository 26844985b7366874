// The supervisor view (supervisor.html): every agent's load against capacity, presence and
// reachability; the queue in dispatch order (assign a waiting conversation to an agent);
// skill groups and routing rules (create, change, delete); messages left while nobody could
// answer. Uses the console's session (signed in at index.html), its REST client and its
// socket; refreshes when conversations, presence or assignments change. Everything from
// the server is rendered as text (dom.js's h()).
import { Api } from "./api.js";
import { h, mount } from "./dom.js";
import { readSession, showSignedOut } from "./session.js";
import { AgentSocket } from "./socket.js";

const FIELDS = ["type", "page_url", "language", "vip_level", "attribute"];
const OPS = ["equals", "not_equals", "contains", "prefix", "in", "gte", "lte"];
const PRIORITIES = ["", "urgent", "high", "normal", "low"];

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content?.trim() || "";
const apiBase = meta("kefu-api-url") || window.location.origin;
const wsBase = meta("kefu-ws-url") || `${apiBase.replace(/^http/, "ws")}/ws`;
const root = document.getElementById("supervisor");

const state = { agents: [], groups: [], rules: [], queue: [], left: [], error: "" };
let session = null;
let socket = null;
let refreshTimer = null;

const api = new Api(apiBase, () => session?.token || null, () => signedOut());

function signedOut() {
  session = null;
  showSignedOut(root, "sv-pad", "the supervisor view");
}

// ------------------------------------------------------------------ data

async function load() {
  const [agents, groups, rules, queue, left] = await Promise.all([
    api.request("GET", "/v1/routing/agents"), api.request("GET", "/v1/routing/groups"),
    api.request("GET", "/v1/routing/rules"), api.request("GET", "/v1/routing/queue"),
    api.request("GET", "/v1/left-messages"),
  ]);
  Object.assign(state, { agents: agents.agents, groups: groups.groups, rules: rules.rules, queue: queue.queue,
    left: left.left_messages });
  render();
}

function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => load().catch(fail), 300);
}

function fail(error) {
  state.error = error?.message || String(error);
  render();
}

async function act(work) {
  state.error = "";
  try {
    await work();
    await load();
  } catch (error) {
    fail(error);
  }
}

const groupName = (id) => state.groups.find((g) => g.id === id)?.name || id || "any";
const agentName = (id) => state.agents.find((a) => a.agent_id === id)?.display_name || id;

// ------------------------------------------------------------------ agents

function agentRow(agent) {
  const capacity = h("input", { type: "number", min: "0", max: "50", value: String(agent.capacity),
    "aria-label": `capacity of ${agent.display_name}` });
  const seniority = h("input", { type: "number", min: "0", max: "10", value: String(agent.seniority),
    "aria-label": `seniority of ${agent.display_name}` });
  const boxes = state.groups.map((g) => h("label", { class: "sv-muted" },
    h("input", { type: "checkbox", value: g.id, checked: agent.groups.includes(g.id) }), ` ${g.name} `));
  const save = () => act(() => api.request("PUT", `/v1/routing/agents/${encodeURIComponent(agent.agent_id)}`, {
    groups: boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value),
    languages: agent.languages, seniority: Number(seniority.value), capacity: Number(capacity.value),
  }));
  const percent = agent.capacity ? Math.min(100, Math.round(100 * agent.load / agent.capacity)) : 100;
  return h("tr", { dataset: { agent: agent.agent_id } },
    h("td", {}, h("span", { class: `sv-dot${agent.reachable ? " reachable" : ""}`,
      title: agent.reachable ? "reachable" : "not offered conversations" }), agent.display_name,
      h("div", { class: "sv-muted", text: `${agent.role} · ${agent.presence}` })),
    h("td", {}, h("span", { class: `sv-load${agent.load >= agent.capacity ? " full" : ""}` },
      h("span", { style: { width: `${percent}%` } })), ` ${agent.load} / ${agent.capacity}`),
    h("td", {}, boxes),
    h("td", {}, seniority),
    h("td", {}, capacity),
    h("td", {}, h("button", { type: "button", class: "btn", text: "Save", on: { click: save } })));
}

// ------------------------------------------------------------------ queue

function queueRow({ position, conversation: c }) {
  const pick = h("select", { "aria-label": "assign to" }, h("option", { value: "", text: "Assign to…" }),
    state.agents.map((a) => h("option", { value: a.agent_id, text: `${a.display_name} (${a.load}/${a.capacity})` })));
  pick.addEventListener("change", () => {
    if (!pick.value) return;
    const sent = socket?.send({ action: "conversation.transfer", conversation_id: c.conversation_id,
      to_agent_id: pick.value, note: "assigned by a supervisor" });
    if (!sent) fail(new Error("not connected; try again in a moment"));
  });
  const waited = c.queued_at ? Math.max(0, Math.round((Date.now() - c.queued_at) / 1000)) : 0;
  return h("tr", { dataset: { conversation: c.conversation_id } },
    h("td", { text: String(position) }),
    h("td", { class: `sv-prio-${c.priority || "normal"}`, text: c.priority || "normal" }),
    h("td", { text: groupName(c.group_id) }),
    h("td", { text: c.message_type || "–" }),
    h("td", { class: "sv-preview", text: c.last_message_preview, title: c.last_message_preview }),
    h("td", { class: "sv-waited", text: waitedText(waited) }),
    h("td", {}, pick));
}

// ------------------------------------------------------------------ groups and rules

function groupsCard() {
  const name = h("input", { placeholder: "New group name", "aria-label": "group name", maxlength: "80" });
  return h("section", { class: "sv-card" }, h("h2", { text: "Skill groups" }),
    h("table", { class: "sv-table" }, h("tbody", {}, state.groups.map((g) => h("tr", {},
      h("td", { text: g.name }), h("td", { class: "sv-muted", text: g.description }),
      h("td", {}, h("button", { type: "button", class: "btn btn-ghost", text: "Delete",
        on: { click: () => act(() => api.request("DELETE", `/v1/routing/groups/${encodeURIComponent(g.id)}`)) } })))))),
    h("form", { class: "sv-form", on: { submit: (e) => { e.preventDefault();
      act(() => api.request("POST", "/v1/routing/groups", { name: name.value.trim() })); } } },
    name, h("button", { type: "submit", class: "btn", text: "Add group" })));
}

function describe(rule) {
  const when = rule.conditions.map((c) => `${c.field === "attribute" ? `attribute ${c.key}` : c.field} ${c.op} ${
    Array.isArray(c.value) ? c.value.join(", ") : c.value}`).join(" and ") || "always";
  const then = [rule.group_id ? `→ ${groupName(rule.group_id)}` : "", rule.priority ? `priority ${rule.priority}` : ""];
  return `${when} ${then.filter(Boolean).join(", ")}`;
}

function rulesCard() {
  const select = (options, label) => h("select", { "aria-label": label }, options.map((o) => h("option", { value: o, text: o || "—" })));
  const name = h("input", { placeholder: "Rule name", "aria-label": "rule name", maxlength: "120" });
  const position = h("input", { type: "number", value: String((state.rules.at(-1)?.position || 0) + 10), "aria-label": "position" });
  const field = select(FIELDS, "field");
  const key = h("input", { placeholder: "attribute key", "aria-label": "attribute key" });
  const op = select(OPS, "operator");
  const value = h("input", { placeholder: "value", "aria-label": "value" });
  const group = h("select", { "aria-label": "target group" }, h("option", { value: "", text: "any group" }),
    state.groups.map((g) => h("option", { value: g.id, text: g.name })));
  const priority = select(PRIORITIES, "priority");
  const submit = (e) => {
    e.preventDefault();
    const raw = value.value.trim();
    const typed = op.value === "in" ? raw.split(",").map((v) => v.trim()).filter(Boolean)
      : ["gte", "lte"].includes(op.value) ? Number(raw) : raw;
    const condition = { field: field.value, op: op.value, value: typed };
    if (field.value === "attribute") condition.key = key.value.trim();
    act(() => api.request("POST", "/v1/routing/rules", { name: name.value.trim(), position: Number(position.value),
      conditions: [condition], group_id: group.value || null, priority: priority.value || null }));
  };
  return h("section", { class: "sv-card" }, h("h2", { text: "Routing rules (in order)" }),
    h("table", { class: "sv-table" }, h("tbody", {}, state.rules.map((r) => h("tr", {},
      h("td", { text: String(r.position) }), h("td", { text: r.name }), h("td", { class: "sv-muted", text: describe(r) }),
      h("td", {}, h("button", { type: "button", class: "btn btn-ghost", text: "Delete",
        on: { click: () => act(() => api.request("DELETE", `/v1/routing/rules/${encodeURIComponent(r.id)}`)) } })))))),
    h("form", { class: "sv-form", on: { submit } }, position, name, field, key, op, value, group, priority,
      h("button", { type: "submit", class: "btn", text: "Add rule" })));
}

// ------------------------------------------------------------------ page

function render() {
  mount(root,
    h("header", { class: "sv-head" }, h("h1", { text: "Supervisor" }),
      h("a", { class: "btn btn-ghost", href: "./", text: "Chats" }),
      h("a", { class: "btn btn-ghost", href: "./tickets.html", text: "Tickets" })),
    h("p", { class: "sv-error", role: "alert", text: state.error }),
    h("div", { class: "sv-grid" },
      h("section", { class: "sv-card", id: "sv-agents" }, h("h2", { text: "Agents: load and capacity" }),
        h("table", { class: "sv-table" },
          h("thead", {}, h("tr", {}, ["Agent", "Load", "Groups", "Seniority", "Capacity", ""].map((t) => h("th", { text: t })))),
          h("tbody", {}, state.agents.map(agentRow)))),
      h("section", { class: "sv-card", id: "sv-queue" }, h("h2", { text: `Queue (${state.queue.length})` }),
        state.queue.length ? h("table", { class: "sv-table" },
          h("thead", {}, h("tr", {}, ["#", "Priority", "Group", "Type", "Last message", "Waiting", ""].map((t) => h("th", { text: t })))),
          h("tbody", {}, state.queue.map(queueRow))) : h("p", { class: "sv-muted", text: "Nobody is waiting." })),
      groupsCard(),
      rulesCard(),
      h("section", { class: "sv-card", id: "sv-left" }, h("h2", { text: "Left messages" }),
        state.left.length ? h("table", { class: "sv-table" }, h("tbody", {}, state.left.map((m) => h("tr", {},
          h("td", { text: new Date(m.created_at).toLocaleString() }), h("td", { text: m.name || "" }),
          h("td", { text: m.email }), h("td", { text: m.text }), h("td", { class: "sv-muted", text: m.reason })))))
          : h("p", { class: "sv-muted", text: "None." }))));
}

const LIVE = new Set(["conversation.new", "conversations.new", "conversation.updated", "conversations.updated",
  "agent.presence"]);

function start() {
  session = readSession();
  if (!session) return signedOut();
  load().catch(fail);
  socket = new AgentSocket(() => `${wsBase}?token=${encodeURIComponent(session?.token || "")}`,
    async () => Boolean(readSession()));
  socket.addEventListener("frame", (event) => {
    const frame = event.detail;
    if (LIVE.has(frame.action)) refreshSoon();
    if (frame.action === "error") fail(new Error(`${frame.code}: ${frame.message}`));
  });
  socket.start();
  setInterval(() => load().catch(fail), 15000); // heartbeats age; waiting times grow
}

start();

/** "45 s", "4 min 43 s", "1 h 05 min": how long a conversation has waited, readable at a glance. */
export function waitedText(seconds) {
  if (seconds < 60) return `${seconds} s`;
  const min = Math.floor(seconds / 60);
  if (min < 60) return `${min} min ${String(seconds % 60).padStart(2, "0")} s`;
  return `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, "0")} min`;
}
