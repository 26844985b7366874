// The conversation view: header with resolve / reopen, the message log (keyed, scroll-aware,
// infinite scroll upward), the visitor's live draft, read state and the composer.
import { h, icon, link, linkify, mount, safeUrl } from "./dom.js";
import { t, locale } from "./i18n.js";
import { bytes, clock, visitorLabel } from "./format.js";
import { state, thread } from "./store.js";
import { avatar } from "./inbox.js";

const DRAFT_TTL_MS = 8000;
const GROUP_MS = 5 * 60 * 1000;

/**
 * Build the (persistent) conversation view.
 * @param {object} opts callbacks: onLoadOlder(id), onResolve(id), onReopen(id), onRetry(id, clientId),
 *   onBack(), onDetails(), composer (from createComposer)
 */
export function createThreadView(opts) {
  const head = h("header", { class: "thread-head" });
  const log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0" });
  const typing = h("div", { class: "typing-line", "aria-live": "polite" });
  const banner = h("div", { class: "resolved-banner", hidden: true });
  const emptyState = h("div", { class: "thread-empty" });
  const body = h("div", { class: "thread-body" }, log, typing, banner, opts.composer.el);
  const el = h("section", { class: "thread", "aria-label": t("thread.pick") }, head, body, emptyState);
  const nodes = new Map(); // key → {el, sig}
  let shownId = null;
  let topMarker = null;

  log.addEventListener("scroll", () => {
    if (shownId && log.scrollTop < 150) opts.onLoadOlder(shownId);
  }, { passive: true });

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 120;
  }

  function render() {
    const id = state.selectedId;
    const summary = id ? state.conversations.get(id) : null;
    el.classList.toggle("has-conversation", Boolean(summary));
    if (!summary) {
      shownId = null;
      nodes.clear();
      log.replaceChildren();
      mount(emptyState, h("div", { class: "empty-art big", "aria-hidden": "true" }),
        h("h2", { text: t("thread.pick") }), h("p", { class: "muted", text: t("thread.pickHint") }));
      return;
    }
    const switched = shownId !== id;
    if (switched) {
      shownId = id;
      nodes.clear();
      log.replaceChildren();
      topMarker = null;
    }
    renderHead(summary);
    const resolved = summary.status === "resolved";
    banner.hidden = !resolved;
    banner.textContent = resolved ? t("thread.resolvedBanner") : "";
    opts.composer.setConversation(id, resolved);
    renderTyping(summary);
    renderLog(id, summary, switched);
  }

  function renderHead(summary) {
    const profile = state.visitors.get(summary.visitor_id);
    const label = visitorLabel(summary.visitor_id, profile?.unavailable ? null : profile);
    const resolved = summary.status === "resolved";
    const sub = profile && !profile.unavailable && profile.current_page?.url
      ? (profile.current_page.title || profile.current_page.url) : (profile?.email || "");
    mount(head,
      h("button", { type: "button", class: "icon-btn back", "aria-label": t("thread.back"), title: t("thread.back"), on: { click: opts.onBack } }, icon("back")),
      avatar(summary.visitor_id, label),
      h("div", { class: "thread-title" },
        h("h2", { text: label }),
        h("div", { class: "thread-sub" },
          h("span", { class: `pill ${resolved ? "pill-resolved" : "pill-open"}`, text: resolved ? t("thread.resolved") : t("thread.open") }),
          sub ? h("span", { class: "muted ellipsis", text: sub }) : null)),
      h("span", { class: "spacer" }),
      h("button", { type: "button", class: "icon-btn details", "aria-label": t("thread.details"), title: t("thread.details"), on: { click: opts.onDetails } }, icon("user")),
      resolved
        ? h("button", { type: "button", class: "btn btn-secondary", dataset: { action: "reopen" }, on: { click: () => opts.onReopen(summary.conversation_id) } }, icon("reopen", 16), t("thread.reopen"))
        : h("button", { type: "button", class: "btn btn-success", dataset: { action: "resolve" }, on: { click: () => opts.onResolve(summary.conversation_id) } }, icon("check", 16), t("thread.resolve")));
  }

  function renderTyping(summary) {
    const fresh = summary.draftAt && Date.now() - summary.draftAt < DRAFT_TTL_MS;
    typing.classList.toggle("on", Boolean(fresh));
    if (!fresh) {
      typing.replaceChildren();
      return;
    }
    mount(typing, h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")),
      h("span", { class: "typing-text", text: summary.draft ? t("thread.typingDraft", { draft: summary.draft }) : t("thread.typing") }));
  }

  function renderLog(id, summary, switched) {
    const th = thread(id);
    const stick = switched || nearBottom();
    const anchor = log.scrollHeight - log.scrollTop;
    const prepended = th.oldestSeq !== null && topMarker !== null && th.oldestSeq < topMarker;
    topMarker = th.oldestSeq;

    const items = [];
    items.push({ key: "top", sig: `${th.loading}|${th.loadingOlder}|${th.hasOlder}|${locale()}`, build: () => topRow(th) });
    const confirmed = [...th.messages.values()].sort((a, b) => a.seq - b.seq);
    // "Seen" goes under the last agent message the visitor has read; "Sent" under a later one.
    const lastAgent = [...confirmed].reverse().find((m) => m.sender_role === "agent" && !m.internal);
    let day = "";
    let prev = null;
    // Consecutive messages from one sender within a few minutes share one name/time line.
    const grouped = (m) => prev && prev.sender_id === m.sender_id && Boolean(prev.internal) === Boolean(m.internal) &&
      m.created_at - prev.created_at < GROUP_MS;
    for (const m of confirmed) {
      const d = new Date(m.created_at).toDateString();
      if (d !== day) {
        day = d;
        prev = null;
        items.push({ key: `day:${d}`, sig: locale(), build: () => dayRow(m.created_at) });
      }
      let receipt = "";
      if (m === lastAgent) receipt = (summary.visitor_read_seq || 0) >= m.seq ? "seen" : "sent";
      const meta = !grouped(m);
      prev = m;
      items.push({ key: `m:${m.client_msg_id}`, sig: `${m.seq}|${receipt}|${meta}|${m.attachment?.url || ""}|${locale()}`, build: () => messageRow(m, receipt, null, meta) });
    }
    for (const p of th.pending) {
      const meta = !grouped(p);
      prev = p;
      items.push({ key: `m:${p.client_msg_id}`, sig: `p|${p.status}|${p.error || ""}|${meta}|${locale()}`, build: () => messageRow(p, p.status, () => opts.onRetry(id, p.client_msg_id), meta) });
    }

    // Keyed reconcile: reuse nodes whose signature is unchanged, keep order, drop the rest.
    const keep = new Set(items.map((i) => i.key));
    for (const [key, node] of nodes) {
      if (!keep.has(key)) {
        node.el.remove();
        nodes.delete(key);
      }
    }
    let cursor = log.firstChild;
    for (const item of items) {
      let node = nodes.get(item.key);
      if (!node || node.sig !== item.sig) {
        const fresh = item.build();
        if (node) {
          if (node.el === cursor) cursor = fresh;
          node.el.replaceWith(fresh);
        }
        node = { el: fresh, sig: item.sig };
        nodes.set(item.key, node);
      }
      if (node.el !== cursor) log.insertBefore(node.el, cursor);
      else cursor = cursor.nextSibling;
    }

    if (stick) scrollToBottom();
    else if (prepended) log.scrollTop = log.scrollHeight - anchor;
    // Not enough history to scroll? Fetch more so the upward scroll has something to reveal.
    if (th.loaded && th.hasOlder && log.scrollHeight <= log.clientHeight + 10) opts.onLoadOlder(id);
  }

  function scrollToBottom() {
    log.scrollTop = log.scrollHeight;
  }

  function topRow(th) {
    if (th.loading || th.loadingOlder) return h("div", { class: "log-top muted", text: t("thread.loadingOlder") });
    if (th.hasOlder) return h("div", { class: "log-top" });
    return h("div", { class: "log-top muted start", text: th.loaded ? t("thread.start") : "" });
  }

  function dayRow(timestamp) {
    const text = new Date(timestamp).toLocaleDateString(locale() === "zh" ? "zh-CN" : undefined,
      { weekday: "short", month: "short", day: "numeric" });
    return h("div", { class: "day", role: "separator" }, h("span", { text }));
  }

  function messageRow(m, receipt, retry, withMeta = true) {
    const mine = m.sender_role === "agent";
    const kind = m.internal ? "note" : mine ? "out" : "in";
    const meta = !withMeta ? null : h("div", { class: "msg-meta" },
      h("span", { class: "msg-sender", text: m.sender_name || (mine ? state.me?.display_name : "") || "" }),
      m.created_at ? h("time", { datetime: new Date(m.created_at).toISOString(), text: clock(m.created_at) }) : null);
    const bubble = h("div", { class: "bubble" },
      m.internal ? h("div", { class: "note-label" }, icon("note", 13), h("span", { text: t("thread.note") })) : null,
      m.text ? h("div", { class: "msg-text" }, linkify(m.text)) : null,
      m.attachment ? attachmentView(m.attachment, m.localUrl) : null);
    let status = null;
    if (receipt === "seen") status = h("div", { class: "msg-status seen" }, icon("check", 12), h("span", { text: t("thread.seen") }));
    else if (receipt === "sent") status = h("div", { class: "msg-status" }, h("span", { text: t("thread.sent") }));
    else if (receipt === "sending" || receipt === "queued") status = h("div", { class: "msg-status muted", text: t("thread.sending") });
    else if (receipt === "failed") {
      status = h("div", { class: "msg-status error" }, h("span", { text: t("thread.failed", { message: m.error || "" }) }),
        retry ? h("button", { type: "button", class: "link-btn", text: t("thread.retry"), on: { click: retry } }) : null);
    }
    return h("div", { class: `msg msg-${kind}${m.seq ? "" : " pending"}${withMeta ? "" : " cont"}`, title: withMeta ? null : clock(m.created_at), dataset: { seq: m.seq || "", clientId: m.client_msg_id } },
      meta, bubble, status);
  }

  function attachmentView(a, localUrl) {
    const url = safeUrl(a.url) || (localUrl?.startsWith("blob:") ? localUrl : null);
    const isImage = /^image\//.test(a.content_type || "");
    if (isImage && url) {
      const img = h("img", { class: "thumb", src: url, alt: a.name || "", loading: "lazy" });
      img.addEventListener("load", () => { if (nearBottom() || log.scrollTop + log.clientHeight + img.height + 40 >= log.scrollHeight) scrollToBottom(); }, { once: true });
      const wrap = url.startsWith("blob:") ? h("span", { class: "thumb-link" }, img)
        : h("a", { class: "thumb-link", href: url, target: "_blank", rel: "noopener noreferrer", title: a.name || "" }, img);
      return h("div", { class: "attachment image" }, wrap);
    }
    const label = h("span", { class: "file-name", text: a.name || "file" });
    const target = safeUrl(a.url) ? link(a.url, "") : h("span");
    if (target.tagName === "A") target.className = "file-link";
    target.replaceChildren(icon("file", 20), h("span", { class: "file-info" }, label, h("span", { class: "muted", text: bytes(a.size) })));
    return h("div", { class: "attachment file" }, target);
  }

  return { el, render, log, scrollToBottom };
}
