// The agent workbench: sign-in, the socket and its frames, the outbox, and the three panes.
import { Api } from "./api.js";
import { AgentSocket } from "./socket.js";
import { h, icon, mount } from "./dom.js";
import { t, locale, setLocale, onLocaleChange, LOCALES } from "./i18n.js";
import { visitorLabel, initials } from "./format.js";
import { state, thread, unread, upsertSummary, invalidate, onRender, tabItems } from "./store.js";
import { renderInbox } from "./inbox.js";
import { createThreadView } from "./thread.js";
import { createComposer, ALLOWED_TYPES } from "./composer.js";
import { renderVisitorPanel } from "./visitor-panel.js";
import { loadCanned, openCannedManager } from "./canned.js";
import * as alerts from "./alerts.js";
import { addArticlePicker } from "./kb-send.js";
import { addTicketButton } from "./ticket-button.js";
import { addTicketAlerts } from "./ticket-alerts.js";

const SESSION_KEY = "kefu.console.session";
const PAGE_SIZE = 30;
const ACK_TIMEOUT_MS = 12_000;
const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
const PRESENCES = ["online", "away", "offline"];

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || "";
const apiBase = meta("kefu-api-url") || window.location.origin;
const wsBase = meta("kefu-ws-url") || `${apiBase.replace(/^http/, "ws")}/ws`;

let session = readSession();
const api = new Api(apiBase, () => session?.token || null, () => logout(expired() ? "login.expired" : "login.invalid"));
let socket = null;
let expiryTimer = null;
let beforeSeqSupported = true;
let visitorsSupported = true;
const visitorRequests = new Set();
const recentlyAlerted = new Map();
const app = document.getElementById("app");

// ------------------------------------------------------------------ session

function readSession() {
  try {
    const saved = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
    return saved?.token ? saved : null;
  } catch {
    return null;
  }
}

function expired() {
  return Boolean(session?.expires_at && Date.now() >= session.expires_at);
}

function presenceKey() {
  return `kefu.console.presence.${state.me?.agent_id || ""}`;
}

function logout(messageKey) {
  socket?.stop();
  socket = null;
  clearTimeout(expiryTimer);
  session = null;
  localStorage.removeItem(SESSION_KEY);
  state.me = null;
  state.conversations.clear();
  state.threads.clear();
  state.visitors.clear();
  state.selectedId = null;
  state.listLoaded = state.resolvedLoaded = false;
  document.title = t("app.title");
  showLogin(messageKey);
}

// ------------------------------------------------------------------ login view

function languagePicker() {
  return h("select", {
    class: "select lang", "aria-label": t("header.language"), title: t("header.language"),
    on: { change: (e) => setLocale(e.target.value) },
  }, Object.entries(LOCALES).map(([value, label]) => h("option", { value, selected: value === locale(), text: label })));
}

function showLogin(messageKey) {
  document.body.dataset.screen = "login";
  const email = h("input", { class: "input", type: "email", name: "email", autocomplete: "username", required: true, id: "login-email" });
  const password = h("input", { class: "input", type: "password", name: "password", autocomplete: "current-password", required: true, id: "login-password" });
  const error = h("div", { class: `form-error${messageKey === "login.signedOut" ? " info" : ""}`, role: "alert", id: "login-error", text: messageKey ? t(messageKey) : "" });
  const submit = h("button", { class: "btn btn-primary btn-block", type: "submit", text: t("login.submit") });
  const form = h("form", { class: "login-form", "aria-labelledby": "login-title" },
    h("label", { class: "label", for: "login-email", text: t("login.email") }), email,
    h("label", { class: "label", for: "login-password", text: t("login.password") }), password,
    error, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alerts.requestNotifications(); // a user gesture: the one moment browsers let us ask
    submit.disabled = true;
    submit.textContent = t("login.busy");
    error.textContent = "";
    error.classList.remove("info");
    try {
      const result = await api.login(email.value.trim(), password.value);
      session = { token: result.token, expires_at: Date.now() + (result.expires_in || 3600) * 1000, agent: result.agent };
      localStorage.setItem(SESSION_KEY, JSON.stringify(session));
      await startWorkbench(true);
    } catch (err) {
      error.textContent = err.status === 401 || err.code === "unauthenticated" ? t("login.wrong") : t("login.failed", { message: err.message });
      submit.disabled = false;
      submit.textContent = t("login.submit");
      password.select();
    }
  });
  mount(app, h("main", { class: "login" },
    h("div", { class: "login-card" },
      h("div", { class: "login-top" }, brand(), languagePicker()),
      h("h1", { id: "login-title", text: t("login.title") }),
      h("p", { class: "muted", text: t("login.subtitle") }),
      form),
    h("p", { class: "login-foot muted small", text: "Kefu · 客服" })));
  email.focus();
}

