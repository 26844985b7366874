// The bot's settings in the knowledge-base workbench (kb.html → "Bot settings"): on or off,
// its three thresholds (with what they mean and the defaults one click away), greetings,
// site integrations (webhooks), and "Try a question": what the bot would do with a visitor's
// question at the thresholds in the form, before they are saved (POST /v1/kb/bot/try, which
// writes nothing). Supervisors and admins save; other agents see the settings and try questions.
// A save carries the version it started from: if someone saved meanwhile, nothing is
// overwritten and the form says so. A refused save keeps what was typed.
// Everything from the server is rendered as text (dom.js's h()).
import { h, mount } from "./dom.js";

// Thresholds as percentages to one decimal: a value set over REST (0.385) survives a save of the form.
const pct = (x) => Math.round(x * 1000) / 10;
const ACTIONS = {
  answer: "Answers with",
  clarify: "Asks which of these the visitor means",
  handoff: "Hands over to a person",
  greet: "Greets the visitor back (small talk, not a question)",
  thanks: "Says \"you're welcome\" (closing words, not a question)",
  integration: "Asks the site integration",
  nothing_to_answer_from: "Stays out of the way: no article is published yet",
};
const REASONS = {
  asked_for_human: "the visitor asks for a person",
  complaint: "a complaint (priority raised to urgent)",
  angry: "the visitor is upset (priority raised to urgent)",
  no_answer: "no article comes close enough",
};

