// The knowledge-base workbench (kb.html): search and edit articles (versions, history,
// publish), a text preview, import (JSON or Markdown files, checked whole before any part is
// written) and export (JSON, or Markdown files in a .zip), and the questions the bot could not answer,
// grouped, each one click away from a new article or from teaching the bot that an
// existing article answers them (they become its alternate phrasings), and the bot's settings
// (js/kb-bot.js). Uses the console's session (signed in
// at index.html) and REST client. Everything from the server is rendered as text (dom.js's h()).
import { agentNames, nameOf } from "./agents.js";
import { Api, ApiError } from "./api.js";
import { h, mount } from "./dom.js";
import { showBotSettings } from "./kb-bot.js";
import { readSession, showSignedOut } from "./session.js";
import { zipFiles } from "./zip.js";

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content?.trim() || "";
const apiBase = meta("kefu-api-url") || window.location.origin;
const root = document.getElementById("kb");
const state = { tab: "articles", query: "", articles: [], selected: null, article: null, history: [], banner: "",
  agents: new Map() /* agent id -> name, for the history */ };
let session = null;

const api = new Api(apiBase, () => session?.token || null, () => signedOut());

function signedOut() {
  session = null;
  showSignedOut(root, "tk-pad", "the knowledge base");
}

const when = (ms) => new Date(ms).toLocaleString();

// ------------------------------------------------------------------ articles

async function loadList() {
  if (state.query.trim()) {
    const body = await api.request("GET", `/v1/kb/search?limit=20&q=${encodeURIComponent(state.query.trim())}`);
    state.articles = body.results;
  } else {
    state.articles = (await api.request("GET", "/v1/kb/articles")).articles;
  }
  renderList();
}

async function select(id) {
  state.selected = id;
  state.banner = "";
  if (id === null) {
    state.article = { id: "", title: "", body: "", locale: "en", category: "", phrasings: [], not_answered: [],
      status: "draft", version: 0 };
    state.history = [];
  } else {
    state.article = await api.request("GET", `/v1/kb/articles/${encodeURIComponent(id)}`);
    state.history = (await api.request("GET", `/v1/kb/articles/${encodeURIComponent(id)}/history`)).versions;
  }
  renderList();
  renderDetail();
}

function renderList() {
  const list = root.querySelector(".tk-list");
  if (!list) return;
  mount(list, state.articles.length ? state.articles.map((a) => h("div", {
    class: "tk-row", role: "option", "aria-selected": String(a.id === state.selected), dataset: { id: a.id },
    on: { click: () => select(a.id) },
  },
  h("span", { class: "tk-num", text: a.locale }),
  h("span", { class: "tk-subject", text: a.title }),
  h("span", { class: `tk-pill${a.status === "draft" ? " soon" : ""}`, text: a.status }),
  h("span", { class: "tk-meta" }, h("span", { text: a.category || "no category" }),
    a.confidence !== undefined ? h("span", { text: `match ${Math.round(a.confidence * 100)}%` }) : null,
    a.snippet ? h("span", { text: a.snippet }) : null)))
    : h("p", { class: "muted tk-pad", text: "No articles." }));
}

/** The rendered body as text paragraphs (the API's HTML is parsed, never inserted). */
function preview(bodyHtml) {
  const doc = new DOMParser().parseFromString(bodyHtml || "", "text/html");
  const blocks = [...doc.body.querySelectorAll("p, li, h1, h2, h3, pre, td")]
    .filter((b) => !(b.closest("li") && b.tagName !== "LI"))
    .map((b) => h("p", { text: (b.tagName === "LI" ? "• " : "") + b.textContent.trim() }));
  return h("div", { class: "kb-preview", "aria-label": "Preview" }, blocks);
}