function brand() {
  return h("div", { class: "brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, icon("chat", 18)), h("span", { class: "brand-name", text: "Kefu" }));
}

// ------------------------------------------------------------------ workbench shell

const composer = createComposer({
  onSend: (text, internal) => queueSend(state.selectedId, { text, internal }),
  onTyping: (typingState) => state.selectedId && socket?.send({ action: "typing", conversation_id: state.selectedId, state: typingState }),
  onFiles: (files) => sendFiles(state.selectedId, files),
  canned: () => state.canned,
  onManageCanned: () => openCannedManager(api, () => {}),
});
addArticlePicker(composer.el, api, (text) => state.selectedId && queueSend(state.selectedId, { text }));
const threadView = createThreadView({
  composer,
  onLoadOlder: (id) => loadOlder(id),
  onResolve: (id) => sendAction({ action: "conversation.resolve", conversation_id: id }),
  onReopen: (id) => sendAction({ action: "conversation.reopen", conversation_id: id }),
  onRetry: (id, clientId) => retry(id, clientId),
  onBack: () => { state.view = "list"; applyLayout(); },
  onDetails: () => { state.panelOpen = !state.panelOpen; applyLayout(); },
});
addTicketButton(threadView.el, api, () => state.selectedId);

const header = h("header", { class: "topbar" });
const inboxEl = h("aside", { class: "inbox", "aria-label": t("inbox.title") });
const panelEl = h("aside", { class: "visitor-panel", "aria-label": t("panel.title") });
const toasts = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
const shell = h("div", { class: "shell" }, header, h("div", { class: "panes" }, inboxEl, threadView.el, panelEl), toasts);

onRender("inbox", () => {
  renderInbox(inboxEl, { onSelect: select, onTab: (tab) => { state.tab = tab; if (tab === "resolved") loadResolved(); invalidate("inbox"); } });
  updateTitle();
});
onRender("thread", () => threadView.render());
onRender("panel", () => renderVisitorPanel(panelEl, { onOpenConversation: openEarlier, onClose: () => { state.panelOpen = false; applyLayout(); } }));
onRender("header", renderHeader);

function applyLayout() {
  shell.dataset.view = state.view;
  shell.classList.toggle("panel-open", state.panelOpen);
}

function renderHeader() {
  const conn = state.connection;
  let connText = t("conn.connecting");
  if (conn.state === "online") connText = t("conn.online");
  else if (conn.state === "offline") {
    const s = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
    connText = s ? t("conn.offline", { s }) : t("conn.offlineNow");
  }
  const presence = h("label", { class: `presence presence-${state.presence}`, title: t("presence.label") },
    h("span", { class: "dot", "aria-hidden": "true" }),
    h("select", { class: "select", id: "presence", "aria-label": t("presence.label"), on: { change: (e) => setPresence(e.target.value) } },
      PRESENCES.map((p) => h("option", { value: p, selected: p === state.presence, text: t(`presence.${p}`) }))));
  const notif = alerts.notificationState();
  const name = state.me?.display_name || "";
  mount(header,
    brand(),
    h("button", { type: "button", class: `conn conn-${conn.state}`, id: "connection", dataset: { state: conn.state }, on: { click: () => socket?.retryNow() } },
      h("span", { class: "dot", "aria-hidden": "true" }), h("span", { text: connText })),
    h("span", { class: "spacer" }),
    presence,
    notif === "default"
      ? h("button", { type: "button", class: "icon-btn", "aria-label": t("header.notify"), title: t("header.notify"), on: { click: async () => { await alerts.requestNotifications(); invalidate("header"); } } }, icon("bell"))
      : null,
    h("button", {
      type: "button", class: "icon-btn", "aria-pressed": String(alerts.soundEnabled()),
      "aria-label": alerts.soundEnabled() ? t("header.soundOn") : t("header.soundOff"), title: alerts.soundEnabled() ? t("header.soundOn") : t("header.soundOff"),
      on: { click: () => { alerts.setSoundEnabled(!alerts.soundEnabled()); if (alerts.soundEnabled()) alerts.beep(); invalidate("header"); } },
    }, icon(alerts.soundEnabled() ? "sound" : "mute")),
    languagePicker(),
    h("span", { class: "me", title: state.me?.email || "" }, h("span", { class: "avatar sm agent", "aria-hidden": "true", text: initials(name) }), h("span", { class: "me-name", text: name })),
    h("button", { type: "button", class: "icon-btn", id: "logout", "aria-label": t("header.logout"), title: t("header.logout"), on: { click: () => logout("login.signedOut") } }, icon("logout")));
}

onLocaleChange(() => {
  if (!state.me) {
    showLogin();
    return;
  }
  composer.labels();
  invalidate("header", "inbox", "thread", "panel");
});

async function startWorkbench(freshLogin = false) {
  document.body.dataset.screen = "workbench";
  state.me = session.agent || null;
  if (expired()) {
    logout("login.expired");
    return;
  }
  // Who am I, really? A revoked or expired token sends us back to the login form.
  let serverPresence = null;
  try {
    const me = await api.me();
    state.me = { ...state.me, ...me };
    serverPresence = me.presence || null;
  } catch (error) {
    if (error.status === 401) return; // onUnauthorized already showed the login form
    if (error.missingRoute || error.status === 404) {
      try {
        const who = await api.whoami();
        if (who.role !== "agent") {
          logout("login.invalid");
          return;
        }
        state.me = { ...state.me, agent_id: who.principal_id, display_name: who.display_name, tenant_id: who.tenant_id };
      } catch (err) {
        if (err.status === 401) return;
      }
    }
  }
  if (!session) return;
  const saved = localStorage.getItem(presenceKey());
  // This device's last choice wins (it is written before the frame is even sent); then the
  // server's; a fresh sign-in with neither means the agent came to work: online.
  if (PRESENCES.includes(saved)) state.presence = saved;
  else state.presence = !freshLogin && PRESENCES.includes(serverPresence) ? serverPresence : "online";
  clearTimeout(expiryTimer);
  if (session.expires_at) {
    expiryTimer = setTimeout(() => logout("login.expired"), Math.min(2 ** 31 - 1, session.expires_at - Date.now()));
  }
  applyLayout();
  mount(app, shell);
  invalidate("header", "inbox", "thread", "panel");
  connect();
  loadConversations();
  loadCanned(api);
}

// ------------------------------------------------------------------ socket

function connect() {
  socket?.stop();
  socket = new AgentSocket(() => `${wsBase}?token=${encodeURIComponent(session?.token || "")}`, async () => {
    try {
      await api.whoami();
      return true;
    } catch (error) {
      return error.status !== 401; // network trouble: keep retrying; 401: logout already ran
    }
  });
  socket.addEventListener("state", (e) => {
    state.connection = { state: e.detail.state, retryAt: e.detail.retryAt };
    invalidate("header");
  });
  socket.addEventListener("frame", (e) => onFrame(e.detail));
  socket.start();
}

const handlers = {
  welcome() {
    socket.send({ action: "presence.set", state: state.presence });
    for (const [id, th] of state.threads) {
      for (const p of th.pending) if (p.status === "sending") p.status = "queued";
      th.inFlight = null;
      th.syncing = false; // a sync sent on the old socket may never have been answered
      flushOutbox(id);
    }
    if (state.listLoaded) loadConversations(); // catch up on anything missed while offline
    if (state.selectedId && thread(state.selectedId).loaded) syncThread(state.selectedId);
  },
  "message.new"(frame) {
    receiveMessage(frame.conversation_id, frame.message, true);
  },
  messages(frame) {
    const th = thread(frame.conversation_id);
    for (const m of frame.messages || []) receiveMessage(frame.conversation_id, m, false);
    const s = state.conversations.get(frame.conversation_id);
    if (s && frame.last_seq > (s.last_seq || 0)) s.last_seq = frame.last_seq;
    if (frame.has_more) syncThread(frame.conversation_id);
    th.syncing = false;
    invalidate("thread", "inbox");
    markReadIfFocused();
  },
  "message.ack"(frame) {
    const th = thread(frame.conversation_id);
    const i = th.pending.findIndex((p) => p.client_msg_id === frame.client_msg_id);
    if (i < 0) return;
    const [p] = th.pending.splice(i, 1);
    clearTimeout(p.timer);
    if (th.inFlight === p.client_msg_id) th.inFlight = null;
    const message = { ...p, seq: frame.seq, created_at: frame.created_at, status: undefined, timer: undefined };
    if (!th.messages.has(frame.seq)) th.messages.set(frame.seq, message);
    const s = state.conversations.get(frame.conversation_id);
    if (s) {
      s.last_seq = Math.max(s.last_seq || 0, frame.seq);
      s.updated_at = Math.max(s.updated_at || 0, frame.created_at);
      if (!p.internal) {
        s.last_message_preview = p.text || p.attachment?.name || "";
        s.waitingSince = null;
        if (!s.assignee_id) s.assignee_id = state.me?.agent_id; // the first reply takes the conversation
      }
      // What I wrote myself I have read.
      if ((s.agent_read_seq || 0) >= frame.seq - 1) {
        s.agent_read_seq = frame.seq;
        socket.send({ action: "read", conversation_id: frame.conversation_id, seq: frame.seq });
      }
    }
    flushOutbox(frame.conversation_id);
    invalidate("thread", "inbox");
  },
  typing(frame) {
    if (frame.role !== "visitor") return;
    const s = state.conversations.get(frame.conversation_id);
    if (!s) return;
    s.draft = frame.state === "start" ? frame.draft || "" : null;
    s.draftAt = frame.state === "start" ? Date.now() : 0;
    invalidate("inbox", "thread");
    setTimeout(() => invalidate("inbox", "thread"), 8100);
  },
  read(frame) {
    const s = state.conversations.get(frame.conversation_id);
    if (!s) return;
    const key = frame.role === "visitor" ? "visitor_read_seq" : "agent_read_seq";
    s[key] = Math.max(s[key] || 0, frame.seq);
    invalidate("thread", "inbox");
  },
  "conversation.new"(frame) {
    // News may come after a message.new or an update of the same conversation (the
    // dispatcher sends it): then what we have is as new or newer; keep it.
    const known = state.conversations.get(frame.conversation.conversation_id);
    const s = known || upsertSummary(frame.conversation);
    ensureVisitor(s.visitor_id);
    if (s.waitingSince === undefined) s.waitingSince = s.last_seq ? s.updated_at : null;
    if (!known) alert(s, t("notify.newConversation"), s.last_message_preview);
    // The first message rides along (no separate message.new for it).
    if (frame.message) receiveMessage(s.conversation_id, frame.message, true);
    invalidate("inbox");
  },
  "conversations.new"(frame) {
    // A dispatch round that saw several new conversations: the same as one conversation.new each.
    for (const item of frame.conversations || []) handlers["conversation.new"](item);
  },
  "conversation.updated"(frame) {
    const c = frame.conversation;
    const s = upsertSummary(c);
    s.status = c.status; // status and assignee come from the server as they are, not max()ed
    s.assignee_id = c.assignee_id ?? null;
    if (s.status !== "open") s.waitingSince = null;
    invalidate("inbox", "thread", "panel");
  },
  "conversations.updated"(frame) {
    // A dispatch round that assigned several at once: the same as one update for each.
    for (const conversation of frame.conversations || []) handlers["conversation.updated"]({ conversation });
  },
  "visitor.updated"(frame) {
    const v = frame.visitor;
    if (!v?.visitor_id) return;
    const old = state.visitors.get(v.visitor_id);
    state.visitors.set(v.visitor_id, { ...(old?.unavailable ? {} : old), ...v });
    invalidate("inbox", "thread", "panel");
  },
  "agent.presence"(frame) {
    if (frame.agent_id !== state.me?.agent_id || !PRESENCES.includes(frame.state)) return;
    if (frame.state !== state.presence) {
      state.presence = frame.state; // changed in another tab
      localStorage.setItem(presenceKey(), frame.state);
      invalidate("header");
    }
  },
  error(frame) {
    onError(frame);
  },
};

addTicketAlerts(header, handlers, { me: () => state.me?.agent_id, toast, notify: alerts.notify, beep: alerts.beep });

function onFrame(frame) {
  handlers[frame.action]?.(frame);
}

function onError(frame) {
  for (const [id, th] of state.threads) {
    const p = th.pending.find((x) => x.client_msg_id === frame.ref);
    if (!p) continue;
    clearTimeout(p.timer);
    th.inFlight = null;
    if (frame.code === "rate_limited") {
      p.status = "queued";
      setTimeout(() => flushOutbox(id), frame.retry_after_ms || 1000);
    } else {
      p.status = "failed";
      p.error = frame.code === "conversation_closed" ? t("error.closed") : frame.message;
      flushOutbox(id);
    }
    invalidate("thread");
    return;
  }
  if (frame.code === "unknown_action" || (frame.code === "invalid_frame" && /^[a-z.]+$/.test(frame.ref || ""))) {
    if (frame.ref === "presence.set" && frame.code === "unknown_action") return; // kept locally until the server knows it
    toast(t("error.notSupported", { what: frame.ref || frame.code }), true);
    return;
  }
  if (frame.code === "unauthenticated") {
    socket?.ws?.close();
    return;
  }
  toast(t("error.generic", { message: frame.message }), true);
}

function sendAction(frame) {
  if (!socket?.send(frame)) toast(t("conn.connecting"), true);
}

// ------------------------------------------------------------------ conversations

async function loadConversations() {
  const seen = new Set();
  try {
    let cursor = null;
    for (let page = 0; page < 5; page++) {
      const data = await api.conversations("open", cursor);
      for (const c of data.conversations || []) {
        seen.add(c.conversation_id);
        const s = upsertSummary(c);
        s.status = c.status;
        s.assignee_id = c.assignee_id ?? null;
      }
      cursor = data.next_cursor;
      if (!cursor) break;
    }
  } catch (error) {
    if (error.status !== 401) toast(t("error.generic", { message: error.message }), true);
    return;
  }
  // Open here but not on the server: resolved while we were away. Ask for each one.
  for (const c of [...state.conversations.values()]) {
    if (c.status === "open" && !seen.has(c.conversation_id)) {
      api.conversation(c.conversation_id).then((fresh) => {
        const s = upsertSummary(fresh);
        s.status = fresh.status;
        invalidate("inbox", "thread");
      }).catch(() => {});
    }
  }
  state.listLoaded = true;
  for (const c of tabItems("all").slice(0, 40)) ensureVisitor(c.visitor_id);
  invalidate("inbox", "thread");
}

async function loadResolved() {
  if (state.resolvedLoaded) return;
  try {
    const data = await api.conversations("resolved");
    for (const c of data.conversations || []) {
      if (!state.conversations.has(c.conversation_id)) upsertSummary(c);
      ensureVisitor(c.visitor_id);
    }
  } catch {
    // the empty-state text covers it
  }
  state.resolvedLoaded = true;
  invalidate("inbox");
}

function ensureVisitor(visitorId) {
  if (!visitorId || !visitorsSupported || state.visitors.has(visitorId) || visitorRequests.has(visitorId)) return;
  visitorRequests.add(visitorId);
  api.visitor(visitorId).then((profile) => {
    state.visitors.set(visitorId, profile);
  }).catch((error) => {
    if (error.missingRoute || error.status === 404 && error.code === "http_404") visitorsSupported = false;
    state.visitors.set(visitorId, { unavailable: true });
  }).finally(() => {
    visitorRequests.delete(visitorId);
    invalidate("inbox", "thread", "panel");
  });
}

function select(id) {
  state.selectedId = id;
  state.view = "thread";
  applyLayout();
  const s = state.conversations.get(id);
  if (s) ensureVisitor(s.visitor_id);
  loadThread(id);
  markReadIfFocused();
  invalidate("inbox", "thread", "panel");
  requestAnimationFrame(() => composer.focus());
}

function openEarlier(summary) {
  if (!state.conversations.has(summary.conversation_id)) upsertSummary(summary);
  select(summary.conversation_id);
}

/** One page of history ending just before `before` (oldest first). */
async function fetchPage(id, before) {
  if (beforeSeqSupported) {
    try {
      return await api.messages(id, { before_seq: before, limit: PAGE_SIZE });
    } catch (error) {
      if (error.status !== 400) throw error;
      beforeSeqSupported = false; // an older server: page with after_seq instead (seqs are dense)
    }
  }
  const after = Math.max(0, before - 1 - PAGE_SIZE);
  const limit = before - 1 - after;
  if (limit <= 0) return { messages: [], has_more: false };
  const page = await api.messages(id, { after_seq: after, limit });
  return { ...page, has_more: after > 0 };
}

function absorbPage(id, page, before) {
  const th = thread(id);
  const seqs = [];
  for (const m of page.messages || []) {
    seqs.push(m.seq);
    if (!th.messages.has(m.seq)) th.messages.set(m.seq, m);
  }
  th.oldestSeq = Math.min(th.oldestSeq ?? Infinity, seqs.length ? Math.min(...seqs) : before);
  th.hasOlder = Boolean(page.has_more) && th.oldestSeq > 1;
}

async function loadThread(id) {
  const th = thread(id);
  if (th.loaded || th.loading) return;
  th.loading = true;
  invalidate("thread");
  const before = (state.conversations.get(id)?.last_seq || 0) + 1;
  try {
    const page = await fetchPage(id, before);
    absorbPage(id, page, before);
    th.loaded = true;
  } catch (error) {
    if (error.status !== 401) toast(t("error.generic", { message: error.message }), true);
  } finally {
    th.loading = false;
  }
  if (th.loaded) syncThread(id);
  invalidate("thread");
}

async function loadOlder(id) {
  const th = thread(id);
  if (!th.loaded || !th.hasOlder || th.loadingOlder) return;
  th.loadingOlder = true;
  invalidate("thread");
  try {
    const before = th.oldestSeq;
    absorbPage(id, await fetchPage(id, before), before);
  } catch (error) {
    toast(t("error.generic", { message: error.message }), true);
  } finally {
    th.loadingOlder = false;
    invalidate("thread");
  }
}

function maxSeq(th) {
  let max = 0;
  for (const seq of th.messages.keys()) if (seq > max) max = seq;
  return max;
}

function syncThread(id) {
  const th = thread(id);
  if (th.syncing && Date.now() - th.syncing < 5000) return;
  if (socket?.send({ action: "sync", conversation_id: id, after_seq: maxSeq(th), limit: 200 })) th.syncing = Date.now();
}

function receiveMessage(id, m, live) {
  let s = state.conversations.get(id);
  if (!s) {
    s = upsertSummary({
      conversation_id: id, visitor_id: m.sender_role === "visitor" ? m.sender_id : "", status: "open",
      created_at: m.created_at, updated_at: m.created_at, last_seq: m.seq, last_message_preview: "",
      visitor_read_seq: 0, agent_read_seq: 0, assignee_id: null,
    });
    api.conversation(id).then((fresh) => {
      const merged = upsertSummary(fresh);
      merged.status = fresh.status;
      merged.assignee_id = fresh.assignee_id ?? null;
      ensureVisitor(merged.visitor_id);
      invalidate("inbox", "thread");
    }).catch(() => {});
  }
  const isNew = m.seq > (s.last_seq || 0) || !thread(id).messages.has(m.seq);
  if (m.seq >= (s.last_seq || 0)) {
    s.last_seq = m.seq;
    s.updated_at = Math.max(s.updated_at || 0, m.created_at);
    if (!m.internal) s.last_message_preview = m.text || m.attachment?.name || "";
    if (m.sender_role === "visitor") {
      s.waitingSince = s.waitingSince || m.created_at;
      s.draft = null;
      s.draftAt = 0;
    } else if (!m.internal) {
      s.waitingSince = null;
    }
  }
  const th = state.threads.get(id);
  if (th) {
    const gap = th.loaded && m.seq > maxSeq(th) + 1;
    th.messages.set(m.seq, { ...th.messages.get(m.seq), ...m });
    const pendingIndex = th.pending.findIndex((p) => p.client_msg_id === m.client_msg_id);
    if (pendingIndex >= 0) {
      clearTimeout(th.pending[pendingIndex].timer);
      if (th.inFlight === m.client_msg_id) th.inFlight = null;
      th.pending.splice(pendingIndex, 1);
    }
    if (live && gap) syncThread(id);
  }
  if (live && isNew && m.sender_role === "visitor") {
    const profile = state.visitors.get(s.visitor_id);
    alert(s, t("notify.newMessage", { name: visitorLabel(s.visitor_id, profile?.unavailable ? null : profile) }),
      m.text || t("notify.attachment"));
  }
  if (id === state.selectedId) markReadIfFocused();
  invalidate("inbox", id === state.selectedId ? "thread" : null);
}

function focusedOn(id) {
  return id === state.selectedId && document.visibilityState === "visible" && document.hasFocus();
}

function markReadIfFocused() {
  const id = state.selectedId;
  if (!id || !focusedOn(id) || !socket?.online) return;
  const s = state.conversations.get(id);
  if (!s || !thread(id).loaded) return;
  if ((s.last_seq || 0) > (s.agent_read_seq || 0)) {
    s.agent_read_seq = s.last_seq;
    socket.send({ action: "read", conversation_id: id, seq: s.last_seq });
    invalidate("inbox");
  }
}

function alert(summary, title, body) {
  const id = summary.conversation_id;
  if (focusedOn(id)) return;
  const last = recentlyAlerted.get(id) || 0;
  if (Date.now() - last < 1500) return; // one alert for a burst of messages in one conversation
  recentlyAlerted.set(id, Date.now());
  alerts.beep();
  alerts.notify(title, body, `kefu-${id}`, () => select(id));
}

function updateTitle() {
  const n = tabItems("all").filter((c) => unread(c) > 0).length;
  document.title = n ? `(${n}) ${t("app.title")}` : t("app.title");
}

// ------------------------------------------------------------------ outbox

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function queueSend(id, { text, internal = false, attachment = null, localUrl = null }) {
  if (!id) return;
  thread(id).pending.push({
    client_msg_id: newClientId(), conversation_id: id, text, internal, attachment, localUrl,
    status: "queued", sender_role: "agent", sender_id: state.me?.agent_id, sender_name: state.me?.display_name,
    created_at: Date.now(),
  });
  flushOutbox(id);
  invalidate("thread");
  requestAnimationFrame(() => threadView.scrollToBottom());
}

/** Keep one message in flight per conversation, so the server stores them in the order typed. */
function flushOutbox(id) {
  const th = thread(id);
  if (th.inFlight || !socket?.online) return;
  const next = th.pending.find((p) => p.status === "queued");
  if (!next) return;
  const frame = { action: "message.send", client_msg_id: next.client_msg_id, conversation_id: id, text: next.text };
  if (next.internal) frame.internal = true;
  if (next.attachment) frame.attachment = next.attachment;
  if (!socket.send(frame)) return;
  next.status = "sending";
  th.inFlight = next.client_msg_id;
  clearTimeout(next.timer);
  // No ack? Send the same id again: the server answers a duplicate with the original ack.
  next.timer = setTimeout(() => {
    if (th.inFlight === next.client_msg_id && next.status === "sending") {
      next.status = "queued";
      th.inFlight = null;
      flushOutbox(id);
    }
  }, ACK_TIMEOUT_MS);
}

function retry(id, clientId) {
  const p = thread(id).pending.find((x) => x.client_msg_id === clientId);
  if (!p) return;
  p.status = "queued";
  p.error = null;
  flushOutbox(id);
  invalidate("thread");
}

async function sendFiles(id, files) {
  if (!id) return;
  for (const file of files) {
    if (!ALLOWED_TYPES.includes(file.type)) {
      composer.setStatus(t("composer.badType", { name: file.name }), true);
      continue;
    }
    if (file.size > MAX_UPLOAD_BYTES) {
      composer.setStatus(t("composer.tooLarge", { name: file.name, max: "10 MB" }), true);
      continue;
    }
    composer.setStatus(t("composer.uploading", { name: file.name }));
    try {
      const created = await api.createUpload(id, file);
      await api.uploadTo(created.upload, file);
      const attachment = { file_id: created.file_id, name: file.name, content_type: file.type, size: file.size };
      const localUrl = file.type.startsWith("image/") ? URL.createObjectURL(file) : null;
      queueSend(id, { text: "", attachment, localUrl, internal: composer.el.classList.contains("note-mode") });
      composer.setStatus("");
    } catch (error) {
      const message = error.missingRoute ? t("error.notSupported", { what: "POST /v1/uploads" }) : error.message;
      composer.setStatus(t("composer.uploadFailed", { message }), true);
    }
  }
}

// ------------------------------------------------------------------ presence and toasts

function setPresence(value) {
  if (!PRESENCES.includes(value)) return;
  state.presence = value;
  localStorage.setItem(presenceKey(), value);
  socket?.send({ action: "presence.set", state: value });
  invalidate("header");
}

function toast(text, isError = false) {
  const el = h("div", { class: `toast${isError ? " error" : ""}`, text });
  toasts.append(el);
  setTimeout(() => el.remove(), 5000);
}

// ------------------------------------------------------------------ timers and focus

setInterval(() => {
  if (state.me) invalidate("inbox");
}, 20_000);
setInterval(() => {
  if (state.me && state.connection.state === "offline") invalidate("header");
}, 1000);
window.addEventListener("focus", markReadIfFocused);
document.addEventListener("visibilitychange", markReadIfFocused);
window.addEventListener("storage", (event) => {
  if (event.key === SESSION_KEY && !event.newValue && state.me) logout("login.signedOut"); // signed out in another tab
});
alerts.unlockAudioOnGesture();

// ------------------------------------------------------------------ boot

if (session) startWorkbench();
else showLogin();
