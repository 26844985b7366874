// The reply box: Reply / Note modes, `/shortcut` canned replies, attachments, typing signals.
import { h, icon, mount } from "./dom.js";
import { t } from "./i18n.js";

const TYPING_REFRESH_MS = 3000;
const TYPING_IDLE_MS = 4000;
export const ALLOWED_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"];

/** Canned replies matching `q`: shortcut prefix first, then shortcut or text containing it. */
export function matchCanned(replies, q) {
  const query = q.toLowerCase();
  const score = (r) => (r.shortcut.startsWith(query) ? 0 : r.shortcut.includes(query) ? 1 :
    r.text.toLowerCase().includes(query) ? 2 : 3);
  return replies.filter((r) => score(r) < 3)
    .sort((a, b) => score(a) - score(b) || a.shortcut.localeCompare(b.shortcut)).slice(0, 8);
}

/**
 * @param {object} opts
 * @param {(text: string, internal: boolean) => void} opts.onSend
 * @param {(state: "start"|"stop") => void} opts.onTyping
 * @param {(files: File[]) => void} opts.onFiles
 * @param {() => Array} opts.canned
 * @param {() => void} opts.onManageCanned
 */
export function createComposer(opts) {
  const drafts = new Map(); // conversation_id → {text, note}
  let conversationId = null;
  let note = false;
  let typingSentAt = 0;
  let idleTimer = null;
  let popup = { open: false, items: [], index: 0, start: 0, q: "" };

  const textarea = h("textarea", {
    class: "composer-input", rows: "1", "aria-label": t("composer.reply"), "aria-autocomplete": "list",
    "aria-controls": "canned-popup", "aria-expanded": "false",
  });
  const fileInput = h("input", { type: "file", multiple: true, hidden: true, accept: ALLOWED_TYPES.join(",") });
  const list = h("ul", { class: "canned-popup", id: "canned-popup", role: "listbox", hidden: true });
  const replyBtn = h("button", { type: "button", class: "mode", dataset: { mode: "reply" } });
  const noteBtn = h("button", { type: "button", class: "mode mode-note", dataset: { mode: "note" } });
  const attachBtn = h("button", { type: "button", class: "icon-btn", dataset: { action: "attach" } }, icon("clip"));
  const cannedBtn = h("button", { type: "button", class: "icon-btn", dataset: { action: "canned" } }, icon("bolt"));
  const sendBtn = h("button", { type: "submit", class: "btn btn-primary send" });
  const status = h("div", { class: "composer-status", role: "status", "aria-live": "polite" });
  const form = h("form", { class: "composer", autocomplete: "off" },
    list,
    h("div", { class: "composer-modes", role: "group" }, replyBtn, noteBtn),
    h("div", { class: "composer-box" }, textarea),
    h("div", { class: "composer-bar" }, attachBtn, cannedBtn, fileInput, status, h("span", { class: "spacer" }), sendBtn));

  function labels() {
    replyBtn.textContent = t("composer.reply");
    noteBtn.replaceChildren(icon("note", 14), document.createTextNode(t("composer.noteMode")));
    replyBtn.setAttribute("aria-pressed", String(!note));
    noteBtn.setAttribute("aria-pressed", String(note));
    textarea.placeholder = note ? t("composer.notePlaceholder") : t("composer.placeholder");
    attachBtn.title = attachBtn.ariaLabel = t("composer.attach");
    attachBtn.setAttribute("aria-label", t("composer.attach"));
    cannedBtn.title = t("canned.manage");
    cannedBtn.setAttribute("aria-label", t("canned.manage"));
    sendBtn.replaceChildren(document.createTextNode(note ? t("composer.addNote") : t("composer.send")), icon("send", 16));
    form.classList.toggle("note-mode", note);
  }

  function setNote(value) {
    if (note === value) return;
    if (value) stopTyping(); // colleagues' notes are no business of the visitor's typing indicator
    note = value;
    labels();
    textarea.focus();
  }

  function autosize() {
    textarea.style.height = "auto";
    textarea.style.height = `${Math.min(textarea.scrollHeight, 200)}px`;
  }

  function stopTyping() {
    clearTimeout(idleTimer);
    if (typingSentAt) {
      typingSentAt = 0;
      opts.onTyping("stop");
    }
  }

  function typed() {
    if (note || !conversationId) return;
    const now = Date.now();
    if (!textarea.value.trim()) {
      stopTyping();
      return;
    }
    if (now - typingSentAt > TYPING_REFRESH_MS) {
      typingSentAt = now;
      opts.onTyping("start");
    }
    clearTimeout(idleTimer);
    idleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  // ---------------------------------------------------------------- canned popup
  function updatePopup() {
    const caret = textarea.selectionStart ?? textarea.value.length;
    const before = textarea.value.slice(0, caret);
    const match = before.match(/(?:^|\s)\/([a-z0-9_-]{0,32})$/i);
    if (!match) return closePopup();
    const q = match[1];
    const items = matchCanned(opts.canned(), q);
    popup = { open: true, items, index: 0, start: caret - q.length - 1, q };
    drawPopup();
  }

  function drawPopup() {
    list.hidden = !popup.open;
    textarea.setAttribute("aria-expanded", String(popup.open));
    if (!popup.open) return;
    if (!popup.items.length) {
      mount(list, h("li", { class: "canned-empty", text: opts.canned().length ? t("canned.none", { q: popup.q }) : t("canned.empty") }),
        h("li", { class: "canned-footer" }, h("button", { type: "button", class: "link-btn", text: t("canned.manage"), on: { mousedown: (e) => { e.preventDefault(); closePopup(); opts.onManageCanned(); } } })));
      return;
    }
    mount(list, popup.items.map((item, i) => h("li", {
      class: `canned-item${i === popup.index ? " active" : ""}`, role: "option", id: `canned-opt-${i}`,
      "aria-selected": String(i === popup.index), dataset: { shortcut: item.shortcut },
      on: { mousedown: (e) => { e.preventDefault(); insert(item); }, mousemove: () => { if (popup.index !== i) { popup.index = i; drawPopup(); } } },
    }, h("span", { class: "canned-shortcut", text: `/${item.shortcut}` }), h("span", { class: "canned-text", text: item.text }))),
    h("li", { class: "canned-footer muted", text: t("canned.hint") }));
    textarea.setAttribute("aria-activedescendant", `canned-opt-${popup.index}`);
    list.querySelector(".active")?.scrollIntoView({ block: "nearest" });
  }

  function closePopup() {
    if (!popup.open) return;
    popup = { open: false, items: [], index: 0, start: 0, q: "" };
    textarea.removeAttribute("aria-activedescendant");
    drawPopup();
  }

  function insert(item) {
    const caret = textarea.selectionStart ?? textarea.value.length;
    const value = textarea.value;
    textarea.value = value.slice(0, popup.start) + item.text + value.slice(caret);
    const at = popup.start + item.text.length;
    textarea.setSelectionRange(at, at);
    closePopup();
    autosize();
    textarea.focus();
    typed();
  }

  // ---------------------------------------------------------------- events
  textarea.addEventListener("input", () => {
    autosize();
    updatePopup();
    typed();
  });
  textarea.addEventListener("click", updatePopup);
  textarea.addEventListener("blur", () => setTimeout(closePopup, 150));
  textarea.addEventListener("keydown", (event) => {
    if (event.isComposing || event.keyCode === 229) return; // IME (Chinese input) is choosing characters
    if (popup.open && popup.items.length) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const n = popup.items.length;
        popup.index = (popup.index + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
        drawPopup();
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        insert(popup.items[popup.index]);
        return;
      }
    }
    if (popup.open && event.key === "Escape") {
      event.preventDefault();
      closePopup();
      return;
    }
    if (event.key === "Enter" && !event.shiftKey && !event.altKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = textarea.value.trim();
    if (!text || !conversationId || textarea.disabled) return;
    stopTyping();
    opts.onSend(text, note);
    textarea.value = "";
    drafts.delete(conversationId);
    autosize();
    closePopup();
    textarea.focus();
  });
  replyBtn.addEventListener("click", () => setNote(false));
  noteBtn.addEventListener("click", () => setNote(!note));
  attachBtn.addEventListener("click", () => fileInput.click());
  cannedBtn.addEventListener("click", () => opts.onManageCanned());
  fileInput.addEventListener("change", () => {
    const files = [...fileInput.files];
    fileInput.value = "";
    if (files.length) opts.onFiles(files);
  });
  form.addEventListener("dragover", (e) => { e.preventDefault(); form.classList.add("drop"); });
  form.addEventListener("dragleave", () => form.classList.remove("drop"));
  form.addEventListener("drop", (e) => {
    e.preventDefault();
    form.classList.remove("drop");
    const files = [...(e.dataTransfer?.files || [])];
    if (files.length) opts.onFiles(files);
  });
  textarea.addEventListener("paste", (e) => {
    const files = [...(e.clipboardData?.files || [])];
    if (files.length) {
      e.preventDefault();
      opts.onFiles(files);
    }
  });

  labels();
  return {
    el: form,
    labels,
    focus: () => textarea.focus(),
    setStatus(text, isError = false) {
      status.textContent = text || "";
      status.classList.toggle("error", isError);
    },
    /** Switch to another conversation, keeping each one's unsent draft. */
    setConversation(id, disabled) {
      if (id !== conversationId) {
        if (conversationId) drafts.set(conversationId, { text: textarea.value, note });
        stopTyping();
        closePopup();
        const saved = drafts.get(id);
        textarea.value = saved?.text || "";
        note = saved?.note || false;
        conversationId = id;
        labels();
        autosize();
      }
      textarea.disabled = disabled;
      sendBtn.disabled = disabled;
      attachBtn.disabled = disabled;
    },
  };
}
