// "Ticket" in the conversation header: one click turns the open conversation into a ticket
// with its customer and transcript (POST /v1/conversations/{id}/ticket), or says which
// ticket it already is. The ticket is then worked at tickets.html. Kept out of thread.js:
// a MutationObserver puts the button back whenever the header is rendered again.
import { h } from "./dom.js";

/**
 * @param {HTMLElement} threadEl   the thread view's element (its header is `.thread-head`)
 * @param {import("./api.js").Api} api
 * @param {() => string|null} selectedId  the conversation shown
 */
export function addTicketButton(threadEl, api, selectedId) {
  const head = threadEl.querySelector(".thread-head");
  if (!head) return;
  const status = h("span", { class: "muted small ticket-status", role: "status" });
  const known = new Map(); // conversation id → [number, label]: kept when the header renders again

  async function makeTicket(button) {
    const id = selectedId();
    if (!id) return;
    button.disabled = true;
    try {
      const made = await api.request("POST", `/v1/conversations/${encodeURIComponent(id)}/ticket`,
        { type: "general", priority: "normal" });
      show(id, made.ticket.number, "Ticket");
    } catch (error) {
      if (error.code === "ticket_exists") show(id, error.details?.number, "Already ticket");
      else status.textContent = error.message;
    } finally {
      button.disabled = false;
    }
  }

  function show(id, number, label) {
    known.set(id, [number, label]);
    if (id === selectedId()) status.replaceChildren(`${label} `, h("a", { href: "tickets.html", text: `#${number}` }));
  }

  function place() {
    if (!selectedId() || head.querySelector("[data-action=ticket]")) return;
    const button = h("button", { type: "button", class: "btn btn-secondary", dataset: { action: "ticket" },
      title: "Make this conversation a ticket (customer and transcript included)", text: "Ticket" });
    button.addEventListener("click", () => makeTicket(button));
    const details = head.querySelector(".details");
    if (details) details.before(status, button);
    else head.append(status, button);
    status.textContent = "";
    const ticket = known.get(selectedId());
    if (ticket) show(selectedId(), ...ticket);
  }

  new MutationObserver(place).observe(head, { childList: true });
  place();
}
