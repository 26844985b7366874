// The workbench's state and a tiny render scheduler: mutate `state`, then `invalidate(region)`.

export const state = {
  me: null, // {agent_id, display_name, email, role, tenant_id}
  conversations: new Map(), // conversation_id → summary (+ local fields: draft, draftAt, waitingSince)
  listLoaded: false,
  resolvedLoaded: false,
  tab: "all", // mine | unassigned | all | resolved
  selectedId: null,
  threads: new Map(), // conversation_id → Thread
  visitors: new Map(), // visitor_id → profile, or {unavailable: true}
  canned: [],
  cannedSupported: true,
  connection: { state: "connecting", retryAt: 0 },
  presence: "online",
  view: "list", // on narrow screens: list | thread
  panelOpen: false, // the visitor panel as a drawer on medium screens
};

/** Messages of one conversation as the console has them. */
export function thread(id) {
  let t = state.threads.get(id);
  if (!t) {
    t = {
      messages: new Map(), // seq → message
      pending: [], // outgoing, not yet acked: {client_msg_id, text, internal, attachment, status, error}
      lastSeq: 0, // highest contiguous seq we hold
      oldestSeq: null,
      hasOlder: false,
      loading: false,
      loadingOlder: false,
      loaded: false,
      inFlight: null,
    };
    state.threads.set(id, t);
  }
  return t;
}

export function unread(summary) {
  return Math.max(0, (summary.last_seq || 0) - (summary.agent_read_seq || 0));
}

export function inTab(summary, tab) {
  if (tab === "resolved") return summary.status === "resolved";
  if (summary.status !== "open") return false;
  if (tab === "mine") return summary.assignee_id === state.me?.agent_id;
  if (tab === "unassigned") return !summary.assignee_id;
  return true;
}

export function tabItems(tab) {
  return [...state.conversations.values()]
    .filter((c) => inTab(c, tab))
    .sort((a, b) => (b.updated_at || 0) - (a.updated_at || 0));
}

/** Merge a summary from the server, keeping local-only fields and never going backwards. */
export function upsertSummary(summary) {
  const old = state.conversations.get(summary.conversation_id);
  const merged = { ...old, ...summary };
  if (old) {
    merged.last_seq = Math.max(old.last_seq || 0, summary.last_seq || 0);
    merged.agent_read_seq = Math.max(old.agent_read_seq || 0, summary.agent_read_seq || 0);
    merged.visitor_read_seq = Math.max(old.visitor_read_seq || 0, summary.visitor_read_seq || 0);
    if ((old.last_seq || 0) > (summary.last_seq || 0)) merged.last_message_preview = old.last_message_preview;
    merged.updated_at = Math.max(old.updated_at || 0, summary.updated_at || 0);
  }
  state.conversations.set(summary.conversation_id, merged);
  return merged;
}

const dirty = new Set();
const renderers = new Map();
let scheduled = false;

export function onRender(region, fn) {
  renderers.set(region, fn);
}

export function invalidate(...regions) {
  for (const r of regions) dirty.add(r);
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(flush);
  // rAF does not run in hidden tabs; a timeout keeps background tabs (and their titles) current.
  setTimeout(flush, 200);
}

function flush() {
  if (!scheduled) return;
  scheduled = false;
  const regions = [...dirty];
  dirty.clear();
  for (const r of regions) renderers.get(r)?.();
}
