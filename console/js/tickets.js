// The tickets workbench (tickets.html): list with filters (open / mine / breached / about to
// breach, and status, priority, group), a ticket's timeline, edits at the
// version read (409 → reload and say so), replies and notes, and escalations pushed live
// (a badge, a toast, a desktop notification for the agents it names). Uses the console's
// session (signed in at index.html), its REST client and its socket. Everything from the
// server is rendered as text (dom.js's h()).
import { agentNames, nameOf } from "./agents.js";
import { Api, ApiError } from "./api.js";
import { h, mount } from "./dom.js";
import { readSession, showSignedOut } from "./session.js";
import { AgentSocket } from "./socket.js";
import { STEP_TEXT } from "./ticket-alerts.js";

const STATUSES = ["new", "open", "pending", "on_hold", "solved", "closed"];
const PRIORITIES = ["low", "normal", "high", "urgent"];
const FILTERS = [
  ["open", "Open", {}],
  ["mine", "Mine", { mine: "true" }],
  ["breached", "Breached", { sla: "breached" }],
  ["soon", "About to breach", { sla: "about_to_breach" }],
];

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content?.trim() || "";
const apiBase = meta("kefu-api-url") || window.location.origin;
const wsBase = meta("kefu-ws-url") || `${apiBase.replace(/^http/, "ws")}/ws`;
const root = document.getElementById("tickets");

const state = { filter: "open", where: { status: "", priority: "", group_id: "" }, tickets: [], selected: null,
  detail: null, escalations: 0, banner: "", agents: new Map() /* agent id -> name */ };

/** The workspace's agents by id, for the assignee picker and names. */
async function loadAgents() {
  state.agents = await agentNames(api);
  // Only the picker and the timeline are redrawn: the rest of an open ticket's form may hold edits.
  const picker = root.querySelector(".tk-detail select[name=assignee_id]");
  if (picker) picker.replaceWith(assigneePicker(picker.value));
  const timeline = root.querySelector(".tk-timeline");
  if (timeline && state.detail) timeline.replaceWith(timelineList(state.detail));
}

const who = (id) => nameOf(state.agents, id);

/** Pick the assignee by name: "Unassigned" or one of the workspace's agents. */
function assigneePicker(current) {
  const options = [["", "Unassigned"], ...[...state.agents].sort((a, b) => a[1].localeCompare(b[1]))];
  if (current && !state.agents.has(current)) options.push([current, current]); // not (or not yet) listed
  return h("select", { class: "select", name: "assignee_id" },
    options.map(([id, name]) => h("option", { value: id, selected: id === (current || ""), text: name })));
}
let session = null;

const api = new Api(apiBase, () => session?.token || null, () => signedOut());

function signedOut() {
  session = null;
  showSignedOut(root, "tk-pad", "the tickets");
}

// ------------------------------------------------------------------ data

let listRequest = 0;

async function loadList() {
  const mine = ++listRequest; // filters change fast: only the latest request's answer is shown
  const params = new URLSearchParams(FILTERS.find(([key]) => key === state.filter)?.[2] || {});
  for (const [name, value] of Object.entries(state.where)) if (value) params.set(name, value);
  params.set("limit", "100");
  const body = await api.request("GET", `/v1/tickets?${params}`);
  if (mine !== listRequest) return;
  state.tickets = body.tickets;
  renderList();
}

async function select(number) {
  state.selected = number;
  state.banner = "";
  state.detail = await api.request("GET", `/v1/tickets/${number}`);
  renderList();
  renderDetail();
}

function upsert(summary) {
  const index = state.tickets.findIndex((t) => t.number === summary.number);
  if (index >= 0) state.tickets[index] = summary;
  else if (state.filter === "open" && matches(summary)) state.tickets.unshift(summary);
}

function matches(summary) {
  const { status, priority, group_id: group } = state.where;
  return (status ? summary.status === status : !["solved", "closed"].includes(summary.status))
    && (!priority || summary.priority === priority) && (!group || summary.group_id === group);
}

