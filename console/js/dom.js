// Safe DOM building: every string becomes a text node; nothing is ever parsed as HTML.

/**
 * Create an element. `attrs` keys: `class`, `text`, `dataset`, `on` ({event: fn}),
 * `style` (object), boolean/string attributes; anything else goes through setAttribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === "style") Object.assign(el.style, value);
    else if (key === "value") el.value = value;
    else if (key === "checked" || key === "disabled" || key === "hidden" || key === "selected") el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace all children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An http(s) URL string, or null for anything else (javascript:, data:, relative junk). */
export function safeUrl(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value, window.location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** An external link that cannot reach back into the console. */
export function link(href, label) {
  const url = safeUrl(href);
  if (!url) return document.createTextNode(label ?? String(href ?? ""));
  return h("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: label ?? url });
}

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?)\]}>'"。，；：！？）】》]+$/;

/** Text with http(s) URLs turned into safe links; everything else stays text. */
export function linkify(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const match of String(text).matchAll(URL_RE)) {
    let url = match[0];
    const trail = url.match(TRAILING);
    if (trail) url = url.slice(0, -trail[0].length);
    if (!url) continue;
    if (match.index > last) frag.append(document.createTextNode(text.slice(last, match.index)));
    frag.append(link(url, url));
    last = match.index + url.length;
  }
  if (last < text.length) frag.append(document.createTextNode(text.slice(last)));
  return frag;
}

/** Inline SVG icon from a fixed, trusted path table (never from data). */
const ICONS = {
  chat: "M4 5h16v11H9l-5 4V5Zm4 5h.01M12 10h.01M16 10h.01",
  send: "M3 11.5 21 3l-8.5 18-2.2-7.3L3 11.5Z",
  clip: "M16.5 6.5 8.6 14.4a2 2 0 0 0 2.8 2.8l8-8a4 4 0 0 0-5.6-5.6l-8 8a6 6 0 0 0 8.5 8.5l6.4-6.4",
  note: "M5 4h11l3 3v13H5V4Zm3 5h8M8 13h8M8 17h5",
  check: "M4 12.5 9 17.5 20 6.5",
  back: "M15 5 8 12l7 7",
  user: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8Zm-7 8a7 7 0 0 1 14 0",
  bell: "M6 16V11a6 6 0 1 1 12 0v5l2 2H4l2-2Zm4 4h4",
  sound: "M4 9h4l5-4v14l-5-4H4V9Zm12 0a4 4 0 0 1 0 6",
  mute: "M4 9h4l5-4v14l-5-4H4V9Zm12 1 5 5m0-5-5 5",
  bolt: "M13 2 4 14h7l-1 8 9-12h-7l1-8Z",
  close: "M6 6l12 12M18 6 6 18",
  reopen: "M4 12a8 8 0 1 0 3-6.2M4 4v5h5",
  logout: "M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10",
  file: "M7 3h7l5 5v13H7V3Zm7 0v5h5",
  search: "M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14Zm5-2 4 4",
};
export function icon(name, size = 18) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name] || "");
  svg.append(path);
  return svg;
}