function renderDetail() {
  const pane = root.querySelector(".tk-detail");
  if (!pane) return;
  const a = state.article;
  if (!a) {
    mount(pane, h("p", { class: "muted", text: "Pick an article, search, or create one." }));
    return;
  }
  const select_ = (name, values, current) => h("select", { class: "select", name },
    values.map((v) => h("option", { value: v, selected: v === current, text: v })));
  const hint = h("p", { class: "kb-phrasings-hint", "aria-live": "polite" });
  phrasingsHint(hint, (a.phrasings || []).join("\n"));
  const form = h("form", { class: "kb-editor", on: { submit: (event) => { event.preventDefault(); save(form); } } },
    state.banner ? h("div", { class: "tk-banner", role: "status", text: state.banner }) : null,
    a.version ? h("p", { class: "muted", text: `${a.id} · version ${a.version} · saved ${when(a.updated_at)}` })
      : h("label", {}, "Id (optional: letters, digits, . _ -)", h("input", { class: "input", name: "id", value: "" })),
    h("label", {}, "Title", h("input", { class: "input", name: "title", value: a.title, required: true, maxlength: "300" })),
    h("div", { class: "kb-row3" },
      h("label", {}, "Locale", select_("locale", ["en", "zh"], a.locale)),
      h("label", {}, "Category", h("input", { class: "input", name: "category", value: a.category, maxlength: "60" })),
      h("label", {}, "Status", select_("status", ["draft", "published"], a.status))),
    h("label", {}, "Other ways visitors ask it (one per line)",
      h("textarea", { class: "input", name: "phrasings", value: (a.phrasings || []).join("\n"),
        on: { input: (event) => phrasingsHint(hint, event.target.value) } })),
    hint,
    h("label", {}, "Questions on this subject it does not answer (one per line): the bot hands these over",
      h("textarea", { class: "input", name: "not_answered", value: (a.not_answered || []).join("\n") })),
    h("label", {}, "Answer (Markdown)", h("textarea", { class: "input", name: "body", value: a.body })),
    h("div", { class: "tk-actions" },
      h("button", { class: "btn btn-primary", type: "submit", text: a.version ? "Save new version" : "Create" }),
      a.version ? h("button", { class: "btn btn-ghost", type: "button", text: "Delete", on: { click: () => remove(a.id) } }) : null));
  mount(pane, form,
    a.body_html ? [h("h3", { text: "Preview" }), preview(a.body_html)] : null,
    state.history.length ? [h("h3", { text: "History" }), historyList()] : null);
}

function historyList() {
  return h("ul", { class: "kb-history" }, state.history.map((v) => h("li", {
    text: `v${v.version} · ${v.status} · ${when(v.edited_at)} · ${nameOf(state.agents, v.edited_by)} · ${v.title}` })));
}

// How many phrasings an article has, and what that means for the bot: with a handful it hands
// visitors' own wording over far more often (docs/architecture.md, "Sixteen phrasings per article"
// and "Twenty-eight phrasings").
const PHRASINGS_MAX = 30;
const PHRASINGS_GOOD = 20;

function phrasingsHint(hint, text) {
  const n = text.split("\n").filter((line) => line.trim()).length;
  const count = `${n} phrasing${n === 1 ? "" : "s"}`;
  hint.classList.toggle("kb-error", n > PHRASINGS_MAX);
  hint.classList.toggle("kb-warn", n < PHRASINGS_GOOD);
  hint.textContent = n > PHRASINGS_MAX ? `${count}: ${PHRASINGS_MAX} at most — remove ${n - PHRASINGS_MAX} before saving.`
    : n < PHRASINGS_GOOD ? `${count}. With 20 to 30 the bot understands visitors' own words far better: `
      + "situations (\"my parcel arrived broken\"), short forms (\"refund status\"), details the answer gives."
    : `${count}.`;
}

const lines = (text) => String(text || "").split("\n").map((p) => p.trim()).filter(Boolean);

async function save(form) {
  const data = new FormData(form);
  const body = {
    title: data.get("title"), body: data.get("body"), locale: data.get("locale"), category: data.get("category"),
    status: data.get("status"),
    phrasings: lines(data.get("phrasings")),
    not_answered: lines(data.get("not_answered")),
  };
  try {
    if (state.article.version) {
      state.article = await api.request("PUT", `/v1/kb/articles/${encodeURIComponent(state.article.id)}`,
        { ...body, version: state.article.version });
    } else {
      const id = String(data.get("id") || "").trim();
      state.article = await api.request("POST", "/v1/kb/articles", id ? { ...body, id } : body);
    }
    state.banner = "Saved.";
    await select(state.article.id);
    state.banner = "Saved.";
    renderDetail();
    await loadList();
  } catch (error) {
    if (error instanceof ApiError && error.code === "article_changed") {
      await select(state.article.id);
      state.banner = "Someone saved this article meanwhile: here is their version. Your edit was not saved.";
    } else {
      state.banner = error.message;
    }
    renderDetail();
  }
}

