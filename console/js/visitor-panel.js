// The visitor panel: identity, current page and trail, source, device, history.
import { h, icon, link, mount, safeUrl } from "./dom.js";
import { t } from "./i18n.js";
import { ago, clock, visitorLabel } from "./format.js";
import { state } from "./store.js";
import { avatar } from "./inbox.js";

function field(label, ...value) {
  return h("div", { class: "field" }, h("dt", { text: label }), h("dd", {}, ...value));
}

function pageLink(page) {
  if (!page?.url) return t("panel.unknown");
  const url = safeUrl(page.url);
  const title = page.title || page.url;
  if (!url) return title;
  let path = page.url;
  try {
    const u = new URL(url);
    path = u.pathname + u.search;
  } catch {
    // keep the raw url
  }
  return h("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "page-link", title: page.url },
    h("span", { class: "page-title", text: title }), h("span", { class: "page-path muted", text: path }));
}

/** "google.com" style label for a referrer URL. */
function referrerHost(value) {
  try {
    return new URL(value).hostname.replace(/^www\./, "");
  } catch {
    return value;
  }
}

export function renderVisitorPanel(root, { onOpenConversation, onClose }) {
  const summary = state.selectedId ? state.conversations.get(state.selectedId) : null;
  const close = h("button", { type: "button", class: "icon-btn panel-close", "aria-label": t("panel.close"), title: t("panel.close"), on: { click: onClose } }, icon("close"));
  if (!summary) {
    mount(root, h("div", { class: "panel-head" }, h("h2", { text: t("panel.title") }), close));
    return;
  }
  const v = state.visitors.get(summary.visitor_id);
  const label = visitorLabel(summary.visitor_id, v?.unavailable ? null : v);
  const head = h("div", { class: "panel-head" }, h("h2", { text: t("panel.title") }), close);
  const hero = h("div", { class: "panel-hero" }, avatar(summary.visitor_id, label, "lg"),
    h("div", {}, h("div", { class: "panel-name", text: label }),
      v && !v.unavailable
        ? h("span", { class: `pill ${v.returning ? "pill-returning" : "pill-new"}`, text: v.returning ? t("panel.returning", { n: v.visits || 2 }) : t("panel.new") })
        : null));
  if (!v) {
    mount(root, head, hero, h("p", { class: "muted pad", text: t("panel.loading") }));
    return;
  }
  if (v.unavailable) {
    mount(root, head, hero, h("p", { class: "muted pad", text: t("panel.unavailable") }));
    return;
  }

  const contact = [];
  if (v.email) {
    const plain = /^[^\s@<>"'?&#]+@[^\s@<>"'?&#]+$/.test(v.email);
    contact.push(field(t("login.email"), plain ? h("a", { href: `mailto:${v.email}`, text: v.email }) : v.email,
      v.verified ? h("span", { class: "pill pill-verified", title: t("panel.verifiedHint"), text: t("panel.verified") }) : null));
  }
  if (v.phone) contact.push(field("☎", v.phone));
  const attributes = Object.entries(v.attributes || {});

  const utm = v.utm || {};
  const utmText = [utm.source, utm.medium, utm.campaign].filter(Boolean).join(" / ");
  const trail = [...(v.trail || [])].reverse();
  const earlier = (v.conversations || []).filter((c) => c.conversation_id !== summary.conversation_id);

  mount(root, head, hero,
    h("div", { class: "panel-scroll" },
      contact.length ? h("section", { class: "panel-section" }, h("h3", { text: t("panel.contact") }), h("dl", {}, contact)) : null,
      h("section", { class: "panel-section" },
        h("h3", { text: t("panel.currentPage") }),
        h("div", { class: "current-page" }, pageLink(v.current_page))),
      h("section", { class: "panel-section" },
        h("h3", { text: t("panel.source") }),
        h("dl", {},
          v.source ? field(t("panel.channel"), h("span", { class: `pill pill-source`, text: t(`source.${v.source}`) })) : null,
          field(t("panel.referrer"), v.referrer ? link(v.referrer, referrerHost(v.referrer)) : t("panel.direct")),
          utmText ? field(t("panel.utm"), utmText) : null,
          field(t("panel.device"), v.device || t("panel.unknown")),
          field(t("panel.language"), v.language || t("panel.unknown")),
          v.screen ? field(t("panel.screen"), v.screen) : null,
          v.first_seen_at ? field(t("panel.firstSeen"), clock(v.first_seen_at)) : null,
          v.last_seen_at ? field(t("panel.lastSeen"), ago(v.last_seen_at)) : null)),
      attributes.length ? h("section", { class: "panel-section" }, h("h3", { text: t("panel.attributes") }),
        h("dl", {}, attributes.map(([k, val]) => field(k, String(val))))) : null,
      h("section", { class: "panel-section" },
        h("h3", { text: t("panel.trail") }),
        trail.length
          ? h("ol", { class: "trail" }, trail.map((p) => h("li", {}, pageLink(p), p.at ? h("span", { class: "muted small", text: ago(p.at) }) : null)))
          : h("p", { class: "muted", text: t("panel.unknown") })),
      h("section", { class: "panel-section" },
        h("h3", { text: t("panel.earlier") }),
        earlier.length
          ? h("ul", { class: "earlier" }, earlier.map((c) => h("li", {},
            h("button", { type: "button", class: "earlier-item", on: { click: () => onOpenConversation(c) } },
              h("span", { class: "earlier-date", text: clock(c.created_at) }),
              h("span", { class: `pill ${c.status === "resolved" ? "pill-resolved" : "pill-open"}`, text: c.status === "resolved" ? t("thread.resolved") : t("thread.open") }),
              h("span", { class: "earlier-preview muted", text: c.last_message_preview || t("inbox.noMessages") })))))
          : h("p", { class: "muted", text: t("panel.noEarlier") }))));
}