// The status, priority and group filters, combined with the chip (open, mine, breached, about to breach).
function filterBar() {
  const reload = () => loadList().catch((error) => toast(error.message));
  const choose = (name, label, values) => h("select", {
    class: "select", name: `filter-${name}`, "aria-label": label,
    on: { change: (event) => { state.where[name] = event.target.value; reload(); } },
  }, h("option", { value: "", text: `Any ${label.toLowerCase()}` }),
  values.map((v) => h("option", { value: v, text: v.replace("_", " ") })));
  return h("div", { class: "tk-filters" },
    choose("status", "Status", STATUSES), choose("priority", "Priority", PRIORITIES),
    h("input", {
      class: "input", name: "filter-group", type: "search", placeholder: "Group", "aria-label": "Group",
      maxlength: "40", on: { change: (event) => { state.where.group_id = event.target.value.trim(); reload(); } },
    }));
}

// ------------------------------------------------------------------ rendering

function due(ticket) {
  if (!ticket.due_at) return null;
  const ms = ticket.due_at - Date.now();
  const minutes = Math.round(Math.abs(ms) / 60000);
  const span = minutes < 1 ? `${Math.round(Math.abs(ms) / 1000)} s` : minutes < 120 ? `${minutes} min`
    : `${Math.round(minutes / 60)} h`;
  const kind = (ticket.due_kind || "").replace("_", " ");
  return ms < 0 ? h("span", { class: "tk-pill breached", text: `${kind} overdue ${span}` })
    : h("span", { class: `tk-pill${ms < 30 * 60000 ? " soon" : ""}`, text: `${kind} due in ${span}` });
}

function row(ticket) {
  return h("div", {
    class: "tk-row", role: "option", "aria-selected": String(ticket.number === state.selected),
    dataset: { number: String(ticket.number) }, on: { click: () => select(ticket.number) },
  },
  h("span", { class: "tk-num", text: `#${ticket.number}` }),
  h("span", { class: "tk-subject", text: ticket.subject }),
  h("span", { class: `tk-pill ${ticket.priority}`, text: ticket.priority }),
  h("span", { class: "tk-meta" },
    h("span", { text: ticket.status.replace("_", " ") }),
    ticket.group_id && h("span", { text: `group ${ticket.group_id}` }),
    h("span", { text: ticket.assignee_id ? "assigned" : "unassigned" }),
    ticket.escalation_step ? h("span", { class: "tk-pill breached", text: `escalated ×${ticket.escalation_step}` }) : null,
    due(ticket)));
}

function renderList() {
  const list = root.querySelector(".tk-list");
  if (!list) return;
  mount(list, state.tickets.length ? state.tickets.map(row) : h("p", { class: "muted tk-pad", text: "No tickets here." }));
  const bell = root.querySelector(".tk-bell .badge");
  if (bell) {
    bell.textContent = String(state.escalations);
    bell.hidden = !state.escalations;
  }
}

function select_(name, values, current) {
  return h("select", { class: "select", name }, values.map((v) => h("option", { value: v, selected: v === current, text: v })));
}

function eventText(event) {
  const d = event.data || {};
  switch (event.kind) {
    case "escalated": return `Escalated (step ${d.step}): ${STEP_TEXT[d.action] || d.action} — ${String(d.deadline || "").replace("_", " ")} deadline missed`;
    case "created": return `Created (${d.source}, ${d.priority}${d.group ? `, group ${d.group}` : ""})`;
    case "reply": return "Replied to the customer";
    case "note": return "Internal note";
    case "mail": return `Mail to ${d.to}: ${d.subject}`;
    case "csat": return `Rated ${d.score}/5`;
    case "transcript": return `Transcript of the conversation (${(d.messages || []).length} messages)`;
    case "customer_message": return "The customer wrote";
    case "assignee": return `Assignee: ${d.from ? who(d.from) : "nobody"} → ${d.to ? who(d.to) : "nobody"}`;
    default: return `${event.kind}: ${JSON.stringify(d.from ?? null)} → ${JSON.stringify(d.to ?? null)}`;
  }
}

