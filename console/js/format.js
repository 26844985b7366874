// Small formatters: relative times, sizes, visitor labels.
import { t } from "./i18n.js";

/** "now", "3 min", "2 h", "4 d" for a duration in ms. */
export function duration(ms) {
  const min = Math.floor(Math.max(0, ms) / 60000);
  if (min < 1) return t("time.now");
  if (min < 60) return t("time.min", { n: min });
  const hours = Math.floor(min / 60);
  if (hours < 24) return t("time.hour", { n: hours });
  return t("time.day", { n: Math.floor(hours / 24) });
}

export function ago(timestamp, now = Date.now()) {
  const span = duration(now - timestamp);
  return span === t("time.now") ? span : t("time.ago", { t: span });
}

export function clock(timestamp) {
  const date = new Date(timestamp);
  const sameDay = new Date().toDateString() === date.toDateString();
  return sameDay
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function bytes(size) {
  if (!Number.isFinite(size)) return "";
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(size < 10240 ? 1 : 0)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

export function shortId(id) {
  return String(id || "").replace(/[^A-Za-z0-9]/g, "").slice(-4).toUpperCase();
}

/** The name an agent sees for a visitor: identified name, then email, then "Visitor 4F2A". */
export function visitorLabel(visitorId, profile) {
  return profile?.name || profile?.email || t("visitor.anon", { id: shortId(visitorId) });
}

/** Initials for an avatar (one CJK character or two Latin letters). */
export function initials(label) {
  const text = String(label || "?").trim();
  if (/^[\u3400-\u9fff]/.test(text)) return text[0];
  const parts = text.split(/\s+/).filter(Boolean);
  return ((parts[0]?.[0] || "?") + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}

/** A stable hue for a visitor's avatar. */
export function hue(id) {
  let n = 0;
  for (const ch of String(id)) n = (n * 31 + ch.charCodeAt(0)) % 360;
  return n;
}
