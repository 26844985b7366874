// "Send an article" in the reply box: search the knowledge base and send an article's
// text to the visitor in one click. Hooked into the composer by app.js; rendered as text.
import { h, mount } from "./dom.js";

/** The article's body as plain text (the API's HTML is parsed, never inserted). */
export function articleText(article) {
  const doc = new DOMParser().parseFromString(article.body_html || "", "text/html");
  const lines = [...doc.body.querySelectorAll("p, li, h1, h2, h3, pre, td")]
    .filter((b) => !(b.closest("li") && b.tagName !== "LI"))
    .map((b) => (b.tagName === "LI" ? "• " : "") + b.textContent.trim()).filter(Boolean);
  return `${article.title}\n\n${lines.join("\n")}`;
}

/**
 * @param {HTMLFormElement} composerEl  the composer's form
 * @param {import("./api.js").Api} api
 * @param {(text: string) => void} send  sends a reply in the selected conversation
 */
export function addArticlePicker(composerEl, api, send) {
  const bar = composerEl.querySelector(".composer-bar");
  if (!bar) return;
  const button = h("button", { type: "button", class: "icon-btn kb-pick", title: "Send an article",
    "aria-label": "Send an article", "aria-expanded": "false", text: "📖" });
  const input = h("input", { class: "input", type: "search", placeholder: "Search articles…", "aria-label": "Search articles" });
  const results = h("ul", { class: "kb-pick-results", role: "listbox" });
  const panel = h("div", { class: "kb-picker", hidden: true }, input, results);
  composerEl.prepend(panel);
  bar.insertBefore(button, bar.querySelector(".spacer"));
  let timer = 0;

  const close = () => { panel.hidden = true; button.setAttribute("aria-expanded", "false"); };
  button.addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    button.setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) input.focus();
  });
  input.addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, 250);
  });

  async function search() {
    const q = input.value.trim();
    if (!q) return mount(results);
    const body = await api.request("GET", `/v1/kb/search?limit=6&q=${encodeURIComponent(q)}`).catch(() => null);
    if (input.value.trim() !== q) return;
    const hits = body?.results || [];
    mount(results, hits.length ? hits.map((hit) => h("li", { class: "kb-pick-item" },
      h("div", {}, h("strong", { text: hit.title }), h("span", { class: "muted", text: ` · ${hit.locale} · ${hit.status}` }),
        h("div", { class: "muted kb-pick-snippet", text: hit.snippet })),
      h("button", { type: "button", class: "btn btn-primary", text: "Send", on: { click: () => sendArticle(hit.id) } })))
      : h("li", { class: "muted", text: "No article matches." }));
  }

  async function sendArticle(id) {
    const article = await api.request("GET", `/v1/kb/articles/${encodeURIComponent(id)}`);
    send(articleText(article).slice(0, 4000));
    close();
  }
}