async function remove(id) {
  if (!window.confirm("Delete this article?")) return;
  await api.request("DELETE", `/v1/kb/articles/${encodeURIComponent(id)}`);
  state.article = null;
  state.selected = null;
  renderDetail();
  await loadList();
}

async function exportJson() {
  const body = await api.request("GET", "/v1/kb/export?format=json");
  const blob = new Blob([JSON.stringify(body, null, 2)], { type: "application/json" });
  const link = h("a", { href: URL.createObjectURL(blob), download: "knowledge-base.json" });
  link.click();
  URL.revokeObjectURL(link.href);
}

async function exportMarkdown() {
  const body = await api.request("GET", "/v1/kb/export?format=markdown");
  const link = h("a", { href: URL.createObjectURL(zipFiles(body.files)), download: "knowledge-base-markdown.zip" });
  link.click();
  URL.revokeObjectURL(link.href);
}

// ------------------------------------------------------------------ import

// The REST API takes at most 64 kB and 500 articles a request: a bigger file goes in parts.
const IMPORT_PART_BYTES = 56 * 1024;
const IMPORT_PART_ITEMS = 500;

/** What the chosen files hold: one JSON file (an export, or a list of articles) or any
 * number of Markdown files (one article each). Throws an Error that says what is wrong. */
async function readImport(files) {
  const json = files.filter((f) => /\.json$/i.test(f.name));
  const markdown = files.filter((f) => /\.(md|markdown)$/i.test(f.name));
  const other = files.find((f) => !json.includes(f) && !markdown.includes(f));
  if (other) throw new Error(`${other.name}: only .json and .md files can be imported.`);
  if (json.length > 1 || (json.length && markdown.length)) {
    throw new Error("Choose one JSON file, or any number of Markdown files.");
  }
  if (json.length) {
    let data;
    try {
      data = JSON.parse(await json[0].text());
    } catch (error) {
      throw new Error(`${json[0].name} is not valid JSON (${error.message}).`);
    }
    const articles = Array.isArray(data) ? data : data?.articles;
    if (!Array.isArray(articles)) throw new Error(`${json[0].name} has no "articles" list (the format "Export JSON" writes).`);
    return { format: "json", key: "articles", items: articles };
  }
  return { format: "markdown", key: "files",
    items: await Promise.all(markdown.map(async (f) => ({ name: f.name, content: await f.text() }))) };
}

/** The items in parts that each fit one request. */
function importParts(items) {
  const parts = [[]];
  const encoder = new TextEncoder();
  let size = 0;
  for (const item of items) {
    const bytes = encoder.encode(JSON.stringify(item)).length + 1;
    const part = parts.at(-1);
    if (part.length && (size + bytes > IMPORT_PART_BYTES || part.length === IMPORT_PART_ITEMS)) {
      parts.push([]);
      size = 0;
    }
    parts.at(-1).push(item);
    size += bytes;
  }
  return parts;
}

/** What the server refused in a part, with the file's article numbers (`offset` before it). */
function importProblem(error, part, offset) {
  const problems = error.details?.problems || [];
  const where = `Articles ${offset + 1}–${offset + part.length} of the file: `;
  if (!problems.length) return where + error.message;
  const said = problems.slice(0, 3).map(({ field, problem }) => {
    const found = /^(?:articles|files)\.(\d+)\.?(.*)$/.exec(field);
    if (!found) return `${field}: ${problem}`;
    const item = part[Number(found[1])] || {};
    const name = item.id || item.name || "";
    return `article ${offset + Number(found[1]) + 1}${name ? ` (${name})` : ""}${found[2] ? `, ${found[2]}` : ""}: ${problem}`;
  });
  return said.join("; ") + (problems.length > 3 ? `; and ${problems.length - 3} more` : "");
}