function eventBody(event) {
  const d = event.data || {};
  if (event.kind === "transcript") {
    return h("pre", { text: (d.messages || []).map((m) => `${m.name || m.role}: ${m.text}`).join("\n") });
  }
  const text = d.text || d.comment || d.description;
  return text ? h("pre", { text }) : null;
}

function renderDetail() {
  const pane = root.querySelector(".tk-detail");
  const detail = state.detail;
  if (!pane) return;
  if (!detail) {
    mount(pane, h("p", { class: "muted", text: "Pick a ticket." }));
    return;
  }
  const t = detail.ticket;
  const fields = h("form", { class: "tk-fields", on: { submit: (e) => { e.preventDefault(); save(e.target); } } },
    h("label", {}, "Status", select_("status", STATUSES, t.status)),
    h("label", {}, "Priority", select_("priority", PRIORITIES, t.priority)),
    h("label", {}, "Type", h("input", { class: "input", name: "type", value: t.type })),
    h("label", {}, "Group", h("input", { class: "input", name: "group_id", value: t.group_id || "" })),
    h("label", {}, "Assignee", assigneePicker(t.assignee_id)),
    h("label", {}, "Tags", h("input", { class: "input", name: "tags", value: (t.tags || []).join(", ") })),
    h("div", { class: "tk-actions" }, h("button", { class: "btn btn-primary", type: "submit", text: "Save" })));
  const reply = h("textarea", { class: "input", name: "reply", placeholder: "Reply to the customer (sent by mail)" });
  const note = h("textarea", { class: "input", name: "note", placeholder: "Internal note" });
  mount(pane,
    h("h2", { text: `#${t.number} ${t.subject}` }),
    h("p", { class: "muted", text: [t.requester_name, t.requester_email].filter(Boolean).join(" · ") || "No requester" }),
    state.banner ? h("div", { class: "tk-banner", role: "status", text: state.banner }) : null,
    h("div", {}, due(t), detail.csat_score ? h("span", { class: "tk-pill", text: `CSAT ${detail.csat_score}/5` }) : null),
    fields,
    h("div", { class: "tk-compose" }, reply,
      h("button", { class: "btn btn-secondary", type: "button", text: "Send reply",
        on: { click: () => post(`/v1/tickets/${t.number}/replies`, reply) } })),
    h("div", { class: "tk-compose" }, note,
      h("button", { class: "btn btn-ghost", type: "button", text: "Add note",
        on: { click: () => post(`/v1/tickets/${t.number}/notes`, note) } })),
    h("h3", { text: "Timeline" }),
    timelineList(detail));
}

function timelineList(detail) {
  return h("ol", { class: "tk-timeline" }, detail.timeline.slice().reverse().map((e) => h("li", { class: e.kind },
    h("div", { text: eventText(e) }),
    h("div", { class: "tk-when", text: `${new Date(e.at).toLocaleString()} · ${who(e.actor)}` }),
    eventBody(e))));
}

// ------------------------------------------------------------------ actions

async function save(form) {
  const t = state.detail.ticket;
  const data = new FormData(form);
  const body = { version: t.version };
  for (const key of ["status", "priority", "type", "group_id", "assignee_id"]) {
    const value = String(data.get(key) ?? "").trim();
    if (value !== String(t[key] ?? "")) body[key] = value;
  }
  const tags = String(data.get("tags") || "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (tags.join(",") !== (t.tags || []).join(",")) body.tags = tags;
  try {
    state.detail = await api.request("PATCH", `/v1/tickets/${t.number}`, body);
    state.banner = "";
    upsert(state.detail.ticket);
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== "conflict") {
      state.banner = error.message;
    } else {
      // Someone saved first: show their version; the agent re-applies the change.
      state.detail = await api.request("GET", `/v1/tickets/${t.number}`);
      state.banner = "Another agent changed this ticket meanwhile: it is reloaded, please apply your change again.";
    }
  }
  renderList();
  renderDetail();
}