/** Show the bot's settings form in `pane`. */
export async function showBotSettings(api, pane, notice = "") {
  mount(pane, h("p", { class: "muted", text: "Loading the bot's settings…" }));
  let settings;
  let me;
  try {
    [settings, me] = await Promise.all([api.request("GET", "/v1/kb/bot"), api.request("GET", "/v1/agents/me")]);
  } catch (error) {
    mount(pane, h("p", { class: "kb-error", role: "alert", text: error.message }));
    return;
  }
  const canSave = me.role === "supervisor" || me.role === "admin";
  const d = settings.defaults;
  const number = (name, value, label) => h("label", {}, label,
    h("span", { class: "kb-pct" }, h("input", { class: "input", type: "number", name, min: "0", max: "100", step: "0.1",
      value: String(pct(value)), required: true, disabled: !canSave, on: { input: () => explain() } }), "%"));
  const status = h("div", { role: "status", "aria-live": "polite" },
    notice ? h("p", { class: "kb-notice", text: notice }) : null);
  const meaning = h("p", { class: "kb-meaning", "aria-live": "polite" });
  const hooks = h("div", { class: "kb-hooks" });
  const form = h("form", { class: "kb-editor kb-bot", on: { submit: (event) => { event.preventDefault(); save(); } } },
    h("h2", { text: "The bot" }),
    status,
    h("p", { class: "muted", text: settings.version
      ? `Version ${settings.version}`  // settings written without a time (not through the API) show none
      + (settings.updated_at ? ` · saved ${new Date(settings.updated_at).toLocaleString()}` : "")
      + (settings.updated_by ? ` by ${settings.updated_by}` : "")
      : "Never changed: the defaults apply." }),
    canSave ? null : h("p", { class: "kb-notice", text: "Only supervisors and admins change these settings. "
      + "You can try questions below." }),
    h("label", { class: "kb-check" }, h("input", { type: "checkbox", name: "enabled", checked: settings.enabled,
      disabled: !canSave }), "The bot answers visitors until an agent joins the conversation"),
    h("fieldset", { class: "kb-fields" }, h("legend", { text: "When the bot answers" }),
      h("div", { class: "kb-row3" },
        number("answer_threshold", settings.answer_threshold, "Answer outright from a match of"),
        number("clarify_threshold", settings.clarify_threshold, "Offer articles to choose from down to"),
        number("margin", settings.margin, "The best must lead the next by")),
      meaning,
      h("button", { class: "btn btn-ghost", type: "button", disabled: !canSave,
        text: `Restore defaults (${pct(d.answer_threshold)} % · ${pct(d.clarify_threshold)} % · ${pct(d.margin)} %)`,
        on: { click: () => {
          form.elements.answer_threshold.value = pct(d.answer_threshold);
          form.elements.clarify_threshold.value = pct(d.clarify_threshold);
          form.elements.margin.value = pct(d.margin);
          explain();
        } } })),
    h("label", {}, "Greeting in English (empty: the default)",
      h("textarea", { class: "input", name: "greeting_en", value: settings.greeting_en, placeholder: d.greeting_en,
        maxlength: "500", disabled: !canSave })),
    h("label", {}, "Greeting in Chinese (empty: the default)",
      h("textarea", { class: "input", name: "greeting_zh", value: settings.greeting_zh, placeholder: d.greeting_zh,
        maxlength: "500", disabled: !canSave })),
    h("fieldset", { class: "kb-fields" }, h("legend", { text: "Site integrations" }),
      h("p", { class: "muted", text: "When a visitor's message matches a pattern, the bot posts it to your URL "
        + "(group 1 of the pattern as value, signed with the secret) and answers with the reply; if the call fails, "
        + "it hands over to a person." }),
      hooks,
      h("button", { class: "btn btn-ghost", type: "button", text: "Add an integration", disabled: !canSave,
        on: { click: () => hooks.append(hookRow({ name: "", pattern: "", url: "", has_secret: false }, canSave)) } })),
    h("div", { class: "tk-actions" },
      canSave ? h("button", { class: "btn btn-primary", type: "submit", name: "save", text: "Save settings" }) : null));
  settings.webhooks.forEach((w) => hooks.append(hookRow(w, canSave)));

  function thresholds() {
    const value = (name) => Number(form.elements[name].value) / 100;
    return { answer_threshold: value("answer_threshold"), clarify_threshold: value("clarify_threshold"),
      margin: value("margin") };
  }

  /** What the numbers mean, and whether they can be saved. */
  function explain() {
    const t = thresholds();
    const bad = [t.answer_threshold, t.clarify_threshold, t.margin].some((x) => !Number.isFinite(x) || x < 0 || x > 1);
    const wrongWay = !bad && t.clarify_threshold > t.answer_threshold;
    meaning.classList.toggle("kb-error", bad || wrongWay);
    meaning.textContent = bad ? "Each threshold is a percentage from 0 to 100."
      : wrongWay ? "The choose-from threshold must not be above the answer threshold."
        : `Matches of ${pct(t.answer_threshold)} % and more are answered (if the best leads the next by `
        + `${pct(t.margin)} %); from ${pct(t.clarify_threshold)} % the bot asks which article is meant; below `
        + `${pct(t.clarify_threshold)} % it hands over to a person, offering the closest articles to read while waiting.`;
    if (form.elements.save) form.elements.save.disabled = bad || wrongWay;
    return !(bad || wrongWay);
  }

  async function save() {
    if (!canSave || !explain()) return;
    const webhooks = [...hooks.querySelectorAll(".kb-hook")].map((row) => {
      const field = (name) => row.querySelector(`[name="${name}"]`);
      const secret = field("secret").value;
      const hook = { name: field("name").value.trim(), pattern: field("pattern").value, url: field("url").value.trim() };
      // Empty keeps the stored secret (never shown); "Remove the secret" clears it.
      if (secret) hook.secret = secret;
      else if (field("drop_secret")?.checked) hook.secret = "";
      return hook;
    });
    const body = { ...thresholds(), enabled: form.elements.enabled.checked, greeting_en: form.elements.greeting_en.value,
      greeting_zh: form.elements.greeting_zh.value, webhooks, version: settings.version };
    form.elements.save.disabled = true;
    mount(status, h("p", { class: "muted", text: "Saving…" }));
    try {
      await api.request("PUT", "/v1/kb/bot", body);
      await showBotSettings(api, pane, "Saved: the bot uses these within 10 seconds.");
    } catch (error) {
      form.elements.save.disabled = false;
      if (error.code === "settings_changed") {
        await showBotSettings(api, pane, "Someone saved the bot's settings meanwhile: here are theirs. "
          + "Your changes were not saved.");
        return;
      }
      mount(status, h("p", { class: "kb-error", role: "alert", text: `Not saved: ${fieldProblem(error)}` }));
    }
  }

  explain();
  mount(pane, form, tryBox(api, thresholds));
}