/** Check every part (nothing written), then import them one by one, saying how far it got. */
async function importFiles(files) {
  const pane = root.querySelector(".tk-detail");
  const say = (text, error = false) => mount(pane,
    h("p", { class: error ? "kb-error" : "kb-notice", role: error ? "alert" : "status", text }));
  let found;
  try {
    found = await readImport(files);
  } catch (error) {
    say(`Nothing was imported. ${error.message}`, true);
    return;
  }
  const { format, key, items } = found;
  if (!items.length) {
    say("Nothing to import: the file has no articles.", true);
    return;
  }
  const parts = importParts(items);
  const label = (i) => (parts.length > 1 ? ` (part ${i + 1} of ${parts.length})` : "");
  const count = `${items.length} article${items.length === 1 ? "" : "s"}`;
  for (const [i, part] of parts.entries()) {
    say(`Checking ${count}${label(i)}…`);
    try {
      await api.request("POST", "/v1/kb/import", { format, [key]: part, dry_run: true });
    } catch (error) {
      say(`Nothing was imported. ${importProblem(error, part, items.indexOf(part[0]))}`, true);
      return;
    }
  }
  let created = 0;
  let updated = 0;
  for (const [i, part] of parts.entries()) {
    say(`Importing ${count}${label(i)}…`);
    try {
      const result = await api.request("POST", "/v1/kb/import", { format, [key]: part });
      created += result.created;
      updated += result.updated;
    } catch (error) {
      say(`The import stopped after ${created + updated} of ${count} (${created} new, ${updated} updated): ${error.message}`, true);
      await loadList();
      return;
    }
  }
  say(`Imported ${count}: ${created} new, ${updated} updated.`);
  await loadList();
}

function importInput() {
  const input = h("input", { type: "file", accept: ".json,.md,.markdown", multiple: true, hidden: true,
    "aria-label": "Files to import", on: { change: () => {
      const files = [...input.files];
      input.value = "";  // the same file can be chosen again
      if (files.length) importFiles(files);
    } } });
  return input;
}

// ------------------------------------------------------------------ unanswered questions

async function showUnanswered(notice = "") {
  const body = await api.request("GET", "/v1/kb/unanswered");
  const pane = root.querySelector(".tk-detail");
  const counters = Object.entries(body.counters).sort();
  mount(pane,
    h("h2", { text: "Questions the bot could not answer" }),
    notice ? h("p", { class: "kb-notice", role: "status", text: notice }) : null,
    h("div", { class: "kb-counters" }, counters.map(([k, v]) => h("span", { class: "tk-pill", text: `${k.replaceAll("_", " ")}: ${v}` }))),
    body.groups.length ? body.groups.map((g) => unansweredGroup(g))
      : h("p", { class: "muted", text: "None yet." }));
}

/** One group: its questions, a new article for it, or teach the bot that an article answers it. */
function unansweredGroup(g) {
  const teachPane = h("div", { class: "kb-teach" });
  return h("div", { class: "kb-group" },
    h("strong", { text: `${g.count} × ${g.representative}` }),
    // What the bot's background names it (a question web shops are commonly asked), if any.
    g.topic ? h("p", { class: "muted kb-topic", text: `Shops are often asked: “${g.topic}”` }) : null,
    h("ul", {}, g.questions.slice(0, 5).map((q) => h("li", {
      text: `${q.text} (${when(q.created_at)}${q.reason === "not_helpful" ? "; the bot's answer did not help" : ""})` }))),
    h("button", { class: "btn btn-ghost", type: "button", text: "Write an article for this", on: { click: () => {
      state.article = { id: "", title: g.topic || g.representative, body: "", locale: g.locale === "zh" ? "zh" : "en", category: "",
        phrasings: g.questions.map((q) => q.text).slice(0, 10), status: "draft", version: 0 };
      state.history = [];
      state.selected = null;
      renderDetail();
    } } }),
    h("button", { class: "btn btn-ghost", type: "button", text: "An article answers this…",
      on: { click: () => offerArticles(g, teachPane, true) } }),
    h("button", { class: "btn btn-ghost", type: "button", text: "An article does not answer this…",
      on: { click: () => offerArticles(g, teachPane, false) } }),
    teachPane);
}

/** The articles to offer for a group: for "does not answer", first those the bot answered its
 * questions with (the visitor said they did not help); then the closest in the group's language. */
