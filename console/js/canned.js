// Canned replies: the list the composer's `/` popup reads, and a small manager dialog (REST CRUD).
import { h, icon, mount } from "./dom.js";
import { t } from "./i18n.js";
import { state } from "./store.js";

const SHORTCUT = /^[a-z0-9_-]{1,32}$/;

export async function loadCanned(api) {
  try {
    const data = await api.cannedReplies();
    state.canned = data?.canned_replies || [];
    state.cannedSupported = true;
  } catch (error) {
    state.canned = [];
    state.cannedSupported = !(error.missingRoute || error.status === 404);
  }
}

/** Open the manager as a modal <dialog>; `changed()` is called after each successful edit. */
export function openCannedManager(api, changed) {
  const dialog = h("dialog", { class: "dialog canned-dialog", "aria-labelledby": "canned-title" });
  let editing = null; // null | "new" | item id
  let confirming = null; // the item id whose Delete asks "are you sure?" in place (no window.confirm)
  let failure = "";

  function close() {
    dialog.close();
    dialog.remove();
  }

  function form(item) {
    const shortcut = h("input", { class: "input", name: "shortcut", required: true, maxlength: "32", pattern: "[a-z0-9_\\-]{1,32}", value: item?.shortcut || "", placeholder: "refund", "aria-label": t("canned.shortcut") });
    const text = h("textarea", { class: "input", name: "text", required: true, rows: "3", maxlength: "4000", "aria-label": t("canned.text") });
    text.value = item?.text || "";
    const error = h("div", { class: "form-error", role: "alert" });
    const f = h("form", { class: "canned-form" },
      h("label", { class: "label" }, h("span", { text: t("canned.shortcut") }), h("div", { class: "prefix-input" }, h("span", { class: "prefix", text: "/" }), shortcut)),
      h("label", { class: "label" }, h("span", { text: t("canned.text") }), text),
      error,
      h("div", { class: "row-end" },
        h("button", { type: "button", class: "btn btn-ghost", text: t("canned.cancel"), on: { click: () => { editing = null; draw(); } } }),
        h("button", { type: "submit", class: "btn btn-primary", text: t("canned.save") })));
    f.addEventListener("submit", async (event) => {
      event.preventDefault();
      const s = shortcut.value.trim().toLowerCase();
      const body = text.value.trim();
      if (!SHORTCUT.test(s)) {
        error.textContent = t("canned.badShortcut");
        return;
      }
      if (!body) return;
      try {
        if (item) {
          const saved = await api.updateCanned(item.id, s, body);
          state.canned = state.canned.map((c) => (c.id === item.id ? { ...c, ...(saved || { shortcut: s, text: body }) } : c));
        } else {
          const saved = await api.createCanned(s, body);
          state.canned = [...state.canned, saved || { id: s, shortcut: s, text: body }];
        }
        editing = null;
        changed();
        draw();
      } catch (err) {
        error.textContent = err.missingRoute ? t("error.notSupported", { what: "canned replies" }) : err.message;
      }
    });
    // Once the form is in the page; not if the agent already moved into one of its fields
    // (a fast typist, or a test driving the page, would have their text land in the wrong box).
    setTimeout(() => { if (!f.contains(document.activeElement)) (item ? text : shortcut).focus(); }, 0);
    return f;
  }

  function draw() {
    const items = [...state.canned].sort((a, b) => a.shortcut.localeCompare(b.shortcut));
    mount(dialog,
      h("div", { class: "dialog-head" },
        h("h2", { id: "canned-title", text: t("canned.title") }),
        h("button", { type: "button", class: "icon-btn", "aria-label": t("canned.close"), title: t("canned.close"), on: { click: close } }, icon("close"))),
      h("p", { class: "muted small", text: t("canned.hint") }),
      !state.cannedSupported ? h("p", { class: "form-error", text: t("error.notSupported", { what: "GET /v1/canned-replies" }) }) : null,
      h("ul", { class: "canned-list" },
        items.length ? null : h("li", { class: "muted", text: t("canned.empty") }),
        items.map((item) => editing === item.id
          ? h("li", { class: "editing" }, form(item))
          : h("li", { class: "canned-row", dataset: { shortcut: item.shortcut } },
            h("span", { class: "canned-shortcut", text: `/${item.shortcut}` }),
            h("span", { class: "canned-text", text: item.text }),
            confirming === item.id
              ? h("span", { class: "canned-actions" },
                h("span", { class: "small", text: t("canned.confirmDelete", { shortcut: item.shortcut }) }),
                h("button", { type: "button", class: "link-btn danger", dataset: { action: "confirm-delete" }, text: t("canned.delete"), on: { click: () => remove(item) } }),
                h("button", { type: "button", class: "link-btn", text: t("canned.cancel"), on: { click: () => { confirming = null; draw(); } } }))
              : h("span", { class: "canned-actions" },
                h("button", { type: "button", class: "link-btn", text: t("canned.edit"), on: { click: () => { editing = item.id; confirming = null; draw(); } } }),
                h("button", { type: "button", class: "link-btn danger", text: t("canned.delete"), on: { click: () => { confirming = item.id; draw(); dialog.querySelector("[data-action=confirm-delete]")?.focus(); } } }))))),
      failure ? h("p", { class: "form-error", role: "alert", text: failure }) : null,
      editing === "new" ? form(null)
        : h("button", { type: "button", class: "btn btn-secondary", dataset: { action: "add-canned" }, on: { click: () => { editing = "new"; draw(); } } }, t("canned.add")));
  }

  async function remove(item) {
    confirming = null;
    failure = "";
    try {
      await api.deleteCanned(item.id);
      state.canned = state.canned.filter((c) => c.id !== item.id);
      changed();
    } catch (err) {
      failure = err.message;
    }
    draw();
  }

  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  draw();
  dialog.showModal();
}
