// Ticket escalations in the chat console (index.html), where agents spend their day: a
// "Tickets" link in the top bar with a badge counting the escalations since the page was
// opened, a toast for each, and — for the agents the escalation names (the assignee, the
// group's supervisors) — a sound and a desktop notification. The tickets page
// (tickets.html) shows the same live. Kept out of app.js: a MutationObserver puts the link
// back whenever the top bar is rendered again.
import { h } from "./dom.js";

export const STEP_TEXT = { notify_assignee: "assignee notified", raise_priority: "priority raised, supervisors notified",
  reassign: "handed to the escalation group" };

/**
 * @param {HTMLElement} header  the console's top bar (re-rendered by app.js)
 * @param {object} handlers     app.js's server-frame handlers, by action
 * @param {{me: () => string|undefined, toast: (text: string) => void,
 *          notify: (title: string, body: string, tag: string, onClick?: () => void) => void,
 *          beep: () => void}} ui
 */
export function addTicketAlerts(header, handlers, ui) {
  let escalations = 0;

  function place() {
    let link = header.querySelector("[data-tickets]");
    if (!link) {
      if (!header.childElementCount) return;
      link = h("a", { class: "btn btn-ghost tickets-link", href: "tickets.html", dataset: { tickets: "" },
        title: "Tickets (escalations since you opened this page)" },
      h("span", { text: "Tickets" }), h("span", { class: "badge", hidden: true, text: "0" }));
      const spacer = header.querySelector(".spacer");
      if (spacer) spacer.after(link);
      else header.append(link);
    }
    const badge = link.querySelector(".badge");
    badge.textContent = String(escalations);
    badge.hidden = !escalations;
  }

  handlers["ticket.escalated"] = (frame) => {
    escalations += 1;
    place();
    const text = `Ticket #${frame.ticket.number} escalated (step ${frame.step}): ${STEP_TEXT[frame.escalation] || frame.escalation}`;
    ui.toast(text);
    const me = ui.me();
    if (me && frame.notify?.includes(me)) {
      ui.beep();
      ui.notify("Kefu: ticket escalated", `${text} — ${frame.ticket.subject}`, `ticket-${frame.ticket.number}`,
        () => { window.location.href = "tickets.html"; });
    }
  };

  new MutationObserver(place).observe(header, { childList: true });
  place();
}