async function offerArticles(g, pane, answers) {
  mount(pane, h("p", { class: "muted", text: "Looking for the closest articles…" }));
  try {
    const locale = g.locale === "zh" ? "zh" : "en";
    const given = answers ? [] : [...new Set(g.questions.map((q) => q.article_id).filter(Boolean))];
    const offered = [];
    for (const id of given) {
      try {
        offered.push(await api.request("GET", `/v1/kb/articles/${encodeURIComponent(id)}`));
      } catch (error) {
        if (error.status !== 404) throw error;  // deleted since: the search below still offers others
      }
    }
    const found = await api.request("GET", `/v1/kb/search?limit=5&locale=${locale}&q=${encodeURIComponent(g.representative.slice(0, 500))}`);
    for (const a of found.results) {
      if (a.locale === locale && !offered.some((o) => o.id === a.id)) offered.push(a);
    }
    const hits = offered.slice(0, 3);
    const what = answers ? "Add these questions to an article's alternate phrasings, so the bot answers them:"
      : "List these questions as ones an article does not answer, so the bot hands them over instead of answering with it:";
    mount(pane,
      h("p", { class: "muted", text: hits.length ? what : "No article in this language comes close: write one instead." }),
      hits.map((a) => h("button", { class: "tk-chip", type: "button",
        text: !answers && given.includes(a.id) ? `${a.title} (the answer given)` : a.title,
        on: { click: (event) => teach(g, a, event.currentTarget, answers) } })));
  } catch (error) {
    mount(pane, h("p", { class: "kb-error", role: "alert", text: error.message }));
  }
}

async function teach(g, hit, button, answers) {
  button.disabled = true;
  try {
    const article = await api.request("GET", `/v1/kb/articles/${encodeURIComponent(hit.id)}`);
    const taught = await api.request("POST", `/v1/kb/articles/${encodeURIComponent(hit.id)}/teach`,
      { question_ids: g.questions.map((q) => q.question_id), version: article.version, answers });
    const same = taught.version === article.version;
    await showUnanswered(answers
      ? `“${taught.title}” ${same ? "already had these wordings" : `now has them (version ${taught.version})`}: the bot answers them from it.`
      : `“${taught.title}” ${same ? "already listed these" : `now lists them as questions it does not answer (version ${taught.version})`}: the bot hands them over.`);
  } catch (error) {
    button.disabled = false;
    const pane = button.closest(".kb-teach");
    if (pane) pane.append(h("p", { class: "kb-error", role: "alert", text: error.message }));
  }
}

// ------------------------------------------------------------------ start

function start() {
  session = readSession();
  if (!session) {
    signedOut();
    return;
  }
  let timer = 0;
  const files = importInput();
  mount(root,
    h("header", { class: "tk-header" },
      h("h1", { text: "Knowledge base" }),
      h("input", { class: "input kb-search", type: "search", placeholder: "Search articles…", "aria-label": "Search articles",
        on: { input: (event) => { clearTimeout(timer); state.query = event.target.value; timer = setTimeout(() => loadList(), 250); } } }),
      h("button", { class: "btn btn-primary", type: "button", text: "New article", on: { click: () => select(null) } }),
      h("button", { class: "tk-chip", type: "button", text: "Unanswered questions", on: { click: () => showUnanswered() } }),
      h("button", { class: "tk-chip", type: "button", text: "Bot settings",
        on: { click: () => showBotSettings(api, root.querySelector(".tk-detail")) } }),
      h("button", { class: "tk-chip", type: "button", text: "Import…", title: "One JSON file (as Export JSON writes) or Markdown files",
        on: { click: () => files.click() } }),
      files,
      h("button", { class: "tk-chip", type: "button", text: "Export JSON", on: { click: () => exportJson() } }),
      h("button", { class: "tk-chip", type: "button", text: "Export Markdown", title: "A .zip with one Markdown file an article",
        on: { click: () => exportMarkdown() } }),
      h("span", { class: "tk-spacer" }),
      h("a", { class: "btn btn-ghost", href: "./", text: "Chats" })),
    h("div", { class: "tk-body" },
      h("div", { class: "tk-list", role: "listbox", "aria-label": "Articles" }),
      h("section", { class: "tk-detail", "aria-live": "polite" })));
  renderDetail();
  loadList().catch((error) => { state.banner = error.message; renderDetail(); });
  // Ids until the names come; then only the history list is redrawn (the pane may hold an
  // article being edited, or the bot's settings: neither is touched).
  agentNames(api).then((names) => {
    state.agents = names;
    root.querySelector(".kb-history")?.replaceWith(historyList());
  }).catch(() => {});
}

start();