async function post(path, textarea) {
  const text = textarea.value.trim();
  if (!text) return;
  try {
    await api.request("POST", path, { text });
    textarea.value = "";
    state.banner = "";
  } catch (error) {
    state.banner = error.message;
  }
  await select(state.detail.ticket.number);
}

// ------------------------------------------------------------------ live frames

function showBanner(text) {
  state.banner = text;
  const pane = root.querySelector(".tk-detail");
  let banner = pane?.querySelector(".tk-banner");
  if (pane && !banner) {
    banner = h("div", { class: "tk-banner", role: "status" });
    pane.querySelector("h2 + p")?.after(banner);
  }
  if (banner) banner.textContent = text;
}

function toast(text) {
  const box = root.querySelector(".toasts") || root.appendChild(h("div", { class: "toasts", role: "status" }));
  const item = h("div", { class: "toast error", text });
  box.append(item);
  setTimeout(() => item.remove(), 8000);
}

function onFrame(frame) {
  if (frame.action === "ticket.updated" || frame.action === "ticket.escalated") {
    upsert(frame.ticket);
    const open = state.detail?.ticket;
    if (open?.number === frame.ticket.number && frame.ticket.version > open.version) {
      // Not reloaded under the agent's hands: they may be editing. Saving now answers 409 and reloads.
      showBanner("This ticket changed meanwhile (click it in the list to reload).");
    }
  }
  if (frame.action === "ticket.escalated") {
    state.escalations += 1;
    const text = `#${frame.ticket.number} escalated (step ${frame.step}): ${STEP_TEXT[frame.escalation] || frame.escalation}`;
    toast(text);
    const me = session?.agent?.agent_id;
    if (me && frame.notify?.includes(me) && "Notification" in window && Notification.permission === "granted") {
      new Notification("Kefu: ticket escalated", { body: text, tag: `ticket-${frame.ticket.number}` });
    }
  }
  renderList();
  const el = root.querySelector(`.tk-row[data-number="${frame.ticket?.number}"]`);
  if (el && frame.action === "ticket.escalated") el.classList.add("flash");
}

// ------------------------------------------------------------------ start

function start() {
  session = readSession();
  if (!session) {
    signedOut();
    return;
  }
  const chips = FILTERS.map(([key, label]) => h("button", {
    class: "tk-chip", type: "button", "aria-pressed": String(key === state.filter), dataset: { filter: key },
    text: label, on: { click: () => { state.filter = key; for (const c of root.querySelectorAll(".tk-chip")) c.setAttribute("aria-pressed", String(c.dataset.filter === key)); loadList(); } },
  }));
  mount(root,
    h("header", { class: "tk-header" },
      h("h1", { text: "Tickets" }), chips, filterBar(), h("span", { class: "tk-spacer" }),
      h("span", { class: "tk-bell", title: "Escalations since you opened this page" },
        h("span", { text: "Escalations" }), h("span", { class: "badge", hidden: true, text: "0" })),
      h("a", { class: "btn btn-ghost", href: "./", text: "Chats" })),
    h("div", { class: "tk-body" },
      h("div", { class: "tk-list", role: "listbox", "aria-label": "Tickets" }),
      h("section", { class: "tk-detail", "aria-live": "polite" })));
  renderDetail();
  loadList().catch((error) => toast(error.message));
  loadAgents().catch((error) => toast(error.message));
  const socket = new AgentSocket(() => `${wsBase}?token=${encodeURIComponent(session?.token || "")}`,
    async () => Boolean(readSession()));
  socket.addEventListener("frame", (event) => onFrame(event.detail));
  socket.start();
  setInterval(renderList, 15000); // due times count down
}

start();