/** One webhook's fields; the secret is never shown, only whether one is stored. */
function hookRow(w, canSave) {
  const row = h("div", { class: "kb-hook" },
    h("label", {}, "Name", h("input", { class: "input", name: "name", value: w.name, required: true,
      pattern: "[a-z0-9_\\-]{1,32}", title: "lower-case letters, digits, _ and -", disabled: !canSave })),
    h("label", {}, "Pattern (regular expression)", h("input", { class: "input", name: "pattern", value: w.pattern,
      required: true, maxlength: "200", disabled: !canSave })),
    h("label", {}, "URL", h("input", { class: "input", name: "url", value: w.url, required: true, maxlength: "500",
      placeholder: "https://", disabled: !canSave })),
    h("label", {}, "Secret", h("input", { class: "input", name: "secret", type: "password", autocomplete: "off",
      maxlength: "200", placeholder: w.has_secret ? "stored: leave empty to keep it" : "none", disabled: !canSave })),
    w.has_secret ? h("label", { class: "kb-check" }, h("input", { type: "checkbox", name: "drop_secret",
      disabled: !canSave }), "Remove the secret") : null,
    h("button", { class: "btn btn-ghost", type: "button", text: "Remove", disabled: !canSave,
      on: { click: () => row.remove() } }));
  return row;
}

/** The server's complaint in words, naming the field when it named one. */
function fieldProblem(error) {
  const problems = error.details?.problems || [];
  if (!problems.length) return error.message;
  return problems.slice(0, 3).map(({ field, problem }) => {
    const hook = /^webhooks\.(\d+)\.?(.*)$/.exec(field || "");
    return hook ? `integration ${Number(hook[1]) + 1}${hook[2] ? `, ${hook[2]}` : ""}: ${problem}`
      : `${(field || "").replaceAll("_", " ")}: ${problem}`;
  }).join("; ");
}

/** "Try a question": what the bot would do with it at the form's (unsaved) thresholds. */
function tryBox(api, thresholds) {
  const result = h("div", { class: "kb-try-result", "aria-live": "polite" });
  const input = h("input", { class: "input", name: "try", maxlength: "2000", "aria-label": "A visitor's question",
    placeholder: "e.g. how long does a refund take? / 退款多久到账" });
  const run = async () => {
    if (!input.value.trim()) return;
    mount(result, h("p", { class: "muted", text: "Asking…" }));
    try {
      const t = await api.request("POST", "/v1/kb/bot/try", { text: input.value, ...thresholds() });
      mount(result, describe(t));
    } catch (error) {
      mount(result, h("p", { class: "kb-error", role: "alert", text: fieldProblem(error) }));
    }
  };
  return h("section", { class: "kb-try" },
    h("h3", { text: "Try a question" }),
    h("p", { class: "muted", text: "What the bot would do with a visitor's first question, at the thresholds above "
      + "(saved or not). Nothing is sent to anyone or recorded." }),
    h("form", { class: "kb-try-form", on: { submit: (event) => { event.preventDefault(); run(); } } },
      input, h("button", { class: "btn btn-primary", type: "submit", text: "Try" })),
    result);
}

function describe(t) {
  const what = ACTIONS[t.action] || t.action;
  const head = t.action === "handoff" ? `${what}: ${REASONS[t.reason] || t.reason}.`
    : t.action === "integration" ? `${what} “${t.webhook}”.` : `${what}${t.action === "answer" ? ":" : "."}`;
  const list = t.articles.length ? h("ul", { class: "kb-try-articles" }, t.articles.map((a) => h("li", {
    text: `${a.title} (${a.locale}, match ${pct(a.confidence)} %)` }))) : null;
  return [
    h("p", { class: "kb-try-action", dataset: { action: t.action }, text: head }),
    t.action === "handoff" && t.articles.length ? h("p", { class: "muted", text: "Offered to read while waiting:" }) : null,
    list,
    t.best_confidence !== null && t.best_confidence !== undefined
      ? h("p", { class: "muted", text: `Closest match ${pct(t.best_confidence)} % · answers from `
        + `${pct(t.answer_threshold)} %, asks from ${pct(t.clarify_threshold)} % · language ${t.locale}` })
      : null,
    // The optional language model's word (stack parameter LlmModelId) overrules the thresholds.
    t.model_check ? h("p", { class: "muted kb-try-model", text: t.model_check === "answers"
      ? "Checked by the language model: the article answers it." : "Checked by the language model: the article does not answer it." })
      : null,
  ];
}
