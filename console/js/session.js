// The console's saved sign-in, as the pages beside the inbox (knowledge base, tickets,
// supervisor view) read it: they have no login form of their own.
import { h, mount } from "./dom.js";

export const SESSION_KEY = "kefu.console.session";

/** The session the console saved, or null if there is none or it has expired. */
export function readSession() {
  try {
    const saved = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
    return saved?.token && (!saved.expires_at || Date.now() < saved.expires_at) ? saved : null;
  } catch {
    return null;
  }
}

/** Replace the page with a pointer back to the console's sign-in. */
export function showSignedOut(root, padClass, what) {
  mount(root, h("div", { class: padClass },
    h("p", { text: `Sign in to the console first, then come back to ${what}.` }),
    h("a", { class: "btn btn-primary", href: "./", text: "Open the console" })));
}
