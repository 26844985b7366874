// The conversation list: tabs (mine / unassigned / all open / resolved), unread counts, previews, waiting time.
import { h, mount } from "./dom.js";
import { t } from "./i18n.js";
import { duration, visitorLabel, initials, hue } from "./format.js";
import { state, tabItems, unread } from "./store.js";

const TABS = ["mine", "unassigned", "all", "resolved"];

export function avatar(visitorId, label, size = "") {
  return h("span", {
    class: `avatar ${size}`, "aria-hidden": "true", style: { "--hue": String(hue(visitorId)) },
    text: initials(label),
  });
}

/** When the visitor started waiting for an answer, or null if nobody is waiting. */
export function waitingSince(c) {
  if (c.status !== "open") return null;
  if (c.waitingSince !== undefined) return c.waitingSince;
  return unread(c) > 0 ? c.updated_at : null;
}

// A live update redraws the list. One arriving between a press and its release would
// replace the row under the pointer and the browser would drop the click, so while a
// pointer is down on the list the redraw waits until just after the click has been handled.
const held = new WeakMap(); // root -> { down, pending }

function deferWhilePressed(root, redraw) {
  let hold = held.get(root);
  if (!hold) {
    hold = { down: false, pending: null };
    held.set(root, hold);
    root.addEventListener("pointerdown", () => { hold.down = true; }, true);
    const release = () => {
      if (!hold.down) return;
      hold.down = false;
      setTimeout(() => { const pending = hold.pending; hold.pending = null; if (pending) pending(); }, 0);
    };
    window.addEventListener("pointerup", release, true);
    window.addEventListener("pointercancel", release, true);
  }
  if (!hold.down) return false;
  hold.pending = redraw;
  return true;
}

export function renderInbox(root, handlers) {
  if (deferWhilePressed(root, () => renderInbox(root, handlers))) return;
  const { onSelect, onTab } = handlers;
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": t("inbox.title") },
    TABS.map((tab) => {
      const items = tabItems(tab);
      const count = tab === "resolved" ? 0 : items.filter((c) => unread(c) > 0).length;
      const selected = state.tab === tab;
      return h("button", {
        class: "tab", role: "tab", type: "button", "aria-selected": String(selected),
        dataset: { tab }, tabindex: selected ? "0" : "-1", on: { click: () => onTab(tab) },
      },
      h("span", { text: t(`tabs.${tab}`) }),
      count ? h("span", { class: "tab-count", "aria-label": t("inbox.unread", { n: count }), text: String(count) }) : null);
    }));
  tabs.addEventListener("keydown", (event) => {
    const i = TABS.indexOf(state.tab);
    if (event.key === "ArrowRight") onTab(TABS[(i + 1) % TABS.length]);
    else if (event.key === "ArrowLeft") onTab(TABS[(i + TABS.length - 1) % TABS.length]);
    else return;
    event.preventDefault();
    requestAnimationFrame(() => root.querySelector('.tab[aria-selected="true"]')?.focus());
  });

  const items = tabItems(state.tab);
  const now = Date.now();
  let body;
  if (!state.listLoaded || (state.tab === "resolved" && !state.resolvedLoaded)) {
    body = h("div", { class: "empty muted", text: t("inbox.loading") });
  } else if (!items.length) {
    body = h("div", { class: "empty" }, h("div", { class: "empty-art", "aria-hidden": "true" }),
      h("p", { text: t(`inbox.empty.${state.tab}`) }));
  } else {
    body = h("ul", { class: "conv-list", role: "listbox", "aria-label": t(`tabs.${state.tab}`) },
      items.map((c) => row(c, now, onSelect)));
  }
  mount(root, tabs, h("div", { class: "conv-scroll" }, body));
}

function row(c, now, onSelect) {
  const profile = state.visitors.get(c.visitor_id);
  const label = visitorLabel(c.visitor_id, profile?.unavailable ? null : profile);
  const count = unread(c);
  const waiting = waitingSince(c);
  const selected = c.conversation_id === state.selectedId;
  const typing = c.draftAt && now - c.draftAt < 8000;
  const mine = c.assignee_id && c.assignee_id === state.me?.agent_id;
  return h("li", {
    class: `conv${selected ? " selected" : ""}${count ? " unread" : ""}`, role: "option",
    "aria-selected": String(selected), tabindex: "0", dataset: { id: c.conversation_id },
    on: {
      click: () => onSelect(c.conversation_id),
      keydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onSelect(c.conversation_id); } },
    },
  },
  avatar(c.visitor_id, label),
  h("div", { class: "conv-main" },
    h("div", { class: "conv-top" },
      h("span", { class: "conv-name", text: label }),
      waiting
        ? h("span", { class: "conv-time waiting", title: new Date(waiting).toLocaleString(), text: t("inbox.waiting", { t: duration(now - waiting) }) })
        : h("span", { class: "conv-time", title: new Date(c.updated_at).toLocaleString(), text: duration(now - c.updated_at) })),
    h("div", { class: "conv-bottom" },
      typing
        ? h("span", { class: "conv-preview typing", text: t("thread.typing") })
        : h("span", { class: "conv-preview", text: c.last_message_preview || t("inbox.noMessages") }),
      mine ? h("span", { class: "chip chip-me", text: t("inbox.you") }) : null,
      count ? h("span", { class: "badge", "aria-label": t("inbox.unread", { n: count }), text: count > 99 ? "99+" : String(count) }) : null)));
}
